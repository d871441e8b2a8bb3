"""What the DAG's first and last tasks do, without Airflow: open and close a run.

``open_run`` creates the RunEvent (with the plan as its configuration snapshot);
``close_run`` records how the run ended from the task_runs rows and the Airflow
task states, marks transformations that never ran, says what failed, and sends a
failed run's alert (core.alerts) to the pipeline's owners.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.alerts import notify_failure
from core.helpers.session_helper import SessionHelper
from core.plan import PipelinePlan
from core.runs import finish_run, mark_tasks, start_run, task_runs
from core.settings import Settings

ACTOR = "airflow"
# `airflow tasks test` runs one task in a temporary DAG run of this run id prefix.
TEMPORARY_RUN_PREFIX = "__airflow_temporary_run_"
TASKS_TEST = "airflow tasks test"
# Airflow task states of a transformation that make the run fail.
FAILED_STATES = ("failed", "upstream_failed")


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: its id and the task ids of the transformations that failed."""

    run_id: int
    failed_task_ids: list[str]

    @property
    def failed(self) -> bool:
        """Whether any transformation failed or never ran because of a failure."""
        return bool(self.failed_task_ids)


def open_run(settings: Settings, plan: PipelinePlan, dag_run_id: str = "") -> int:
    """Create the run event of a new DAG run.

    Under ``airflow tasks test`` (a temporary DAG run) no other task of the DAG run
    follows, so the run is recorded as triggered by ``airflow tasks test`` and
    closed at once: a test never leaves a run ``running``.

    Args:
        settings: CORE's settings.
        plan: the plan the DAG was built from (stored as the run's snapshot).
        dag_run_id: Airflow's run id of the DAG run.

    Returns:
        The new RunEvent id.
    """
    testing = dag_run_id.startswith(TEMPORARY_RUN_PREFIX)
    with SessionHelper(settings, actor=ACTOR) as session:
        run_id = start_run(session, plan, TASKS_TEST if testing else ACTOR).id
        if testing:
            finish_run(session, run_id, failed=False)
        return run_id


def close_run(
    settings: Settings, plan: PipelinePlan, run_id: int, airflow_states: Mapping[str, str | None]
) -> RunEnd:
    """Record the end of a run: ``failed`` if any transformation failed, else ``success``.

    Args:
        settings: CORE's settings.
        plan: the pipeline's plan.
        run_id: the RunEvent id.
        airflow_states: Airflow's state of each task of the DAG run, by task id.

    Returns:
        The run's end, naming the failed transformations in execution order.
    """
    with SessionHelper(settings, actor=ACTOR) as session:
        rows = task_runs(session, run_id)
        failed: list[str] = []
        unrecorded: dict[str, list[int]] = {state: [] for state in FAILED_STATES}
        for task in plan.tasks:
            row = rows.get(task.transformation_id)
            state = airflow_states.get(task.task_id)
            if (row is not None and row.state == "failed") or state in FAILED_STATES:
                failed.append(task.task_id)
            if row is None and state in FAILED_STATES:
                unrecorded[state].append(task.transformation_id)
        for state, ids in unrecorded.items():
            if ids:
                mark_tasks(session, run_id, ids, state)
        finish_run(session, run_id, bool(failed))
        if failed:
            notify_failure(settings, session, run_id)  # logs, never raises
    return RunEnd(run_id, failed)
