"""The pipeline list, its filters, one pipeline's structure, its plan and reordering.

Every function loads what it shows in a fixed number of queries, however many
pipelines or transformations there are.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from core.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    TransformationVariableError,
    did_you_mean,
)
from core.models import configuration as cfg
from core.plan.check import (
    PipelineCheck,
    check_plan,
    cross_problems,
    load_schemas,
    tasks_of_plan,
)
from core.plan.model import PipelinePlan, build_plan
from core.plan.queries import PlanFilters, load_plans
from core.service.catalog import schedules_of_all
from core.service.listing import page_problems, text_search
from core.service.resources import commit, unstorable, valid_id

SORTS = ("name", "updated_at", "last_run_at", "is_active")


@dataclass(frozen=True)
class PipelineRow:
    """One line of the pipeline list."""

    id: int
    name: str
    description: str | None
    company: str
    brand: str
    segment: str
    pipeline_type: str
    is_active: bool
    run_frequency: str
    updated_at: dt.datetime | None
    last_run_id: int | None
    last_run_state: str | None
    last_run_at: dt.datetime | None


def list_pipelines(
    session: Session,
    filters: PlanFilters,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "name",
) -> tuple[list[PipelineRow], int]:
    """A page of the pipeline list with each pipeline's last run, in two queries.

    Raises:
        InvalidInputError: an unknown sort field, a filter or search text that no
            database can compare (NUL characters), limit or offset out of range.
    """
    _check_list_input(filters, q, limit, offset)
    conditions = filters.conditions()
    if q:
        conditions.append(text_search(q, (cfg.Pipeline.name, cfg.Pipeline.description)))
    total = session.scalar(select(func.count(cfg.Pipeline.id)).where(*conditions)) or 0
    query = _list_query().where(*conditions).order_by(*_order(sort)).limit(limit).offset(offset)
    # The columns are selected in PipelineRow's field order (row._asdict() per row
    # cost more than the query).
    return [PipelineRow(*row) for row in session.execute(query)], total


def _check_list_input(filters: PlanFilters, q: str | None, limit: int, offset: int) -> None:
    texts = {
        "company": filters.company,
        "brand": filters.brand,
        "type": filters.pipeline_type,
        "q": q,
    }
    problems: list[Any] = [
        (name, value, unstorable(value)) for name, value in texts.items() if unstorable(value)
    ]
    problems += page_problems(limit, offset)
    if problems:
        raise InvalidInputError(problems)


@functools.cache
def _list_query() -> Any:
    """The list's SELECT without filters, order and page; built once (statements are
    immutable, and building this one cost as much as running it).

    Each pipeline's last run is found by a correlated subquery on the indexed
    run_events.pipeline_id, so only the rows of the page are looked up, however
    many runs there are (a GROUP BY over every run grew with the run history).
    """
    newer = aliased(cfg.RunEvent)
    last_run_id = (
        select(func.max(newer.id))
        .where(newer.pipeline_id == cfg.Pipeline.id)
        .correlate(cfg.Pipeline)
        .scalar_subquery()
    )
    return (
        select(
            cfg.Pipeline.id,
            cfg.Pipeline.name,
            cfg.Pipeline.description,
            cfg.PharmaceuticalCompany.name.label("company"),
            cfg.Brand.name.label("brand"),
            cfg.Segment.name.label("segment"),
            cfg.PipelineType.name.label("pipeline_type"),
            cfg.Pipeline.is_active,
            cfg.Pipeline.run_frequency,
            cfg.Pipeline.updated_at,
            cfg.RunEvent.id.label("last_run_id"),
            cfg.RunEvent.state.label("last_run_state"),
            func.coalesce(cfg.RunEvent.started_at, cfg.RunEvent.created_at).label("last_run_at"),
        )
        .join(cfg.Brand, cfg.Pipeline.brand_id == cfg.Brand.id)
        .join(cfg.PharmaceuticalCompany)
        .join(cfg.PipelineType, cfg.Pipeline.pipeline_type_id == cfg.PipelineType.id)
        .join(cfg.Segment)
        .outerjoin(cfg.RunEvent, cfg.RunEvent.id == last_run_id)
    )


def _order(sort: str) -> list[Any]:
    name = sort.removeprefix("-")
    if name not in SORTS:
        raise InvalidInputError(
            [("sort", sort, f"expected one of {', '.join(SORTS)}." + did_you_mean(name, SORTS))]
        )
    column = {
        "name": cfg.Pipeline.name,
        "updated_at": cfg.Pipeline.updated_at,
        "is_active": cfg.Pipeline.is_active,
        "last_run_at": func.coalesce(cfg.RunEvent.started_at, cfg.RunEvent.created_at),
    }[name]
    return [column.desc() if sort.startswith("-") else column.asc(), cfg.Pipeline.id]


def filter_values(session: Session) -> dict[str, list[Any]]:
    """The distinct values of the list's filters, in three queries."""
    names = {
        "companies": select(cfg.PharmaceuticalCompany.name),
        "brands": select(cfg.Brand.name).distinct(),
        "pipeline_types": select(cfg.PipelineType.name),
    }
    values: dict[str, list[Any]] = {
        key: sorted(session.scalars(query)) for key, query in names.items()
    }
    values["active"] = [True, False]
    return values


