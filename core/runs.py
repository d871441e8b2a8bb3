"""Run events and task runs: the record of what ran, shared by every orchestrator.

The local runner, the Airflow DAG's RunEvent task and ``corebot run`` all write
through these functions, so a run looks the same however it was started.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import ConfigurationError, InvalidInputError, NotFoundError, did_you_mean
from core.models.base import utcnow
from core.models.runs import RUN_CONFIGURATIONS, RunEvent, RunSnapshot, TaskRun
from core.plan import PipelinePlan
from core.worker import ExitCode, lost_reason, worker_gone

# Task states that end a task; anything else may still change.
FINISHED = ("success", "failed", "upstream_failed", "skipped", "cancelled")
ERROR_SUMMARY_LIMIT = 2000


def start_run(
    session: Session, plan: PipelinePlan, triggered_by: str, dag_run_id: str | None = None
) -> RunEvent:
    """Create the run event of a new run, with the plan as its configuration snapshot.

    Args:
        session: a configuration session; committed here, so the id is visible to workers.
        plan: the pipeline's plan as it is now.
        triggered_by: who or what started the run (``core run``, ``airflow``, a user).
        dag_run_id: Airflow's id of the DAG run recording it (None for local runs).

    Returns:
        The new RunEvent, in state ``running``.
    """
    event = RunEvent(
        pipeline_id=plan.pipeline_id,
        state="running",
        triggered_by=triggered_by,
        started_at=utcnow(),
        configuration_snapshot=plan.to_dict(),
        dag_run_id=dag_run_id or None,
    )
    session.add(event)
    session.commit()
    return event


def resume_run(
    session: Session,
    run_id: int,
    configuration: str,
    resumed_by: str,
    current: PipelinePlan | None = None,
) -> PipelinePlan:
    """Make a run ready to go on, with the configuration asked for (committed).

    A run that had ended (failed, or success) is marked running again, records who
    resumed it, and the time it spent ended is added to its idle time, which its
    duration leaves out. With ``current``, the run is re-pinned: the current plan
    becomes its snapshot (so the tasks still to run use it), and the snapshots it
    used before are kept in run_snapshots. A run still marked running (just started
    or resumed by the API, or left behind by a runner that died) is not resumed
    again; it is only re-pinned when ``current`` is asked for.

    Args:
        session: a configuration session (its actor is who the audit trail names).
        run_id: the run event's id.
        configuration: ``current`` or ``pinned`` (the snapshot as it was).
        resumed_by: who resumes it.
        current: the pipeline's plan now; required for ``current``.

    Returns:
        The plan the rest of the run uses.

    Raises:
        NotFoundError: no such run.
        InvalidInputError: an unknown configuration choice.
        ConfigurationError: ``current`` is a plan of another pipeline.
    """
    check_configuration_choice(configuration)
    event = get_run(session, run_id)
    now = utcnow()
    if event.state != "running":
        if event.ended_at is not None:
            event.idle_seconds = (event.idle_seconds or 0.0) + max(
                0.0, (now - _aware(event.ended_at)).total_seconds()
            )
        event.state, event.ended_at = "running", None
        event.resumed_by, event.resumed_at = resumed_by, now
        event.configuration, event.cancelled_by = configuration, None
        event.runner = None  # the runner that ended it is gone; the next one claims it
    if configuration == "current":
        assert current is not None, "resume_run needs the current plan to re-pin"
        _repin(session, event, current, resumed_by, now)
        event.configuration = "current"
    session.commit()
    return PipelinePlan.from_dict(event.configuration_snapshot or {})


def check_configuration_choice(configuration: str) -> None:
    """Refuse a resume's configuration choice that is not ``current`` or ``pinned``.

    Raises:
        InvalidInputError: naming the field, the value and the choices.
    """
    if configuration not in RUN_CONFIGURATIONS:
        message = (
            "expected current (the configuration now) or pinned (the run's snapshot as it was)."
            + did_you_mean(configuration, RUN_CONFIGURATIONS)
        )
        raise InvalidInputError([("configuration", configuration, message)])


def _repin(
    session: Session, event: RunEvent, plan: PipelinePlan, by: str, now: dt.datetime
) -> None:
    if plan.pipeline_id != event.pipeline_id:
        raise ConfigurationError(
            f"run {event.id} is a run of another pipeline than {plan.name!r}; "
            "it cannot be re-pinned to that pipeline's configuration"
        )
    snapshot = plan.to_dict()
    if snapshot == event.configuration_snapshot:
        return  # nothing changed since it was pinned: no new snapshot to keep
    kept = snapshot_history(session, event)
    if not kept:  # the first re-pin keeps the snapshot the run started with
        session.add(_history_row(event, 1, event.triggered_by, event.started_at, None))
        kept = [None]
    session.add(_history_row(event, len(kept) + 1, by, now, snapshot))
    event.configuration_snapshot = snapshot


def _history_row(
    event: RunEvent,
    number: int,
    by: str | None,
    at: dt.datetime | None,
    snapshot: dict[str, Any] | None,
) -> RunSnapshot:
    return RunSnapshot(
        run_event_id=event.id,
        number=number,
        pinned_by=by,
        pinned_at=at,
        snapshot=snapshot if snapshot is not None else (event.configuration_snapshot or {}),
    )


def snapshot_history(session: Session, event: RunEvent) -> list[RunSnapshot]:
    """The snapshots a re-pinned run used, oldest first (empty when never re-pinned)."""
    query = select(RunSnapshot).where(RunSnapshot.run_event_id == event.id)
    return list(session.scalars(query.order_by(RunSnapshot.number)))


def get_run(session: Session, run_id: int) -> RunEvent:
    """The run event with this id.

    Raises:
        NotFoundError: no run has this id.
    """
    event = session.get(RunEvent, run_id)
    if event is None:
        raise NotFoundError(
            f"no run with id {run_id}; runs are created by `core run PIPELINE` or by the "
            "Airflow DAG's RunEvent task (see `core runs list`)"
        )
    return event


def task_notes(row: TaskRun | None) -> list[str]:
    """The notes a task recorded (``ctx.note``), e.g. "read 1 of 3 matching files (…)"."""
    notes = ((row.output_references or {}) if row is not None else {}).get("notes")
    return [str(n) for n in notes] if isinstance(notes, list) else []


def published_columns(row: TaskRun | None) -> list[str] | None:
    """The columns a task run recorded as published (None unless it succeeded and said)."""
    if row is None or row.state != "success":
        return None
    columns = (row.output_references or {}).get("columns")
    return columns if isinstance(columns, list) else None


def task_runs(session: Session, run_id: int) -> dict[int, TaskRun]:
    """The task runs of a run, by transformation id (one query)."""
    query = select(TaskRun).where(TaskRun.run_event_id == run_id)
    return {row.transformation_id: row for row in session.scalars(query) if row.transformation_id}


def begin_task(
    session: Session,
    run_id: int,
    transformation_id: int,
    worker: str | None = None,
    job_id: str | None = None,
    try_number: int | None = None,
) -> TaskRun:
    """Mark a task as running: a new attempt, timings reset (committed).

    Args:
        session: a configuration session.
        run_id: the run event's id.
        transformation_id: the transformation's id.
        worker: ``host:pid`` of the process that runs it (core.worker.worker_identity).
        job_id: the backend's id of its job (an AWS Batch job id), if any.
        try_number: Airflow's try of the task, when Airflow runs it.

    Returns:
        The task run row.
    """
    query = select(TaskRun).where(
        TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        row = TaskRun(run_event_id=run_id, transformation_id=transformation_id, attempt=1)
        session.add(row)
    else:  # counted by the database: two workers of one task never count one attempt twice
        row.attempt = TaskRun.attempt + 1
    row.state, row.started_at = "running", utcnow()
    row.ended_at = row.error_summary = row.rows_in = row.rows_out = None
    row.output_references = row.notebook_location = None
    row.worker, row.job_id, row.try_number = worker, job_id, try_number
    try:
        session.commit()
    except IntegrityError:  # another worker of the same task inserted its row meanwhile
        session.rollback()  # now it exists:
        return begin_task(session, run_id, transformation_id, worker, job_id, try_number)
    return row


def end_task(session: Session, row: TaskRun, state: str, **fields: Any) -> TaskRun:
    """Record how a task ended (committed).

    Args:
        session: a configuration session.
        row: the task run row from :func:`begin_task`.
        state: ``success`` or ``failed``.
        **fields: rows_in, rows_out, output_references, notebook_location, error_summary.
    """
    row.state, row.ended_at = state, utcnow()
    if fields.get("error_summary"):
        fields["error_summary"] = str(fields["error_summary"])[:ERROR_SUMMARY_LIMIT]
    for name, value in fields.items():
        setattr(row, name, value)
    session.commit()
    return row


def settle_exit(session: Session, run_id: int, transformation_id: int, code: int) -> int:
    """How a worker's task ended, once its record is sure (committed when it was not).

    A worker that ended without recording how (killed, crashed, or a transform calling
    ``os._exit``: then even with 0, 1 or 2) left its task ``running``: it is recorded
    failed (``cancelled`` in a cancelled run), naming the exit code. One query.

    Returns:
        The worker's code, but FAILED where a 0 came without a recorded success.
    """
    query = select(TaskRun).where(
        TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
    )
    row = session.scalars(query).one_or_none()
    if row is not None and row.state == "running":
        end_task(session, row, stopped_state(session, run_id), error_summary=lost_reason(code))
    elif code != ExitCode.SUCCESS or (row is not None and row.state == "success"):
        return code
    return ExitCode.FAILED if code == ExitCode.SUCCESS else code


def mark_tasks(session: Session, run_id: int, transformation_ids: list[int], state: str) -> None:
    """Give tasks that will not run a final state (``upstream_failed``, ``skipped``)."""
    existing = task_runs(session, run_id)
    for transformation_id in transformation_ids:
        row = existing.get(transformation_id)
        if row is None:
            row = TaskRun(run_event_id=run_id, transformation_id=transformation_id, attempt=0)
            session.add(row)
        row.state, row.ended_at = state, utcnow()
    session.commit()


def stopped_state(session: Session, run_id: int) -> str:
    """The state of a task whose worker stopped or died: ``cancelled`` in a cancelled run."""
    state = session.scalar(select(RunEvent.state).where(RunEvent.id == run_id))
    return "cancelled" if state == "cancelled" else "failed"


def finish_run(session: Session, run_id: int, failed: bool) -> RunEvent:
    """Record the end of a run: ``failed`` or ``success``; a cancelled run stays so (committed)."""
    event = get_run(session, run_id)
    if event.state != "cancelled":  # a cancel outranks what its stopped tasks report
        event.state = "failed" if failed else "success"
    event.ended_at = utcnow()
    session.commit()
    return event


def duration(started: dt.datetime | None, ended: dt.datetime | None) -> float | None:
    """Seconds between two times, or None when either is missing."""
    if started is None or ended is None:
        return None
    return (_aware(ended) - _aware(started)).total_seconds()


def run_duration(event: RunEvent) -> float | None:
    """A run's working time: start to end, less the time it spent failed before resumes."""
    total = duration(event.started_at, event.ended_at)
    return None if total is None else max(0.0, total - (event.idle_seconds or 0.0))


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class Reaped:
    """A task whose worker died without recording its end, and what became of its run."""

    run_id: int
    transformation_id: int | None
    worker: str
    run_ended: bool
    state: str = "failed"

    @property
    def message(self) -> str:
        """One line: which task of which run, which worker, and what became of the run."""
        if self.transformation_id is None:
            return (
                f"run {self.run_id}: its runner ({self.worker}) is gone and none of its tasks "
                "still runs; the run ended failed"
            )
        ended = "; the run ended failed" if self.run_ended else ""
        return (
            f"run {self.run_id}: transformation {self.transformation_id} was still running but "
            f"its worker ({self.worker}) is gone; recorded {self.state}{ended}"
        )


