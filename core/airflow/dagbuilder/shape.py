"""The shape of a pipeline's DAG, as plain data: what the DAG builder wires.

The task orchestrator builds the Airflow DAG from the same groups, and
``core dags show`` prints this shape without Airflow; a test checks that the
real DAG's edges are exactly these. The hourglass::

    RunEvent -> spacer 0 -> tasks of group 0 -> spacer 1 -> tasks of group 1 -> ... -> EndRun
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from core.lineage.schedule import describe
from core.names import schedule_for
from core.plan import PipelinePlan
from core.settings import Settings

RUN_EVENT_TASK_ID = "RunEvent"
END_RUN_TASK_ID = "EndRun"


@dataclass(frozen=True)
class ShapeTask:
    """One task of the DAG: kind is run_event, spacer, transform or end_run."""

    task_id: str
    kind: str
    retries: int = 0
    retry_delay_seconds: int = 0


@dataclass(frozen=True)
class DagShape:
    """Everything the DAG of one pipeline is made of, in execution order."""

    dag_id: str
    schedule: str | None
    start_date: dt.datetime
    max_active_runs: int
    tags: list[str]
    owner: str
    doc_md: str
    tasks: list[ShapeTask] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)


def dag_tags(plan: PipelinePlan) -> list[str]:
    """Tags for the Airflow UI's filters: company, brand, segment and pipeline type."""
    return [
        f"company:{plan.company}",
        f"brand:{plan.brand}",
        f"segment:{plan.segment}",
        f"type:{plan.pipeline_type}",
    ]


def doc_md(plan: PipelinePlan) -> str:
    """The DAG's documentation: the pipeline's description and where it belongs."""
    where = f"{plan.company} / {plan.brand} ({plan.segment}, {plan.pipeline_type})"
    return f"{plan.description or 'No description.'}\n\n{where}"


def start_date(settings: Settings) -> dt.datetime:
    """The fixed start date of every DAG (the ``dag_start_date`` setting, midnight UTC)."""
    return dt.datetime.combine(settings.dag_start_date, dt.time(), tzinfo=dt.UTC)


def dag_arguments(plan: PipelinePlan, settings: Settings) -> dict[str, Any]:
    """The keyword arguments of the pipeline's ``DAG(...)``.

    Args:
        plan: the pipeline's plan.
        settings: CORE's settings (start date, max active runs).

    Returns:
        dag_id, schedule, start_date, catchup, max_active_runs, tags, doc_md, default_args.
    """
    return {
        "dag_id": plan.name,
        "schedule": schedule_for(plan.run_frequency),
        "start_date": start_date(settings),
        "catchup": False,
        "max_active_runs": plan.max_active_runs or settings.max_active_runs,
        "tags": dag_tags(plan),
        "doc_md": doc_md(plan),
        "default_args": {"owner": plan.company},
    }


def dag_shape(plan: PipelinePlan, settings: Settings) -> DagShape:
    """The tasks and edges of a pipeline's DAG, in execution order.

    Args:
        plan: the pipeline's plan.
        settings: CORE's settings.

    Returns:
        The shape; a pipeline without transformations is ``RunEvent -> EndRun``.
    """
    args = dag_arguments(plan, settings)
    tasks = [ShapeTask(RUN_EVENT_TASK_ID, "run_event")]
    edges: list[tuple[str, str]] = []
    previous = [RUN_EVENT_TASK_ID]
    for group in plan.groups:
        tasks.append(ShapeTask(group.spacer_id, "spacer"))
        edges += [(upstream, group.spacer_id) for upstream in previous]
        previous = [task.task_id for task in group.tasks]
        for task in group.tasks:
            tasks.append(
                ShapeTask(task.task_id, "transform", task.retries, task.retry_delay_seconds)
            )
            edges.append((group.spacer_id, task.task_id))
    tasks.append(ShapeTask(END_RUN_TASK_ID, "end_run"))
    edges += [(upstream, END_RUN_TASK_ID) for upstream in previous]
    return DagShape(
        dag_id=plan.name,
        schedule=describe(plan.dataset_schedule) or args["schedule"],
        start_date=args["start_date"],
        max_active_runs=args["max_active_runs"],
        tags=args["tags"],
        owner=plan.company,
        doc_md=args["doc_md"],
        tasks=tasks,
        edges=edges,
    )
