"""What the DAG's first and last tasks do, without Airflow: open and close a run.

``open_run`` creates the RunEvent (with the plan as its configuration snapshot);
``close_run`` waits until no task of the run is still running (Airflow may have marked
a task failed while its worker is still stopping), records how the run ended from the
task_runs rows and the Airflow task states, marks transformations that never ran, says
what failed, and sends a failed run's alert (core.alerts) to the pipeline's owners.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.alerts import notify_failure
from core.errors import CoreError
from core.helpers.session_helper import SessionHelper
from core.models.runs import PERSON_LENGTH, TaskRun
from core.plan import PipelinePlan
from core.plan.check import require_check
from core.runs import finish_run, mark_tasks, reap, start_run, task_runs
from core.settings import Settings

ACTOR = "airflow"
SCHEDULE = "schedule"
# `airflow tasks test` runs one task in a temporary DAG run of this run id prefix.
TEMPORARY_RUN_PREFIX = "__airflow_temporary_run_"
TASKS_TEST = "airflow tasks test"
# `airflow dags test` (DAG.test()) runs a whole DAG run as this Airflow user.
DAG_TEST_USER = "dag_test"
DAGS_TEST = "airflow dags test"
# Airflow task states of a transformation that make the run fail.
FAILED_STATES = ("failed", "upstream_failed")
# How long EndRun waits for workers still running (a stopped one ends within 5 s).
END_WAIT_SECONDS = 120.0


class TasksStillRunningError(CoreError):
    """A run cannot be closed yet: some of its tasks' workers are still running."""


@dataclass(frozen=True)
class RunEnd:
    """How a run ended: its id and the task ids of the transformations that failed."""

    run_id: int
    failed_task_ids: list[str]

    @property
    def failed(self) -> bool:
        """Whether any transformation failed or never ran because of a failure."""
        return bool(self.failed_task_ids)


def who_started(
    conf: Mapping[str, object] | None, run_type: str | None, user: str | None = None
) -> str:
    """Who a DAG run's run event names as having started it.

    Args:
        conf: the DAG run's conf; ``triggered_by`` is set by CORE's "Run now"
            (core.service.airflow_api) to the person who asked.
        run_type: Airflow's run type (``scheduled``, ``manual``, ``backfill``, ...).
        user: the Airflow user who triggered it, when Airflow knows.

    Returns:
        The person (and the Airflow account, when the conf names someone else; under
        ``DAG.test()`` the account is ``airflow dags test``), ``schedule`` for a
        scheduled run, else ``airflow`` (with the run type).
    """
    user = user.strip() if isinstance(user, str) else ""
    if user == DAG_TEST_USER:
        user = DAGS_TEST
    person = (conf or {}).get("triggered_by")
    person = person.strip() if isinstance(person, str) else ""
    if person and user and person != user:
        # conf is free text any Airflow user may send: name the account that sent it too
        return f"{person} (via {user})"[:PERSON_LENGTH]
    if person or user:
        return (person or user)[:PERSON_LENGTH]
    if run_type == "scheduled":
        return SCHEDULE
    return f"{ACTOR} ({run_type})" if run_type else ACTOR


def open_run(
    settings: Settings, plan: PipelinePlan, triggered_by: str = ACTOR, dag_run_id: str = ""
) -> int:
    """Create the run event of a new DAG run.

    Under ``airflow tasks test`` (a temporary DAG run) no other task of the DAG run
    follows, so the run is recorded as triggered by ``airflow tasks test`` and
    closed at once: a test never leaves a run ``running``.

    Args:
        settings: CORE's settings.
        plan: the plan the DAG was built from (stored as the run's snapshot).
        triggered_by: who started it (see :func:`who_started`).
        dag_run_id: Airflow's run id of the DAG run.

    Returns:
        The new RunEvent id.

    Raises:
        PipelineCheckError: the pipeline fails its check; no run is created, so no
            transformation task starts a worker (they end upstream_failed).
    """
    testing = dag_run_id.startswith(TEMPORARY_RUN_PREFIX)
    who = TASKS_TEST if testing else triggered_by
    with SessionHelper(settings, actor=who) as session:
        require_check(session, plan)
        run_id = start_run(session, plan, who, None if testing else dag_run_id).id
        if testing:
            finish_run(session, run_id, failed=False)
        return run_id


def close_run(
    settings: Settings,
    plan: PipelinePlan,
    run_id: int,
    airflow_states: Mapping[str, str | None],
    wait: float = END_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> RunEnd:
    """Record the end of a run: ``failed`` if any transformation failed, else ``success``.

    Args:
        settings: CORE's settings.
        plan: the pipeline's plan.
        run_id: the RunEvent id.
        airflow_states: Airflow's state of each task of the DAG run, by task id.
        wait: at most this many seconds to wait for tasks that are still running.
        sleep: how to wait between looks (tests pass their own).

    Returns:
        The run's end, naming the failed transformations in execution order.

    Raises:
        TasksStillRunningError: a task still ran after ``wait`` seconds; the run is
            left running (never closed under a running worker).
    """
    with SessionHelper(settings, actor=ACTOR) as session:
        rows = _when_none_running(session, plan, run_id, wait, sleep)
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


def _when_none_running(
    session: Session, plan: PipelinePlan, run_id: int, wait: float, sleep: Callable[[float], None]
) -> dict[int, TaskRun]:
    """The run's task runs once none is running; dead workers' tasks are ended on the way."""
    deadline = time.monotonic() + wait
    while True:
        reap(session, run_id)
        rows = task_runs(session, run_id)
        running = {tid: row.worker for tid, row in rows.items() if row.state == "running"}
        if not running:
            return rows
        if time.monotonic() >= deadline:
            names = {task.transformation_id: task.task_id for task in plan.tasks}
            which = ", ".join(f"{names.get(t, t)} (worker {w})" for t, w in running.items())
            raise TasksStillRunningError(
                f"run {run_id} of {plan.name!r}: expected every task to have ended, but "
                f"{which} still ran after {wait:g} s; the run stays running: clear EndRun "
                "once the worker has ended (`core runs reap` ends a dead worker's task)"
            )
        session.commit()  # end the read: the next look must see what workers recorded
        session.expire_all()
        sleep(1.0)