def reap(session: Session, run_id: int | None = None) -> list[Reaped]:
    """End the tasks whose worker died without a word, and then their runs, failed (committed).

    A task is reaped when it is ``running`` in a running (or cancelled) run and its
    worker (``task_runs.worker``) is a process of this host that no longer exists
    (killed with SIGKILL, out of memory). Its run ends ``failed`` when no other task of
    it still runs; in a cancelled run the task ends ``cancelled`` and the run stays so.
    Two queries, whatever the number of runs.

    Args:
        session: a configuration session.
        run_id: look at this run only (default: every running run).

    Returns:
        What was reaped, for the caller to report.
    """
    query = (
        select(TaskRun, RunEvent.state)
        .join(RunEvent, RunEvent.id == TaskRun.run_event_id)
        .where(RunEvent.state.in_(("running", "cancelled")), TaskRun.state == "running")
    )
    if run_id is not None:
        query = query.where(TaskRun.run_event_id == run_id)
    found = session.execute(query).all()
    running = [row for row, _ in found]
    dead = [row for row in running if worker_gone(row.worker)]
    reaped = _end_dead_tasks(session, found, dead) if dead else []
    still = {row.run_event_id for row in running if row not in dead}
    reaped += _end_runs_without_runner(session, run_id, still)
    if reaped:
        session.commit()
    return reaped


