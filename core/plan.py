"""PipelinePlan: the ordered task groups of a pipeline, built from the configuration.

The plan is plain, JSON-able data and imports nothing from Airflow, so the
Airflow DAG, the local runner, the CLI and the API all share one ordering:
states by their graph_order, transformations of a state grouped by equal
graph_order, empty states skipped. All plans come from the database in a
fixed number of queries, whatever the number of pipelines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.errors import NotFoundError, did_you_mean
from core.models import configuration as cfg


@dataclass(frozen=True)
class TaskSpec:
    """One transformation as a task of the plan."""

    transformation_id: int
    template: str
    kind: str
    entrypoint: str | None
    state: str
    graph_order: int
    retries: int
    retry_delay_seconds: int
    variables: dict[str, str | None]

    @property
    def task_id(self) -> str:
        """The Airflow task id: ``{state}_{template}_{transformation id}``."""
        return f"{self.state}_{self.template}_{self.transformation_id}"


@dataclass(frozen=True)
class TaskGroup:
    """Transformations of one state with equal graph_order: they run in parallel."""

    step: int
    state: str
    graph_order: int
    tasks: list[TaskSpec]

    @property
    def spacer_id(self) -> str:
        """The spacer task in front of this group: ``{state}_group_step_{step}``."""
        return f"{self.state}_group_step_{self.step}"


@dataclass(frozen=True)
class PipelinePlan:
    """Everything needed to schedule one pipeline, without the database."""

    pipeline_id: int
    name: str
    company: str
    brand: str
    segment: str
    pipeline_type: str
    is_active: bool
    run_frequency: str
    description: str | None
    groups: list[TaskGroup] = field(default_factory=list)

    @property
    def tasks(self) -> list[TaskSpec]:
        """Every task, in execution order."""
        return [task for group in self.groups for task in group.tasks]

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data (run snapshots, caches, the API)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelinePlan:
        """The inverse of :meth:`to_dict`."""
        groups = [
            TaskGroup(**{**g, "tasks": [TaskSpec(**t) for t in g["tasks"]]}) for g in data["groups"]
        ]
        return cls(**{**data, "groups": groups})


@dataclass(frozen=True)
class PlanFilters:
    """The pipeline list's filters (the original GUI's): None means any."""

    company: str | None = None
    brand: str | None = None
    pipeline_type: str | None = None
    active: bool | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Restrict a query over Pipeline to the pipelines these filters allow."""
        if self.company is not None or self.brand is not None:
            query = query.join(cfg.Pipeline.brand).join(cfg.Brand.pharmaceutical_company)
        if self.company is not None:
            query = query.where(cfg.PharmaceuticalCompany.name == self.company)
        if self.brand is not None:
            query = query.where(cfg.Brand.name == self.brand)
        if self.pipeline_type is not None:
            query = query.join(cfg.Pipeline.pipeline_type).where(
                cfg.PipelineType.name == self.pipeline_type
            )
        if self.active is not None:
            query = query.where(cfg.Pipeline.is_active.is_(self.active))
        return query


def load_plans(
    session: Session,
    only_active: bool = True,
    names: list[str] | None = None,
    filters: PlanFilters | None = None,
) -> list[PipelinePlan]:
    """The plans of the configured pipelines, ordered by name.

    Args:
        session: a configuration session.
        only_active: leave out inactive pipelines.
        names: only these pipelines (all when None).
        filters: only pipelines of this company, brand, type or activity.

    Returns:
        One plan per pipeline, built from a fixed number of queries.
    """
    query = (
        select(cfg.Pipeline)
        .options(
            joinedload(cfg.Pipeline.brand).joinedload(cfg.Brand.pharmaceutical_company),
            joinedload(cfg.Pipeline.pipeline_type).joinedload(cfg.PipelineType.segment),
            selectinload(cfg.Pipeline.pipeline_states).joinedload(
                cfg.PipelineState.pipeline_state_type
            ),
            selectinload(cfg.Pipeline.pipeline_states)
            .selectinload(cfg.PipelineState.transformations)
            .options(
                joinedload(cfg.Transformation.transformation_template),
                selectinload(cfg.Transformation.transformation_variables),
            ),
        )
        .order_by(cfg.Pipeline.name)
    )
    if only_active:
        query = query.where(cfg.Pipeline.is_active.is_(True))
    if names is not None:
        query = query.where(cfg.Pipeline.name.in_(names))
    if filters is not None:
        query = filters.apply(query)
    return [build_plan(pipeline) for pipeline in session.scalars(query).unique()]


def load_plan(session: Session, name: str) -> PipelinePlan:
    """The plan of one pipeline, active or not.

    Raises:
        NotFoundError: no pipeline has that name (with close names suggested).
    """
    plans = load_plans(session, only_active=False, names=[name])
    if not plans:
        known = session.scalars(select(cfg.Pipeline.name)).all()
        raise NotFoundError(f"no pipeline named {name!r}." + did_you_mean(name, known))
    return plans[0]


def build_plan(pipeline: cfg.Pipeline) -> PipelinePlan:
    """The plan of a loaded pipeline (its states and transformations already loaded)."""
    states = sorted(
        pipeline.pipeline_states,
        key=lambda s: (s.graph_order, s.pipeline_state_type.graph_order, s.id),
    )
    groups: list[TaskGroup] = []
    for state in states:
        ordered = sorted(state.transformations, key=lambda t: (t.graph_order, t.id))
        for order, members in groupby(ordered, key=lambda t: t.graph_order):
            tasks = [_task(t, state.pipeline_state_type.name) for t in members]
            groups.append(TaskGroup(len(groups), state.pipeline_state_type.name, order, tasks))
    return PipelinePlan(
        pipeline_id=pipeline.id,
        name=pipeline.name,
        company=pipeline.brand.pharmaceutical_company.name,
        brand=pipeline.brand.name,
        segment=pipeline.pipeline_type.segment.name,
        pipeline_type=pipeline.pipeline_type.name,
        is_active=pipeline.is_active,
        run_frequency=pipeline.run_frequency,
        description=pipeline.description,
        groups=groups,
    )


def _task(transformation: cfg.Transformation, state: str) -> TaskSpec:
    template = transformation.transformation_template
    return TaskSpec(
        transformation_id=transformation.id,
        template=template.name,
        kind=template.kind,
        entrypoint=template.entrypoint,
        state=state,
        graph_order=transformation.graph_order,
        retries=transformation.retries,
        retry_delay_seconds=transformation.retry_delay_seconds,
        variables=transformation.stored_variables,
    )
