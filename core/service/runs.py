"""Start pipeline runs and read them back: the runs list and one run with its tasks.

A run is started by a *trigger*, chosen by the settings: ``local`` (the local runner in
a detached process, ``core.runner.detached``) or ``airflow`` (a DAG run through Airflow's REST API,
when ``CORE_AIRFLOW_API_URL`` is set). Reads load a page of runs, or one run with its
tasks, in a fixed number of queries however many runs or tasks there are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import (
    ConfigurationError,
)
from core.models import configuration as cfg
from core.models.runs import PERSON_LENGTH, RunEvent, TaskRun
from core.plan import PipelinePlan
from core.plan.check import require_check
from core.plan.diff import ConfigurationChange, plan_changes
from core.run_controls import refuse_second_run
from core.runner.detached import spawn_runner
from core.runs import (
    duration,
    get_run,
    reap,
    run_duration,
    snapshot_history,
    start_run,
    task_notes,
    task_runs,
)
from core.service.airflow_api import trigger_dag_run
from core.service.pipelines import pipeline_plan
from core.service.run_filters import RunFilter
from core.settings import Settings


@dataclass(frozen=True)
class RunStarted:
    """How a run was started: its RunEvent id (local) or Airflow's DAG run id."""

    via: str
    run_id: int | None
    dag_run_id: str | None


Trigger = Callable[[Settings, Session, PipelinePlan, str], RunStarted]


def start_pipeline_run(
    settings: Settings, session: Session, pipeline_id: int, user_email: str
) -> RunStarted:
    """Start a run of a pipeline now, active or not, with the trigger the settings choose.

    Args:
        settings: CORE's settings; ``airflow_api_url`` set means Airflow starts the run.
        session: a configuration session acting for the user.
        pipeline_id: the pipeline's id.
        user_email: who asked; recorded as the run's ``triggered_by``.

    Returns:
        RunStarted: ``via`` local with the new run id, or airflow with the DAG run id.

    Raises:
        NotFoundError: no such pipeline.
        ConfigurationError: the pipeline has no transformations.
        PipelineCheckError: the pipeline fails its check (409; nothing was started).
        ConflictError: the pipeline already runs as many runs as it allows (409, naming them).
        OrchestratorError: Airflow could not be reached or refused the DAG run.
    """
    plan = pipeline_plan(session, pipeline_id)
    if not plan.tasks:
        raise ConfigurationError(
            f"pipeline {plan.name!r} (id {pipeline_id}) has no transformations, so a run "
            "would do nothing; add a transformation to one of its states first"
        )
    require_check(session, plan)
    allowed = plan.max_active_runs or settings.max_active_runs
    refuse_second_run(session, pipeline_id, plan.name, allowed)
    return TRIGGERS[trigger_name(settings)](settings, session, plan, user_email)


def trigger_name(settings: Settings) -> str:
    """The trigger these settings use: ``airflow`` when Airflow's API is configured."""
    return "airflow" if settings.airflow_api_url else "local"


def _start_local(
    settings: Settings, session: Session, plan: PipelinePlan, user_email: str
) -> RunStarted:
    event = start_run(session, plan, triggered_by=user_email[:PERSON_LENGTH])
    spawn_runner(settings, plan.name, event.id)
    return RunStarted(via="local", run_id=event.id, dag_run_id=None)


def _start_airflow(
    settings: Settings, _session: Session, plan: PipelinePlan, user_email: str
) -> RunStarted:
    # The DAG's RunEvent task creates the run event; its id is not known yet.
    dag_run_id = trigger_dag_run(settings, plan.name, user_email)
    return RunStarted(via="airflow", run_id=None, dag_run_id=dag_run_id)


TRIGGERS: dict[str, Trigger] = {"local": _start_local, "airflow": _start_airflow}


@dataclass(frozen=True)
class RunRow:
    """One line of the runs list."""

    id: int
    pipeline_id: int
    pipeline_name: str
    state: str
    triggered_by: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: float | None
    task_counts: dict[str, int] = field(default_factory=dict)
    configuration: str = "current"
    resumed_by: str | None = None
    resumed_at: dt.datetime | None = None
    idle_seconds: float = 0.0
    dag_run_id: str | None = None
    cancelled_by: str | None = None


