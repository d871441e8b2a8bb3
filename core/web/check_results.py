"""A run's check results by task, as the run page shows them.

The results (``core.checks.results``) do not hold a check's arguments: the run's
snapshot does, so each result is shown with the arguments the run checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.checks.evaluate import arguments_text
from core.checks.results import results_of_run
from core.models.dataset_checks import CHECK_STATUSES
from core.plan.model import PipelinePlan

# The worst status first: a task's summary badge takes the colour of its worst check.
WORST_FIRST = ("error", "fail", "warn", "pass")


def as_rows(examples: Iterable[Any]) -> list[dict[str, Any]]:
    """Example rows as dicts (a bare value becomes ``{"value": …}``)."""
    return [row if isinstance(row, dict) else {"value": row} for row in examples]


def example_columns(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The columns of example rows, in the order they first appear."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


@dataclass(frozen=True)
class ResultRow:
    """One check's result in a run, with the arguments its snapshot gave it."""

    check_id: int | None
    kind: str
    arguments: str
    severity: str
    description: str | None
    status: str
    failing_rows: int
    note: str | None
    examples: list[dict[str, Any]]
    columns: list[str]


@dataclass(frozen=True)
class TaskChecks:
    """A task's check results in a run, and their summary: ``3 checks: 2 pass, 1 fail``."""

    transformation_id: int
    dataset: str | None
    results: list[ResultRow]

    @property
    def summary(self) -> str:
        counts = [(s, sum(r.status == s for r in self.results)) for s in CHECK_STATUSES]
        total = len(self.results)
        shown = ", ".join(f"{count} {status}" for status, count in counts if count)
        return f"{total} check{'s' if total != 1 else ''}: {shown}"

    @property
    def worst(self) -> str:
        """The worst status among the results (the summary badge's colour)."""
        found = {r.status for r in self.results}
        return next((s for s in WORST_FIRST if s in found), "pass")


def run_checks(session: Session, run_id: int, plan: PipelinePlan | None) -> dict[int, TaskChecks]:
    """A run's check results by transformation id (one query).

    Args:
        plan: the run's snapshot, which holds each check's arguments (results do not).
    """
    arguments = {
        check["id"]: check.get("arguments") or {}
        for task in (plan.tasks if plan else [])
        for check in task.checks
        if check.get("id") is not None
    }
    by_task: dict[int, list[ResultRow]] = {}
    for result in results_of_run(session, run_id):
        examples = as_rows(result.examples or [])
        by_task.setdefault(result.transformation_id, []).append(
            ResultRow(
                check_id=result.check_id,
                kind=result.kind,
                arguments=arguments_text(arguments.get(result.check_id)),
                severity=result.severity,
                description=result.description,
                status=result.status,
                failing_rows=result.failing_rows,
                note=result.note,
                examples=examples,
                columns=example_columns(examples),
            )
        )
    datasets = {task.transformation_id: task.dataset for task in (plan.tasks if plan else [])}
    return {tid: TaskChecks(tid, datasets.get(tid), rows) for tid, rows in by_task.items()}