def load_pipeline(session: Session, pipeline_id: int) -> cfg.Pipeline:
    """A pipeline with its states, transformations, templates and variables loaded.

    Raises:
        NotFoundError: no such pipeline.
    """
    transformations = selectinload(cfg.Pipeline.pipeline_states).selectinload(
        cfg.PipelineState.transformations
    )
    query = (
        select(cfg.Pipeline)
        .where(cfg.Pipeline.id == pipeline_id)
        .options(
            joinedload(cfg.Pipeline.brand).joinedload(cfg.Brand.pharmaceutical_company),
            joinedload(cfg.Pipeline.pipeline_type).joinedload(cfg.PipelineType.segment),
            selectinload(cfg.Pipeline.pipeline_states).joinedload(
                cfg.PipelineState.pipeline_state_type
            ),
            transformations.joinedload(cfg.Transformation.transformation_template),
            transformations.selectinload(cfg.Transformation.transformation_variables),
            transformations.selectinload(cfg.Transformation.dataset_checks),
        )
    )
    pipeline = session.scalars(query).unique().one_or_none() if valid_id(pipeline_id) else None
    if pipeline is None:
        raise NotFoundError(f"no pipeline with id {pipeline_id}")
    return pipeline


def pipeline_plan(session: Session, pipeline_id: int) -> PipelinePlan:
    """The ordered groups (and so the spacers) the pipeline's DAG will have.

    Raises:
        NotFoundError: no such pipeline.
    """
    return build_plan(load_pipeline(session, pipeline_id))


def check_pipeline(session: Session, pipeline_id: int) -> PipelineCheck:
    """Every problem of a pipeline: what ``core pipelines check``, the API and the UI show,
    and what refuses a run (core.plan.check), in five queries.

    Raises:
        NotFoundError: no such pipeline.
    """
    valid = valid_id(pipeline_id)
    plans = load_plans(session, only_active=False, ids=[pipeline_id]) if valid else []
    if not plans:
        raise NotFoundError(f"no pipeline with id {pipeline_id}")
    return check_plan(session, plans[0])


@dataclass(frozen=True)
class Placement:
    """Where one transformation goes: its state and its graph_order there."""

    transformation_id: int
    pipeline_state_id: int
    graph_order: int


def arrange(
    session: Session, pipeline_id: int, placements: Sequence[Placement], save: bool
) -> PipelinePlan:
    """Move and reorder transformations within a pipeline; the plan that results.

    Args:
        save: commit the change; otherwise it is only previewed (rolled back).

    Raises:
        NotFoundError: no such pipeline.
        InvalidInputError: a transformation or state not of this pipeline, a bad order,
            or a template placed in a state it does not belong to.
    """
    pipeline = load_pipeline(session, pipeline_id)
    before, held = build_plan(pipeline), schedules_of_all(session)
    problems = _place(pipeline, placements)
    plan = build_plan(pipeline)
    if not problems:
        problems = _broken_by_order(session, before, plan)
    if not problems:  # a move to another state renames the dataset others may wait on
        session.flush()
        problems = [("placements", None, m) for m in sorted(schedules_of_all(session) - held)]
    if problems:
        session.rollback()
        raise InvalidInputError(problems)
    if save:
        commit(session, f"pipeline {pipeline.name!r}")
    else:
        session.rollback()
    return plan


def _broken_by_order(session: Session, before: PipelinePlan, after: PipelinePlan) -> list[Any]:
    """Problems across transformations that a new order creates (an input now read before
    it is written), each naming the transformation it breaks."""
    old_tasks, new_tasks = tasks_of_plan(before), tasks_of_plan(after)
    schemas = load_schemas(session, {t.template for t in new_tasks})
    known = {(p.transformation_id, p.field, p.value) for p in cross_problems(old_tasks, schemas)}
    return [
        ("placements", p.value, f"this order would break {p.transformation}: {p.message}")
        for p in cross_problems(new_tasks, schemas)
        if (p.transformation_id, p.field, p.value) not in known
    ]


def _place(pipeline: cfg.Pipeline, placements: Sequence[Placement]) -> list[Any]:
    states = {s.id: s for s in pipeline.pipeline_states}
    owned = {t.id: t for s in pipeline.pipeline_states for t in s.transformations}
    problems: list[Any] = []
    for i, place in enumerate(placements):
        where = f"placements.{i}"
        moving, target = owned.get(place.transformation_id), states.get(place.pipeline_state_id)
        if moving is None or target is None:
            field, value = (
                ("transformation_id", place.transformation_id)
                if moving is None
                else ("pipeline_state_id", place.pipeline_state_id)
            )
            problems.append((f"{where}.{field}", value, f"is not part of {pipeline.name!r}"))
            continue
        moving.pipeline_state = target
        try:
            moving.graph_order = place.graph_order
        except ConfigurationError as exc:
            problems.append((f"{where}.graph_order", place.graph_order, str(exc)))
            continue
        misplaced = [p for p in moving.check() if not isinstance(p, TransformationVariableError)]
        problems += [(f"{where}.pipeline_state_id", target.id, str(p)) for p in misplaced]
    return problems