@dataclass(frozen=True)
class TaskRow:
    """One task of a run, as planned and as it went."""

    transformation_id: int
    task_id: str
    template: str
    state_name: str
    group_step: int
    state: str
    attempt: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: float | None
    rows_in: int | None
    rows_out: int | None
    error_summary: str | None
    notebook_location: str | None
    output_references: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    # The latest earlier run of the pipeline in which this task succeeded: what its
    # output is compared with (None: it never succeeded before).
    diff_against: int | None = None
    job_id: str | None = None  # the AWS Batch job of its latest try
    try_number: int | None = None  # Airflow's try, when Airflow ran it


@dataclass(frozen=True)
class SnapshotRow:
    """One configuration snapshot a run was pinned to: when, and by whom."""

    number: int
    pinned_by: str | None
    pinned_at: dt.datetime | None


@dataclass(frozen=True)
class RunDetail(RunRow):
    """One run with its tasks in plan order and the run of the same pipeline before it.

    ``snapshots`` are the configuration snapshots it was pinned to, oldest first (the
    last is the one its tasks use); ``changes`` is what changed in the configuration
    between the previous run's snapshot and this one's.
    """

    tasks: list[TaskRow] = field(default_factory=list)
    previous_run_id: int | None = None
    snapshots: list[SnapshotRow] = field(default_factory=list)
    changes: list[ConfigurationChange] = field(default_factory=list)


def list_runs(
    session: Session,
    pipeline_id: int | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
    *,
    chosen: RunFilter | None = None,
) -> tuple[list[RunRow], int]:
    """A page of runs, newest first, with their task counts by state, in three queries.

    Args:
        session: a configuration session.
        pipeline_id: only runs of this pipeline.
        state: only runs in this state (one of RUN_STATES); "" is no filter.
        limit: at most this many runs.
        offset: skip this many.
        chosen: the whole filter (days, who started them); replaces the two above.

    Returns:
        The page and the number of runs that match.

    Raises:
        InvalidInputError: an unknown state, or days the wrong way round.
    """
    conditions = (chosen or RunFilter(pipeline_id, state or None)).conditions()
    total = session.scalar(select(func.count(RunEvent.id)).where(*conditions)) or 0
    query = _runs_query().where(*conditions).order_by(RunEvent.id.desc())
    rows = session.execute(query.limit(limit).offset(offset)).all()
    counts = _task_counts(session, [row.RunEvent.id for row in rows])
    return [_run_row(r.RunEvent, r.pipeline_name, counts[r.RunEvent.id]) for r in rows], total


def _runs_query() -> Any:
    return select(RunEvent, cfg.Pipeline.name.label("pipeline_name")).join(
        cfg.Pipeline, cfg.Pipeline.id == RunEvent.pipeline_id
    )


