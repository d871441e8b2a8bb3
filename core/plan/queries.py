"""The plans of all pipelines in four flat queries, and a one-query fingerprint.

Every consumer of plans (the Airflow DAG file on every parse, the local runner,
the CLI, the API) reads them here: pipelines, states, transformations and
variables, each in one query of plain rows joined back to the pipelines it
needs, whatever their number. (ORM ``selectinload`` would split its ``IN`` lists
every 500 parents, and configuring the mappers alone costs half a second.) The
plans equal :func:`core.plan.model.build_plan` of the same ORM pipelines; a test
checks it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError, did_you_mean
from core.models import configuration as cfg
from core.plan.model import PipelinePlan, TaskGroup, TaskSpec, check_spec, output_dataset

COMPANY = cfg.PharmaceuticalCompany.__table__
BRAND = cfg.Brand.__table__
SEGMENT = cfg.Segment.__table__
PIPELINE_TYPE = cfg.PipelineType.__table__
PIPELINE = cfg.Pipeline.__table__
STATE_TYPE = cfg.PipelineStateType.__table__
STATE = cfg.PipelineState.__table__
TEMPLATE = cfg.TransformationTemplate.__table__
TRANSFORMATION = cfg.Transformation.__table__
VARIABLE = cfg.TransformationVariable.__table__
CHECK = cfg.DatasetCheck.__table__
AUDIT = cfg.AuditEvent.__table__
# Every table a plan is built from: a change to any of them changes the fingerprint.
FINGERPRINT_TABLES = (
    COMPANY,
    BRAND,
    SEGMENT,
    PIPELINE_TYPE,
    PIPELINE,
    STATE_TYPE,
    STATE,
    TEMPLATE,
    TRANSFORMATION,
    VARIABLE,
    CHECK,
)


@dataclass(frozen=True)
class PlanFilters:
    """The pipeline list's filters (the original GUI's): None means any."""

    company: str | None = None
    brand: str | None = None
    pipeline_type: str | None = None
    active: bool | None = None

    def conditions(self) -> list[Any]:
        """Conditions on the pipelines table that keep only what these filters allow."""
        conditions: list[Any] = []
        if self.company is not None or self.brand is not None:
            brands = select(BRAND.c.id).join(
                COMPANY, BRAND.c.pharmaceutical_company_id == COMPANY.c.id
            )
            if self.company is not None:
                brands = brands.where(COMPANY.c.name == self.company)
            if self.brand is not None:
                brands = brands.where(BRAND.c.name == self.brand)
            conditions.append(PIPELINE.c.brand_id.in_(brands))
        if self.pipeline_type is not None:
            types = select(PIPELINE_TYPE.c.id).where(PIPELINE_TYPE.c.name == self.pipeline_type)
            conditions.append(PIPELINE.c.pipeline_type_id.in_(types))
        if self.active is not None:
            conditions.append(PIPELINE.c.is_active.is_(self.active))
        return conditions


def load_plans(
    session: Session,
    only_active: bool = True,
    names: Sequence[str] | None = None,
    filters: PlanFilters | None = None,
    ids: Sequence[int] | None = None,
) -> list[PipelinePlan]:
    """The plans of the configured pipelines, ordered by name, in five queries.

    The queries select table columns, not ORM entities: no objects are loaded and
    the ORM's one-off mapper configuration (about half a second) is never paid.

    Args:
        session: a configuration session.
        only_active: leave out inactive pipelines.
        names: only these pipelines (all when None).
        filters: only pipelines of this company, brand, type or activity.
        ids: only the pipelines with these ids (all when None).

    Returns:
        One plan per pipeline, equal to ``build_plan`` of the same ORM pipelines.
    """
    db = session.connection()
    scope = _scope(only_active, names) + (filters.conditions() if filters else [])
    if ids is not None:
        scope.append(PIPELINE.c.id.in_(list(ids)))
    pipelines = db.execute(_pipelines_query(scope)).all()
    states = _by_key(db.execute(_states_query(scope)).all())
    tasks = _by_key(db.execute(_transformations_query(scope)).all())
    variables: dict[int, dict[str, str | None]] = defaultdict(dict)
    for transformation_id, name, value in db.execute(_variables_query(scope)):
        variables[transformation_id][name] = value
    checks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in db.execute(_checks_query(scope)):
        checks[row.transformation_id].append(check_spec(row))
    return [_plan(row, states.get(row.id, ()), tasks, variables, checks) for row in pipelines]


def load_plan(session: Session, name: str) -> PipelinePlan:
    """The plan of one pipeline, active or not.

    Raises:
        NotFoundError: no pipeline has that name (with close names suggested).
    """
    plans = load_plans(session, only_active=False, names=[name])
    if not plans:
        raise _unknown_pipeline(session, name)
    return plans[0]


def pipeline_id_named(session: Session, name: str) -> int:
    """The id of the pipeline called ``name``.

    Raises:
        NotFoundError: no pipeline has that name (with close names suggested).
    """
    found = session.connection().execute(select(PIPELINE.c.id).where(PIPELINE.c.name == name))
    pipeline_id = found.scalar()
    if pipeline_id is None:
        raise _unknown_pipeline(session, name)
    return pipeline_id


def _unknown_pipeline(session: Session, name: str) -> NotFoundError:
    known = session.connection().execute(select(PIPELINE.c.name)).scalars().all()
    return NotFoundError(f"no pipeline named {name!r}." + did_you_mean(name, known))


def configuration_fingerprint(session: Session) -> str:
    """A digest that changes whenever anything a plan is built from changes (one query).

    Each table contributes its row count, the sum of its ids and its latest
    ``updated_at``: an insert, a delete or an update (stamped by the ORM, and by
    triggers on PostgreSQL) moves at least one of them.

    Args:
        session: a configuration session.

    Returns:
        A short hexadecimal digest.
    """
    columns = []
    for table in FINGERPRINT_TABLES:
        columns += [
            select(func.count()).select_from(table).scalar_subquery(),
            select(func.coalesce(func.sum(table.c.id), 0)).scalar_subquery(),
            select(func.max(table.c.updated_at)).scalar_subquery(),
        ]
    # updated_at is stamped when a transaction starts, not when it commits, so a late
    # commit can hide behind an earlier one; the insert-only audit trail cannot.
    columns += [
        select(func.count()).select_from(AUDIT).scalar_subquery(),
        select(func.coalesce(func.max(AUDIT.c.id), 0)).scalar_subquery(),
    ]
    row = session.connection().execute(select(*columns)).one()
    return hashlib.sha256(repr(tuple(map(str, row))).encode()).hexdigest()[:24]


def _scope(only_active: bool, names: Sequence[str] | None) -> list[Any]:
    conditions: list[Any] = []
    if only_active:
        conditions.append(PIPELINE.c.is_active.is_(True))
    if names is not None:
        conditions.append(PIPELINE.c.name.in_(list(names)))
    return conditions


def _pipelines_query(scope: list[Any]) -> Select[Any]:
    return (
        select(
            PIPELINE.c.id,
            PIPELINE.c.name,
            COMPANY.c.name.label("company"),
            BRAND.c.name.label("brand"),
            SEGMENT.c.name.label("segment"),
            PIPELINE_TYPE.c.name.label("pipeline_type"),
            PIPELINE.c.is_active,
            PIPELINE.c.run_frequency,
            PIPELINE.c.description,
            PIPELINE.c.dataset_schedule,
            PIPELINE.c.max_active_runs,
        )
        .join(BRAND, PIPELINE.c.brand_id == BRAND.c.id)
        .join(COMPANY, BRAND.c.pharmaceutical_company_id == COMPANY.c.id)
        .join(PIPELINE_TYPE, PIPELINE.c.pipeline_type_id == PIPELINE_TYPE.c.id)
        .join(SEGMENT, PIPELINE_TYPE.c.segment_id == SEGMENT.c.id)
        .where(*scope)
        .order_by(PIPELINE.c.name)
    )


def _states_query(scope: list[Any]) -> Select[Any]:
    # (pipeline id, state id, state type name), ordered as build_plan orders states.
    return (
        select(STATE.c.pipeline_id, STATE.c.id, STATE_TYPE.c.name)
        .join(STATE_TYPE, STATE.c.pipeline_state_type_id == STATE_TYPE.c.id)
        .join(PIPELINE, STATE.c.pipeline_id == PIPELINE.c.id)
        .where(*scope)
        .order_by(STATE.c.pipeline_id, STATE.c.graph_order, STATE_TYPE.c.graph_order, STATE.c.id)
    )


def _transformations_query(scope: list[Any]) -> Select[Any]:
    return (
        select(
            TRANSFORMATION.c.pipeline_state_id,
            TRANSFORMATION.c.id,
            TEMPLATE.c.name,
            TEMPLATE.c.kind,
            TEMPLATE.c.entrypoint,
            TRANSFORMATION.c.graph_order,
            TRANSFORMATION.c.retries,
            TRANSFORMATION.c.retry_delay_seconds,
            TEMPLATE.c.variable_structures,
        )
        .join(TEMPLATE, TRANSFORMATION.c.transformation_template_id == TEMPLATE.c.id)
        .join(STATE, TRANSFORMATION.c.pipeline_state_id == STATE.c.id)
        .join(PIPELINE, STATE.c.pipeline_id == PIPELINE.c.id)
        .where(*scope)
        .order_by(
            TRANSFORMATION.c.pipeline_state_id, TRANSFORMATION.c.graph_order, TRANSFORMATION.c.id
        )
    )


def _variables_query(scope: list[Any]) -> Select[Any]:
    return (
        select(VARIABLE.c.transformation_id, VARIABLE.c.name, VARIABLE.c.value)
        .join(TRANSFORMATION, VARIABLE.c.transformation_id == TRANSFORMATION.c.id)
        .join(STATE, TRANSFORMATION.c.pipeline_state_id == STATE.c.id)
        .join(PIPELINE, STATE.c.pipeline_id == PIPELINE.c.id)
        .where(*scope)
        .order_by(VARIABLE.c.transformation_id, VARIABLE.c.name)
    )


def _checks_query(scope: list[Any]) -> Select[Any]:
    return (
        select(
            CHECK.c.transformation_id,
            CHECK.c.id,
            CHECK.c.kind,
            CHECK.c.arguments,
            CHECK.c.severity,
            CHECK.c.description,
        )
        .join(TRANSFORMATION, CHECK.c.transformation_id == TRANSFORMATION.c.id)
        .join(STATE, TRANSFORMATION.c.pipeline_state_id == STATE.c.id)
        .join(PIPELINE, STATE.c.pipeline_id == PIPELINE.c.id)
        .where(*scope)
        .order_by(CHECK.c.transformation_id, CHECK.c.id)
    )


def _by_key(rows: Iterable[Any]) -> dict[int, list[Any]]:
    """Rows grouped by their first column (already sorted by it)."""
    return {key: list(members) for key, members in groupby(rows, key=lambda row: row[0])}


def _plan(
    pipeline: Any,
    states: Iterable[Any],
    tasks: dict[int, list[Any]],
    variables: dict[int, dict[str, str | None]],
    checks: dict[int, list[dict[str, Any]]],
) -> PipelinePlan:
    groups: list[TaskGroup] = []
    for _, state_id, state in states:
        for order, members in groupby(tasks.get(state_id, ()), key=lambda row: row[5]):
            specs = [_task(row, state, variables, checks) for row in members]
            groups.append(TaskGroup(len(groups), state, order, specs))
    return PipelinePlan(
        pipeline_id=pipeline.id,
        name=pipeline.name,
        company=pipeline.company,
        brand=pipeline.brand,
        segment=pipeline.segment,
        pipeline_type=pipeline.pipeline_type,
        is_active=pipeline.is_active,
        run_frequency=pipeline.run_frequency,
        description=pipeline.description,
        groups=groups,
        dataset_schedule=pipeline.dataset_schedule,
        max_active_runs=pipeline.max_active_runs,
    )


def _task(
    row: Any,
    state: str,
    variables: dict[int, dict[str, str | None]],
    checks: dict[int, list[dict[str, Any]]],
) -> TaskSpec:
    _, transformation_id, template, kind, entrypoint, order, retries, delay, structures = row
    stored = variables.get(transformation_id, {})
    structures = dict(structures or {})
    return TaskSpec(
        transformation_id=transformation_id,
        template=template,
        kind=kind,
        entrypoint=entrypoint,
        state=state,
        graph_order=order,
        retries=retries,
        retry_delay_seconds=delay,
        variables=stored,
        variable_structures=structures,
        dataset=output_dataset(template, structures, stored),
        checks=checks.get(transformation_id, []),
    )


def plan_of_transformation(session: Session, transformation_id: int) -> PipelinePlan:
    """The plan of the pipeline a transformation belongs to, cut down to that one task.

    Args:
        session: a configuration session.
        transformation_id: the transformation's id.

    Returns:
        The pipeline's plan with a single group holding only this transformation.

    Raises:
        NotFoundError: no transformation has this id.
    """
    plan = pipeline_plan_of(session, transformation_id)
    task = next(t for t in plan.tasks if t.transformation_id == transformation_id)
    group = TaskGroup(0, task.state, task.graph_order, [task])
    return replace(plan, groups=[group])


def pipeline_plan_of(session: Session, transformation_id: int) -> PipelinePlan:
    """The whole plan of the pipeline a transformation belongs to, as configured now.

    Raises:
        NotFoundError: no transformation has this id.
    """
    name = session.scalar(
        select(cfg.Pipeline.name)
        .join(cfg.PipelineState, cfg.PipelineState.pipeline_id == cfg.Pipeline.id)
        .join(cfg.Transformation, cfg.Transformation.pipeline_state_id == cfg.PipelineState.id)
        .where(cfg.Transformation.id == transformation_id)
    )
    plans = load_plans(session, only_active=False, names=[name] if name else [])
    if not any(t.transformation_id == transformation_id for p in plans for t in p.tasks):
        raise NotFoundError(
            f"no transformation with id {transformation_id}: expected the id of a configured "
            "transformation; see `core pipelines show PIPELINE`"
        )
    return plans[0]
