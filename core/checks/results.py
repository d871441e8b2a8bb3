"""The gate before a publish: evaluate the dataset's checks, record them, stop on an error.

Called by ``TransformContext.publish`` (in the worker, or in a notebook's kernel) with
the table about to be committed. Results are stored per run and transformation; a
task that runs again in the same run (a retry, a resume) replaces its results, so a
run never shows a check twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.checks.evaluate import (
    CheckFailedError,
    CheckSpec,
    Outcome,
    evaluate_checks,
    finding_text,
)
from core.models.dataset_checks import CheckResult
from core.models.runs import TaskRun

if TYPE_CHECKING:
    import pyarrow as pa

    from core.transforms.context import TransformContext


def gate(ctx: TransformContext, table: pa.Table) -> list[Outcome]:
    """Evaluate ctx's checks on ``table``; record them; raise when an error check failed.

    Returns:
        The outcomes (warn checks that failed are also noted on the task).

    Raises:
        CheckFailedError: an ``error`` check failed or could not be evaluated; nothing
            has been published.
    """
    specs = [CheckSpec.of(c) for c in ctx.checks]
    outcomes = evaluate_checks(
        specs,
        table,
        previous_rows=lambda: previous_rows(ctx.session, ctx.transform_id, ctx.run_id),
        other=lambda name: ctx.input(name),
    )
    if ctx.record_checks:
        record(ctx.session, ctx.run_id, ctx.transform_id, outcomes)
    ctx.metadata["checks"] = {s: sum(o.status == s for o in outcomes) for s in _statuses(outcomes)}
    for outcome in outcomes:
        if outcome.status == "warn" or (outcome.status == "error" and not outcome.blocks):
            found = finding_text(outcome.failing_rows, outcome.note)
            ctx.note(f"{outcome.label}: {outcome.status}, {found}")
    failed = [o for o in outcomes if o.blocks]
    if failed:
        raise CheckFailedError(f"{ctx.state}/{ctx.output.dataset}", failed)
    return outcomes


def _statuses(outcomes: Sequence[Outcome]) -> list[str]:
    return sorted({o.status for o in outcomes})


def previous_rows(session: Session, transformation_id: int, run_id: int) -> int | None:
    """Rows the transformation published in its latest successful run before this one."""
    return session.scalars(
        select(TaskRun.rows_out)
        .where(
            TaskRun.transformation_id == transformation_id,
            TaskRun.run_event_id < run_id,
            TaskRun.state == "success",
            TaskRun.rows_out.is_not(None),
        )
        .order_by(TaskRun.run_event_id.desc())
        .limit(1)
    ).first()


def record(
    session: Session, run_id: int, transformation_id: int, outcomes: Sequence[Outcome]
) -> None:
    """Store a task's check results for a run, replacing any earlier attempt's (committed)."""
    attempt = session.scalars(
        select(TaskRun.attempt).where(
            TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
        )
    ).first()
    session.execute(
        delete(CheckResult).where(
            CheckResult.run_event_id == run_id, CheckResult.transformation_id == transformation_id
        )
    )
    now = dt.datetime.now(dt.UTC)
    session.add_all(
        CheckResult(
            run_event_id=run_id,
            transformation_id=transformation_id,
            attempt=attempt or 0,
            checked_at=now,
            **_columns(outcome),
        )
        for outcome in outcomes
    )
    session.commit()


def _columns(outcome: Outcome) -> dict[str, Any]:
    return {
        "check_id": outcome.check_id,
        "kind": outcome.kind,
        "severity": outcome.severity,
        "description": outcome.description,
        "status": outcome.status,
        "failing_rows": outcome.failing_rows,
        "examples": outcome.examples,
        "note": outcome.note,
        "seconds": outcome.seconds,
    }


def results_of_run(session: Session, run_id: int) -> list[CheckResult]:
    """A run's check results, by transformation then check."""
    return list(
        session.scalars(
            select(CheckResult)
            .where(CheckResult.run_event_id == run_id)
            .order_by(CheckResult.transformation_id, CheckResult.check_id, CheckResult.id)
        )
    )
