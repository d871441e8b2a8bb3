"""What one change may not break: the transformations that use a row, and the lake's order.

Each guard sees a row as stored and the values a client sent, and returns the
problems (each naming its field, the value and the transformations it would break)
before anything is assigned; a delete guard raises ConflictError. The resources of
``catalog`` name their guards, so the API, the UI and the CLI refuse the same changes.

- the built-in state types (raw … dimensional) keep their names and their order:
  contracts, templates and every DAG are built on them;
- a template in use keeps its name (workers find its function or notebook by it),
  and its variables may change only in ways its transformations' variables still fit;
- a transformation stays in its pipeline (the arrangement route refuses moves too);
- the raw state comes before every other state of its pipeline;
- a pipeline state with transformations is not deleted (its transformations with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.errors import ConfigurationError, ConflictError
from core.models import configuration as cfg
from core.models.variables import check_variables, load_schema
from core.service.resources import Problem

RAW = cfg.STATE_TYPE_ORDER[0]
# How many transformations a message names before it says "and N more".
NAMED = 10


def guard_state_type(
    session: Session, row: cfg.PipelineStateType, values: Mapping[str, Any]
) -> list[Problem]:
    """The built-in state types cannot be renamed or reordered."""
    if row.id is None or row.name not in cfg.STATE_TYPE_ORDER:
        return []
    problems: list[Problem] = []
    for field in ("name", "graph_order"):
        if field in values and values[field] != getattr(row, field):
            problems.append(
                (
                    field,
                    values[field],
                    f"pipeline state type {row.name!r} is built in: its {field} stays "
                    f"{getattr(row, field)!r} (contracts, templates and every DAG rely on the "
                    f"order {', '.join(cfg.STATE_TYPE_ORDER)}); add a new state type instead",
                )
            )
    return problems


def guard_template(
    session: Session, row: cfg.TransformationTemplate, values: Mapping[str, Any]
) -> list[Problem]:
    """A template in use keeps its name, and its variables keep fitting its transformations."""
    if row.id is None:
        return []
    renamed = "name" in values and values["name"] != row.name
    restructured = "variable_structures" in values and values["variable_structures"] != (
        row.variable_structures
    )
    if not renamed and not restructured:
        return []
    users = _template_users(session, row.id)
    if not users:
        return []
    problems: list[Problem] = []
    if renamed:
        problems.append(
            (
                "name",
                values["name"],
                f"transformation template {row.name!r} is used by {_names(users)}: renaming "
                "it would break them (workers find its code by name); create a new template "
                "and move them to it instead",
            )
        )
    if restructured:
        problems += _broken_by_structures(row, values["variable_structures"], users)
    return problems


def _broken_by_structures(
    row: cfg.TransformationTemplate, structures: Any, users: list[cfg.Transformation]
) -> list[Problem]:
    try:
        schema = load_schema(structures, row.name)
    except ConfigurationError:
        return []  # the template's own validator reports a malformed schema
    broken = {}
    for transformation in users:
        found = check_variables(schema, transformation.stored_variables, transformation.label)
        if found:
            broken[transformation.label] = str(next(iter(found)))
    if not broken:
        return []
    shown = "; ".join(list(broken.values())[:NAMED])
    more = f" (and {len(broken) - NAMED} more)" if len(broken) > NAMED else ""
    return [
        (
            "variable_structures",
            structures,
            f"transformation template {row.name!r}: these variables would no longer fit "
            f"{len(broken)} transformation(s) that use it: {shown}{more}; change their "
            "variables first (or give the new variable a default)",
        )
    ]


def guard_transformation(
    session: Session, row: cfg.Transformation, values: Mapping[str, Any]
) -> list[Problem]:
    """A transformation stays in its pipeline: PATCH may move it between its own states only."""
    target = values.get("pipeline_state_id")
    if row.id is None or not isinstance(target, int) or target == row.pipeline_state_id:
        return []
    pipelines = dict(
        session.execute(
            select(cfg.PipelineState.id, cfg.PipelineState.pipeline_id).where(
                cfg.PipelineState.id.in_([row.pipeline_state_id, target])
            )
        ).all()
    )
    if target not in pipelines or pipelines[target] == pipelines.get(row.pipeline_state_id):
        return []  # a missing state is reported as a missing reference
    return [
        (
            "pipeline_state_id",
            target,
            f"{row.label} belongs to pipeline {pipelines.get(row.pipeline_state_id)} and cannot "
            f"be moved into pipeline {pipelines[target]} (its outputs, runs and history belong "
            "to its pipeline); create a new transformation there instead",
        )
    ]


def guard_pipeline_state(
    session: Session, row: cfg.PipelineState, values: Mapping[str, Any]
) -> list[Problem]:
    """The raw state comes first in its pipeline; a state stays in its pipeline."""
    problems: list[Problem] = []
    pipeline_id = values.get("pipeline_id", row.pipeline_id)
    if row.id is not None and "pipeline_id" in values and pipeline_id != row.pipeline_id:
        problems.append(
            (
                "pipeline_id",
                pipeline_id,
                f"pipeline state {row.id} belongs to pipeline {row.pipeline_id} and cannot be "
                "moved into another pipeline; add a state to that pipeline instead",
            )
        )
    order = values.get("graph_order", row.graph_order)
    type_id = values.get("pipeline_state_type_id", row.pipeline_state_type_id)
    if not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (pipeline_id, type_id, order)
    ):
        return problems  # the row's own checks report missing or mistyped values
    return problems + _raw_first(session, row, pipeline_id, type_id, order)


def _raw_first(
    session: Session, row: cfg.PipelineState, pipeline_id: int, type_id: int, order: int
) -> list[Problem]:
    query = (
        select(cfg.PipelineStateType.name, cfg.PipelineState.graph_order)
        .join(cfg.PipelineState.pipeline_state_type)
        .where(cfg.PipelineState.pipeline_id == pipeline_id)
    )
    if row.id is not None:
        query = query.where(cfg.PipelineState.id != row.id)
    others = session.execute(query).all()
    name = session.scalar(
        select(cfg.PipelineStateType.name).where(cfg.PipelineStateType.id == type_id)
    )
    if name == RAW:
        later = [other for other, other_order in others if other_order <= order]
        if later:
            return [
                (
                    "graph_order",
                    order,
                    f"the raw state must come before every other state of pipeline "
                    f"{pipeline_id}, but {', '.join(sorted(later))} would not come after it; "
                    "expected a graph_order lower than theirs",
                )
            ]
        return []
    raw = [other_order for other, other_order in others if other == RAW]
    if raw and order <= raw[0]:
        return [
            (
                "graph_order",
                order,
                f"state {name!r} of pipeline {pipeline_id} must come after its raw state "
                f"(graph_order {raw[0]}); expected a graph_order above {raw[0]}",
            )
        ]
    return []


def guard_pipeline_state_delete(session: Session, row: cfg.PipelineState) -> None:
    """A pipeline state with transformations is not deleted (it would take them along).

    Raises:
        ConflictError: the state still has transformations (the message names them).
    """
    query = (
        select(cfg.Transformation)
        .where(cfg.Transformation.pipeline_state_id == row.id)
        .options(selectinload(cfg.Transformation.transformation_template))
        .order_by(cfg.Transformation.id)
    )
    used = list(session.scalars(query))
    if used:
        raise ConflictError(
            f"pipeline state {row.id} cannot be deleted while it has transformations "
            f"({_names(used)}); delete or move them first"
        )


def _template_users(session: Session, template_id: int) -> list[cfg.Transformation]:
    query = (
        select(cfg.Transformation)
        .where(cfg.Transformation.transformation_template_id == template_id)
        .options(
            selectinload(cfg.Transformation.transformation_variables),
            selectinload(cfg.Transformation.transformation_template),
        )
        .order_by(cfg.Transformation.id)
    )
    return list(session.scalars(query))


def _names(rows: list[cfg.Transformation]) -> str:
    shown = ", ".join(row.label for row in rows[:NAMED])
    return shown + (f" and {len(rows) - NAMED} more" if len(rows) > NAMED else "")