def _end_dead_tasks(session: Session, found: list[Any], dead: list[TaskRun]) -> list[Reaped]:
    running = [row for row, _ in found]
    # A cancelled run's dead tasks were stopped by the cancel; the run stays cancelled.
    cancelled = {row.run_event_id for row, state in found if state == "cancelled"}
    for row in dead:
        row.state = "cancelled" if row.run_event_id in cancelled else "failed"
        row.ended_at = utcnow()
        row.error_summary = (
            f"the worker ({row.worker}) ended without recording how: killed (SIGKILL, out of "
            "memory) or crashed; its output was not published; resume the run to run it again"
        )
    alive = {row.run_event_id for row in running if row not in dead}
    ended = {row.run_event_id for row in dead} - alive - cancelled
    events = session.scalars(select(RunEvent).where(RunEvent.id.in_(ended)))
    for event in events:
        event.state, event.ended_at = "failed", utcnow()
    return [
        Reaped(
            row.run_event_id,
            row.transformation_id,
            row.worker or "",
            row.run_event_id in ended,
            row.state,
        )
        for row in dead
    ]


def _end_runs_without_runner(session: Session, run_id: int | None, busy: set[int]) -> list[Reaped]:
    """End failed the running runs whose local runner is gone and none of whose tasks runs.

    A runner killed without a word (SIGKILL) leaves its run ``running``; its workers stop
    by themselves (core.worker) and record their tasks, but nobody ends the run. A run
    with a task still running waits for the next look; Airflow's runs have no runner.
    """
    if run_id is not None:  # a run's page has it loaded already: no second query
        candidates = [event] if (event := session.get(RunEvent, run_id)) is not None else []
    else:
        query = select(RunEvent).where(RunEvent.state == "running", RunEvent.runner.is_not(None))
        candidates = list(session.scalars(query))
    reaped = []
    for event in candidates:
        if event.state != "running" or not event.runner or event.id in busy:
            continue
        if not worker_gone(event.runner):
            continue
        event.state, event.ended_at = "failed", utcnow()
        reaped.append(Reaped(event.id, None, event.runner or "", run_ended=True))
    return reaped
