"""Templates as the UI and the API list them: their variables, and who uses each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.errors import NotFoundError
from core.models import configuration as cfg


@dataclass(frozen=True)
class VariableSpec:
    """One variable a template declares."""

    name: str
    type: str
    required: bool
    default: Any
    description: str | None


@dataclass(frozen=True)
class Use:
    """A transformation made from a template, and where it is."""

    transformation_id: int
    pipeline_id: int
    pipeline: str
    state: str


@dataclass(frozen=True)
class TemplateRow:
    """A template with its variables and the transformations made from it."""

    id: int
    name: str
    kind: str
    state: str | None
    description: str | None
    entrypoint: str | None
    tags: list[str]
    variables: list[VariableSpec]
    uses: list[Use] = field(default_factory=list)


def list_templates(session: Session) -> list[TemplateRow]:
    """Every template by name, with its variables and uses (two queries)."""
    uses = _uses(session)
    query = select(cfg.TransformationTemplate).options(
        joinedload(cfg.TransformationTemplate.pipeline_state_type),
        joinedload(cfg.TransformationTemplate.tags),
    )
    templates = session.scalars(query.order_by(cfg.TransformationTemplate.name)).unique()
    return [_row(t, uses.get(t.id, [])) for t in templates]


def template_detail(session: Session, template_id: int) -> TemplateRow:
    """One template with its variables and uses.

    Raises:
        NotFoundError: no such template.
    """
    for row in list_templates(session):
        if row.id == template_id:
            return row
    raise NotFoundError(f"no transformation template with id {template_id}")


def _uses(session: Session) -> dict[int, list[Use]]:
    query = (
        select(
            cfg.Transformation.transformation_template_id,
            cfg.Transformation.id,
            cfg.Pipeline.id,
            cfg.Pipeline.name,
            cfg.PipelineStateType.name,
        )
        .join(cfg.PipelineState, cfg.Transformation.pipeline_state_id == cfg.PipelineState.id)
        .join(cfg.Pipeline, cfg.PipelineState.pipeline_id == cfg.Pipeline.id)
        .join(
            cfg.PipelineStateType,
            cfg.PipelineState.pipeline_state_type_id == cfg.PipelineStateType.id,
        )
        .order_by(cfg.Pipeline.name, cfg.Transformation.id)
    )
    found: dict[int, list[Use]] = defaultdict(list)
    for template_id, tid, pid, pipeline, state in session.execute(query):
        found[template_id].append(Use(tid, pid, pipeline, state))
    return found


def _row(template: Any, uses: list[Use]) -> TemplateRow:
    specs = template.variable_structures or {}
    variables = [
        VariableSpec(
            name,
            str(spec.get("type", "string")),
            bool(spec.get("required", True)),
            spec.get("default"),
            spec.get("description"),
        )
        for name, spec in specs.items()
    ]
    return TemplateRow(
        id=template.id,
        name=template.name,
        kind=template.kind,
        state=template.pipeline_state_type.name if template.pipeline_state_type else None,
        description=template.description,
        entrypoint=template.entrypoint,
        tags=sorted(tag.name for tag in template.tags),
        variables=variables,
        uses=uses,
    )
