"""The choices of the UI's select boxes, each in one query of plain rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models import configuration as cfg


@dataclass(frozen=True)
class Choice:
    """One option of a select box."""

    id: int
    label: str
    group: str = ""


def brands(session: Session) -> list[Choice]:
    """Every brand, labelled by its company (one query)."""
    query = (
        select(cfg.Brand.id, cfg.Brand.name, cfg.PharmaceuticalCompany.name)
        .join(cfg.Brand.pharmaceutical_company)
        .order_by(cfg.PharmaceuticalCompany.name, cfg.Brand.name)
    )
    return [
        Choice(i, f"{company} / {brand}", company) for i, brand, company in session.execute(query)
    ]


def pipeline_types(session: Session) -> list[Choice]:
    """Every pipeline type, with its segment (one query)."""
    query = (
        select(cfg.PipelineType.id, cfg.PipelineType.name, cfg.Segment.name)
        .join(cfg.PipelineType.segment)
        .order_by(cfg.PipelineType.name)
    )
    return [
        Choice(i, f"{name} ({segment})", segment) for i, name, segment in session.execute(query)
    ]


def state_types(session: Session) -> list[Choice]:
    """Every pipeline state type, in the lake's order (one query)."""
    query = select(cfg.PipelineStateType.id, cfg.PipelineStateType.name).order_by(
        cfg.PipelineStateType.graph_order, cfg.PipelineStateType.name
    )
    return [Choice(i, name) for i, name in session.execute(query)]


@dataclass(frozen=True)
class TemplateChoice:
    """A template as offered for a state: its state type (None: any state)."""

    id: int
    name: str
    kind: str
    description: str | None
    state_type_id: int | None


def templates(session: Session) -> list[TemplateChoice]:
    """Every transformation template, by name (one query)."""
    query = select(
        cfg.TransformationTemplate.id,
        cfg.TransformationTemplate.name,
        cfg.TransformationTemplate.kind,
        cfg.TransformationTemplate.description,
        cfg.TransformationTemplate.pipeline_state_type_id,
    ).order_by(cfg.TransformationTemplate.name)
    return [TemplateChoice(*row) for row in session.execute(query)]


def pipeline_of_state(session: Session, state_id: int) -> tuple[int, str, str]:
    """(pipeline id, pipeline name, state name) of a pipeline state (one query).

    Raises:
        NotFoundError: no such state.
    """
    query = (
        select(cfg.Pipeline.id, cfg.Pipeline.name, cfg.PipelineStateType.name)
        .join(cfg.PipelineState, cfg.PipelineState.pipeline_id == cfg.Pipeline.id)
        .join(cfg.PipelineState.pipeline_state_type)
        .where(cfg.PipelineState.id == state_id)
    )
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"no pipeline state with id {state_id}")
    return row[0], row[1], row[2]


def pipelines(session: Session) -> list[Choice]:
    """Every pipeline's id and name, by name (one query)."""
    query = select(cfg.Pipeline.id, cfg.Pipeline.name).order_by(cfg.Pipeline.name)
    return [Choice(i, name) for i, name in session.execute(query)]
