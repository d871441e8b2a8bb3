"""A pipeline's recent runs at a glance: runs across, tasks down, each cell a task's state.

Like Airflow's grid view. The tasks are those of the newest run's plan, in plan order,
then any task an older run had that the plan has since lost (named by its id). A cell
is the task's state in that run; ``pending`` when the run planned the task but it has
not started, None when the run did not plan it. Two queries, whatever the number of
runs and tasks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models import configuration as cfg
from core.models.runs import RunEvent, TaskRun
from core.plan import PipelinePlan
from core.runs import run_duration

GRID_RUNS = 25  # how many of the newest runs the grid shows by default
MAX_GRID_RUNS = 100


@dataclass(frozen=True)
class GridRun:
    """One column: a run."""

    id: int
    state: str
    triggered_by: str | None
    started_at: dt.datetime | None
    duration_seconds: float | None


@dataclass(frozen=True)
class GridTask:
    """One line: a task, with its state in each run of the grid (None: not planned)."""

    transformation_id: int
    label: str
    template: str
    state_name: str
    step: int | None
    states: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class RunGrid:
    """The newest runs of a pipeline, oldest first, and their tasks' states."""

    pipeline_id: int
    pipeline_name: str
    runs: list[GridRun]
    tasks: list[GridTask]


def run_grid(session: Session, pipeline_id: int, limit: int = GRID_RUNS) -> RunGrid:
    """The grid of a pipeline's newest ``limit`` runs (1 to MAX_GRID_RUNS).

    Raises:
        NotFoundError: no pipeline has this id.
    """
    pipeline = session.get(cfg.Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFoundError(f"no pipeline with id {pipeline_id}")
    limit = max(1, min(limit, MAX_GRID_RUNS))
    query = (
        select(RunEvent)
        .where(RunEvent.pipeline_id == pipeline.id)
        .order_by(RunEvent.id.desc())
        .limit(limit)
    )
    events = list(reversed(session.scalars(query).all()))
    ids = [event.id for event in events]
    states = _task_states(session, ids)
    planned = {event.id: _planned_ids(event.configuration_snapshot) for event in events}
    tasks = [
        GridTask(
            **line, states=[_cell(line["transformation_id"], e, planned, states) for e in events]
        )
        for line in _lines(events)
    ]
    runs = [GridRun(e.id, e.state, e.triggered_by, e.started_at, run_duration(e)) for e in events]
    return RunGrid(pipeline.id, pipeline.name, runs, tasks)


def _task_states(session: Session, run_ids: list[int]) -> dict[tuple[int, int | None], str]:
    if not run_ids:
        return {}
    query = select(TaskRun.run_event_id, TaskRun.transformation_id, TaskRun.state).where(
        TaskRun.run_event_id.in_(run_ids)
    )
    return {(run_id, tid): state for run_id, tid, state in session.execute(query)}


def _planned_ids(snapshot: dict[str, Any] | None) -> set[int]:
    groups = (snapshot or {}).get("groups", [])
    return {task["transformation_id"] for group in groups for task in group.get("tasks", [])}


def _cell(
    tid: int,
    event: RunEvent,
    planned: dict[int, set[int]],
    states: dict[tuple[int, int | None], str],
) -> str | None:
    if (event.id, tid) in states:
        return states[(event.id, tid)]
    return "pending" if tid in planned[event.id] else None


def _lines(events: list[RunEvent]) -> list[dict[str, Any]]:
    """The tasks of the newest plan in order, then those only older runs planned."""
    lines: dict[int, dict[str, Any]] = {}
    for event in reversed(events):  # newest first: its names win
        if not event.configuration_snapshot:
            continue
        plan = PipelinePlan.from_dict(event.configuration_snapshot)
        for group in plan.groups:
            for task in group.tasks:
                lines.setdefault(task.transformation_id, _line(task, group.step))
    return list(lines.values())


def _line(task: Any, step: int) -> dict[str, Any]:
    return {
        "transformation_id": task.transformation_id,
        "label": task.dataset or task.template,
        "template": task.template,
        "state_name": task.state,
        "step": step,
    }
