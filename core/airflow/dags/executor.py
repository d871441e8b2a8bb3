"""The DAG file: every active CORE pipeline as an Airflow DAG, in this module's globals.

Airflow parses this file (point its dags_folder at this directory). When a worker
parses it to run one task, only that task's DAG is built (Airflow's parsing
context names it). When the configuration database is unreachable, or a pipeline
cannot be built, the last good plans are used and the reason is logged.
"""

from __future__ import annotations

import logging

from airflow.sdk import get_parsing_context

from core.airflow.dagbuilder.dag_builder import DagBuilder

log = logging.getLogger("core.airflow.executor")


def expose_dags(namespace: dict[str, object]) -> DagBuilder:
    """Build the DAGs (only the parsing context's one when it names one) into a namespace.

    Args:
        namespace: the module globals Airflow collects DAGs from.

    Returns:
        The builder, with its DAGs and the problems it met.
    """
    builder = DagBuilder()
    builder.do_build_dags(only=get_parsing_context().dag_id)
    for name, problem in builder.problems.items():
        log.warning("CORE DAG file: %s: %s", name, problem)
    namespace.update(builder.dags)
    return builder


builder = expose_dags(globals())
