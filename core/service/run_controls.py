"""Steer a run from the API, the UI and the CLI: resume it, re-run one task, cancel it.

Each control writes the record (core.runs, core.run_controls) and then tells the
orchestrator that drives the run: the local runner (a detached ``core run`` process,
core.runner.detached) or Airflow through its REST API (core.service.airflow_api).
Who acted is the session's actor, so the audit trail names them; a cancel also
records ``cancelled_by`` and a resume ``resumed_by`` on the run.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from core.errors import ConflictError, OrchestratorError
from core.models.runs import PERSON_LENGTH, RunEvent
from core.plan import PipelinePlan
from core.plan.check import require_check
from core.run_controls import ENDED, cancel_run, downstream_ids, rerun_from, stop_runner
from core.runner.detached import spawn_runner
from core.runs import check_configuration_choice, finish_run, get_run, resume_run
from core.service.airflow_api import clear_failed_tasks, clear_task, fail_dag_run
from core.service.pipelines import pipeline_plan
from core.service.runs import RunStarted, trigger_name
from core.settings import Settings

# Airflow's part of a resume: clear what must run again in the run's DAG run.
Clear = Callable[[Settings, str, str], list[str]]


def resume_pipeline_run(
    settings: Settings, session: Session, run_id: int, configuration: str, user_email: str
) -> RunStarted:
    """Resume a failed or cancelled run: re-run what did not succeed, under the same run id.

    On the local runner a detached runner resumes it. Under Airflow its DAG run's failed
    tasks are cleared with their downstream tasks (EndRun included) through Airflow's
    REST API, after the run is re-pinned, so the cleared tasks run with the fix.

    Args:
        settings: CORE's settings.
        session: a configuration session acting for the user (the audit trail names them).
        run_id: the run to resume.
        configuration: ``current`` (re-pin the run to the configuration now: the default
            after a fix) or ``pinned`` (its snapshot as it was).
        user_email: who resumes it; recorded as the run's ``resumed_by``.

    Raises:
        NotFoundError: no such run.
        InvalidInputError: an unknown configuration choice.
        ConflictError: the run has not failed nor been cancelled, or (under Airflow) no
            DAG run recorded it.
        PipelineCheckError: the configuration it would run with fails the pipeline's
            check (the run is left as it was).
        OrchestratorError: Airflow could not clear the tasks (the run is failed again).
    """
    check_configuration_choice(configuration)
    event = get_run(session, run_id)
    if event.state not in ("failed", "cancelled"):
        raise ConflictError(
            f"run {run_id} is {event.state}: only a failed or cancelled run can be resumed; "
            "start a new run instead"
        )
    plan = _checked_plan(settings, session, event, configuration)
    return _go_on(settings, session, event, plan, configuration, user_email, clear_failed_tasks)


def rerun_task(
    settings: Settings,
    session: Session,
    run_id: int,
    transformation_id: int,
    configuration: str,
    user_email: str,
) -> RunStarted:
    """Re-run one task of an ended run and every task downstream of it, under the same run id.

    Args:
        settings: CORE's settings.
        session: a configuration session acting for the user.
        run_id: the run (success, failed or cancelled).
        transformation_id: the task to run again.
        configuration: ``current`` or ``pinned``, as for a resume.
        user_email: who asked; recorded as the run's ``resumed_by``.

    Returns:
        How the run goes on (its id stays the same).

    Raises:
        NotFoundError: no such run, or the run has no such transformation.
        ConflictError: the run is still running, or (under Airflow) no DAG run recorded it.
        PipelineCheckError: the configuration it would run with fails the pipeline's check.
        OrchestratorError: Airflow could not clear the task (the run is failed).
    """
    check_configuration_choice(configuration)
    event = get_run(session, run_id)
    if event.state not in ENDED:
        raise ConflictError(
            f"run {run_id} is {event.state}: a task can be re-run once the run has ended; "
            "cancel it first"
        )
    snapshot = PipelinePlan.from_dict(event.configuration_snapshot or {})
    downstream_ids(snapshot, run_id, transformation_id)  # refuses a task the run lacks
    plan = _checked_plan(settings, session, event, configuration)
    task_id = next(t.task_id for t in snapshot.tasks if t.transformation_id == transformation_id)
    rerun_from(session, run_id, transformation_id)

    def clear(settings: Settings, dag_id: str, dag_run_id: str) -> list[str]:
        return clear_task(settings, dag_id, dag_run_id, task_id)

    return _go_on(settings, session, event, plan, configuration, user_email, clear)


def cancel_pipeline_run(settings: Settings, session: Session, run_id: int, user_email: str) -> bool:
    """Cancel a running run: record it ``cancelled`` and stop its workers.

    On the local runner the process driving the run is asked to stop (SIGTERM); it
    stops its workers within seconds and they record their tasks ``cancelled``. Under
    Airflow the DAG run is marked failed through Airflow's REST API, which stops its
    running tasks the same way.

    Returns:
        Whether an orchestrator was told to stop (False when no live runner was found:
        the run is recorded cancelled, and a worker still running is reaped once gone).

    Raises:
        NotFoundError: no such run.
        ConflictError: the run is not running.
        OrchestratorError: Airflow refused (the run is recorded cancelled all the same:
            its workers stop when Airflow ends them).
    """
    event = cancel_run(session, run_id, user_email[:PERSON_LENGTH])
    if event.dag_run_id and trigger_name(settings) == "airflow":
        plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
        fail_dag_run(settings, plan.name, event.dag_run_id)
        return True
    return stop_runner(event)


def _checked_plan(
    settings: Settings, session: Session, event: RunEvent, configuration: str
) -> PipelinePlan | None:
    """The current plan when asked for (None: the snapshot); refuses one failing its check."""
    if trigger_name(settings) == "airflow" and not event.dag_run_id:
        raise ConflictError(
            f"run {event.id} was not recorded by an Airflow DAG run (it ran on the local "
            "runner, or before runs kept their DAG run id); start a new run"
        )
    snapshot = PipelinePlan.from_dict(event.configuration_snapshot or {})
    current = pipeline_plan(session, event.pipeline_id) if configuration == "current" else None
    require_check(session, current or snapshot)  # else the runner refuses, run left running
    return current


def _go_on(
    settings: Settings,
    session: Session,
    event: RunEvent,
    current: PipelinePlan | None,
    configuration: str,
    user_email: str,
    clear: Clear,
) -> RunStarted:
    """Mark the run running again (re-pinned when asked) and hand it to its orchestrator."""
    run_id, name = event.id, PipelinePlan.from_dict(event.configuration_snapshot or {}).name
    resume_run(session, run_id, configuration, user_email[:PERSON_LENGTH], current)
    if trigger_name(settings) == "local":
        spawn_runner(settings, name, run_id, get_run(session, run_id).resumed_at)
        return RunStarted(via="local", run_id=run_id, dag_run_id=None)
    try:
        clear(settings, name, str(event.dag_run_id))
    except OrchestratorError:
        finish_run(session, run_id, failed=True)  # nothing was cleared: it stays failed
        raise
    return RunStarted(via="airflow", run_id=run_id, dag_run_id=event.dag_run_id)
