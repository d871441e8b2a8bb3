"""Run events and task runs: the record of what ran, shared by every orchestrator.

The local runner, the Airflow DAG's RunEvent task and ``corebot run`` all write
through these functions, so a run looks the same however it was started.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models.base import utcnow
from core.models.runs import RunEvent, TaskRun
from core.plan import PipelinePlan

# Task states that end a task; anything else may still change.
FINISHED = ("success", "failed", "upstream_failed", "skipped")
ERROR_SUMMARY_LIMIT = 2000


def start_run(session: Session, plan: PipelinePlan, triggered_by: str) -> RunEvent:
    """Create the run event of a new run, with the plan as its configuration snapshot.

    Args:
        session: a configuration session; committed here, so the id is visible to workers.
        plan: the pipeline's plan as it is now.
        triggered_by: who or what started the run (``core run``, ``airflow``, a user).

    Returns:
        The new RunEvent, in state ``running``.
    """
    event = RunEvent(
        pipeline_id=plan.pipeline_id,
        state="running",
        triggered_by=triggered_by,
        started_at=utcnow(),
        configuration_snapshot=plan.to_dict(),
    )
    session.add(event)
    session.commit()
    return event


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


def task_runs(session: Session, run_id: int) -> dict[int, TaskRun]:
    """The task runs of a run, by transformation id (one query)."""
    query = select(TaskRun).where(TaskRun.run_event_id == run_id)
    return {row.transformation_id: row for row in session.scalars(query) if row.transformation_id}


def begin_task(session: Session, run_id: int, transformation_id: int) -> TaskRun:
    """Mark a task as running: a new attempt, timings reset (committed).

    Args:
        session: a configuration session.
        run_id: the run event's id.
        transformation_id: the transformation's id.

    Returns:
        The task run row.
    """
    query = select(TaskRun).where(
        TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        row = TaskRun(run_event_id=run_id, transformation_id=transformation_id, attempt=0)
        session.add(row)
    row.state, row.attempt, row.started_at = "running", row.attempt + 1, utcnow()
    row.ended_at = row.error_summary = row.rows_in = row.rows_out = None
    row.output_references = row.notebook_location = None
    session.commit()
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


def finish_run(session: Session, run_id: int, failed: bool) -> RunEvent:
    """Record the end of a run: ``failed`` or ``success`` (committed)."""
    event = get_run(session, run_id)
    event.state = "failed" if failed else "success"
    event.ended_at = utcnow()
    session.commit()
    return event


def duration(started: dt.datetime | None, ended: dt.datetime | None) -> float | None:
    """Seconds between two times, or None when either is missing."""
    if started is None or ended is None:
        return None
    return (ended - started).total_seconds()
