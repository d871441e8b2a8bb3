"""CORE's Airflow operators."""
