"""CORE on Apache Airflow: one DAG per active pipeline, thin adapters over core.plan.

Importing this package imports nothing: Airflow is loaded by the modules that need
it (``dagbuilder.dag_builder``, ``dagbuilder.task_orchestrator``, ``plugins``), and
the DAG file Airflow parses is ``dags/executor.py``. ``shape``, ``plans`` and
``jobs`` are plain Python, usable (and tested) without Airflow.
"""
