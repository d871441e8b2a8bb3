"""Steering a run: cancel it, re-run one task and what depends on it, one run at a time.

These write the record only (committed); telling the orchestrator is the caller's part
(core.service.runs: the local runner through its process, Airflow through its REST API).
A cancelled run stays ``cancelled`` whatever its stopped workers report afterwards: a
worker stopped by the cancel records its task ``cancelled`` (core.runs.stopped_state).
"""

from __future__ import annotations

import os
import signal
import socket

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from core.models.base import utcnow
from core.models.runs import PERSON_LENGTH, RunEvent, TaskRun
from core.plan import PipelinePlan
from core.runs import get_run
from core.worker import worker_gone

# A run in one of these states is over: it can be re-run from a task.
ENDED = ("success", "failed", "cancelled")


def cancel_run(session: Session, run_id: int, actor: str) -> RunEvent:
    """Record a running run as cancelled by ``actor`` (committed).

    Raises:
        NotFoundError: no such run.
        ConflictError: the run is not running (naming its state).
    """
    event = get_run(session, run_id)
    if event.state != "running":
        raise ConflictError(f"run {run_id} is {event.state}: only a running run can be cancelled")
    event.state, event.ended_at = "cancelled", utcnow()
    event.cancelled_by = actor[:PERSON_LENGTH]
    session.commit()
    return event


def claim_run(session: Session, run_id: int, runner: str | None) -> None:
    """Record which local runner (``host:pid``) drives a run, for a cancel to stop (committed)."""
    event = get_run(session, run_id)
    event.runner = runner
    session.commit()


def stop_runner(event: RunEvent) -> bool:
    """Ask the local runner driving a run to stop (SIGTERM); whether one was asked.

    Only a runner of this host that is still alive can be asked; it stops its workers,
    which record their tasks ``cancelled``.
    """
    host_pid = event.runner
    if not host_pid or worker_gone(host_pid):
        return False
    host, _, pid = host_pid.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def refuse_second_run(session: Session, pipeline_id: int, name: str, allowed: int) -> None:
    """Refuse to start a run while ``allowed`` runs of the pipeline are already running.

    Raises:
        ConflictError: naming the running runs and how to go on.
    """
    query = select(RunEvent.id).where(
        RunEvent.pipeline_id == pipeline_id, RunEvent.state == "running"
    )
    running = list(session.scalars(query.order_by(RunEvent.id)))
    if len(running) >= max(1, allowed):
        ids = ", ".join(str(i) for i in running)
        raise ConflictError(
            f"pipeline {name!r} already has {len(running)} run(s) running (run {ids}) and "
            f"allows {max(1, allowed)} at a time; wait for it, cancel it, or raise the "
            "pipeline's max_active_runs"
        )


def rerun_from(session: Session, run_id: int, transformation_id: int) -> list[int]:
    """Make a task and every task downstream of it run again when the run is resumed.

    Downstream is what the plan orders after the task's group: every task of the later
    groups (a group's tasks depend on the whole previous group). Their task runs go back
    to ``pending`` (committed); the caller then resumes the run.

    Returns:
        The transformation ids that will run again, in plan order.

    Raises:
        NotFoundError: the run has no such transformation.
        ConflictError: the run is still running.
    """
    event = get_run(session, run_id)
    if event.state not in ENDED:
        raise ConflictError(
            f"run {run_id} is {event.state}: a task can be re-run once the run has ended; "
            "cancel it first"
        )
    ids = downstream_ids(
        PipelinePlan.from_dict(event.configuration_snapshot or {}), run_id, transformation_id
    )
    rows = session.scalars(
        select(TaskRun).where(TaskRun.run_event_id == run_id, TaskRun.transformation_id.in_(ids))
    )
    for row in rows:
        row.state, row.error_summary = "pending", None
    session.commit()
    return ids


def downstream_ids(plan: PipelinePlan, run_id: int, transformation_id: int) -> list[int]:
    """The task and every task of the groups after its group, in plan order.

    Raises:
        NotFoundError: the plan has no such transformation (naming the ones it has).
    """
    for index, group in enumerate(plan.groups):
        if any(t.transformation_id == transformation_id for t in group.tasks):
            later = [t.transformation_id for g in plan.groups[index + 1 :] for t in g.tasks]
            return [transformation_id, *later]
    known = ", ".join(str(t.transformation_id) for t in plan.tasks)
    raise NotFoundError(
        f"run {run_id} has no transformation {transformation_id}; its transformations: {known}"
    )