def _task_counts(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    if not run_ids:
        return counts
    query = (
        select(TaskRun.run_event_id, TaskRun.state, func.count(TaskRun.id))
        .where(TaskRun.run_event_id.in_(run_ids))
        .group_by(TaskRun.run_event_id, TaskRun.state)
    )
    for run_id, state, count in session.execute(query):
        counts[run_id][state] = count
    return counts


def _run_row(event: RunEvent, pipeline_name: str, counts: dict[str, int]) -> RunRow:
    # Tasks that have not started have no task run yet: they are pending.
    unstarted = max(0, _planned_tasks(event) - sum(counts.values()))
    if unstarted:
        counts = {**counts, "pending": counts.get("pending", 0) + unstarted}
    return RunRow(**_run_fields(event, pipeline_name), task_counts=dict(counts))


def _planned_tasks(event: RunEvent) -> int:
    groups = (event.configuration_snapshot or {}).get("groups", [])
    return sum(len(group.get("tasks", [])) for group in groups)


def _run_fields(event: RunEvent, pipeline_name: str) -> dict[str, Any]:
    return {
        "id": event.id,
        "pipeline_id": event.pipeline_id,
        "pipeline_name": pipeline_name,
        "state": event.state,
        "triggered_by": event.triggered_by,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "duration_seconds": run_duration(event),
        "configuration": event.configuration,
        "resumed_by": event.resumed_by,
        "resumed_at": event.resumed_at,
        "idle_seconds": event.idle_seconds or 0.0,
        "dag_run_id": event.dag_run_id,
        "cancelled_by": event.cancelled_by,
    }


def run_detail(session: Session, run_id: int) -> RunDetail:
    """One run with its tasks, snapshots and configuration changes, in seven queries
    (eight while it runs: the reap's).

    The tasks come from the run's configuration snapshot, so transformations deleted
    since still show; a task with no task run yet is ``pending``.

    A task whose worker died without a word is ended failed first (``core.runs.reap``).

    Raises:
        NotFoundError: no run has this id.
    """
    event = get_run(session, run_id)
    if event.state in ("running", "cancelled"):  # a cancelled run's workers may be dying
        reap(session, run_id)
    name = session.scalar(select(cfg.Pipeline.name).where(cfg.Pipeline.id == event.pipeline_id))
    rows = task_runs(session, run_id)
    planned = _plan(event)
    earlier = _last_successes(session, event, [task.transformation_id for _, task in planned])
    tasks = [
        _task_row(group, task, rows.get(task.transformation_id), earlier) for group, task in planned
    ]
    counts: dict[str, int] = defaultdict(int)
    for task in tasks:
        counts[task.state] += 1
    previous = _previous_run_id(session, event)
    return RunDetail(
        **_run_fields(event, name or ""),
        task_counts=dict(counts),
        tasks=tasks,
        previous_run_id=previous,
        snapshots=_snapshots(session, event),
        changes=_changes_since(session, previous, event),
    )


def _snapshots(session: Session, event: RunEvent) -> list[SnapshotRow]:
    kept = snapshot_history(session, event)
    if not kept:  # never re-pinned: the one it started with
        return [SnapshotRow(1, event.triggered_by, event.started_at)]
    return [SnapshotRow(row.number, row.pinned_by, row.pinned_at) for row in kept]


def _changes_since(
    session: Session, previous_id: int | None, event: RunEvent
) -> list[ConfigurationChange]:
    if previous_id is None or not event.configuration_snapshot:
        return []
    query = select(RunEvent.configuration_snapshot).where(RunEvent.id == previous_id)
    before = session.scalar(query)
    if not before:
        return []
    return plan_changes(
        PipelinePlan.from_dict(before), PipelinePlan.from_dict(event.configuration_snapshot)
    )


def _previous_run_id(session: Session, event: RunEvent) -> int | None:
    query = select(func.max(RunEvent.id)).where(
        RunEvent.pipeline_id == event.pipeline_id, RunEvent.id < event.id
    )
    return session.scalar(query)


def _plan(event: RunEvent) -> list[tuple[Any, Any]]:
    if not event.configuration_snapshot:
        return []
    plan = PipelinePlan.from_dict(event.configuration_snapshot)
    return [(group, task) for group in plan.groups for task in group.tasks]


def _last_successes(session: Session, event: RunEvent, ids: list[int]) -> dict[int, int]:
    """Per transformation, the latest earlier run of the pipeline in which it succeeded."""
    if not ids:
        return {}
    query = (
        select(TaskRun.transformation_id, func.max(TaskRun.run_event_id))
        .join(RunEvent, RunEvent.id == TaskRun.run_event_id)
        .where(
            RunEvent.pipeline_id == event.pipeline_id,
            RunEvent.id < event.id,
            TaskRun.state == "success",
            TaskRun.transformation_id.in_(ids),
        )
        .group_by(TaskRun.transformation_id)
    )
    return dict(session.execute(query).all())


def _task_row(group: Any, task: Any, row: TaskRun | None, earlier: dict[int, int]) -> TaskRow:
    return TaskRow(
        transformation_id=task.transformation_id,
        task_id=task.task_id,
        template=task.template,
        state_name=task.state,
        group_step=group.step,
        state=row.state if row else "pending",
        attempt=row.attempt if row else 0,
        started_at=row.started_at if row else None,
        ended_at=row.ended_at if row else None,
        duration_seconds=duration(row.started_at, row.ended_at) if row else None,
        rows_in=row.rows_in if row else None,
        rows_out=row.rows_out if row else None,
        error_summary=row.error_summary if row else None,
        notebook_location=row.notebook_location if row else None,
        output_references=row.output_references if row else None,
        notes=task_notes(row),
        diff_against=earlier.get(task.transformation_id),
        job_id=row.job_id if row else None,
        try_number=row.try_number if row else None,
    )
