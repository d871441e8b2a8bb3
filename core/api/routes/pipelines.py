"""The pipeline list with the original GUI's filters, one pipeline, its plan, reordering."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from core.api.deps import Editor, SessionDep, Viewer
from core.api.schemas import (
    Id,
    In,
    Moment,
    Page,
    PipelineOut,
    TransformationOut,
    json_response,
)
from core.plan.queries import PlanFilters
from core.service import pipelines as service
from core.service.listing import MAX_LIMIT, MAX_OFFSET
from core.service.resources import MAX_ID

router = APIRouter(prefix="/api", tags=["pipelines"])
PipelineId = Annotated[int, Path(ge=1, le=MAX_ID, description="the pipeline's id")]


class PipelineListItem(BaseModel):
    id: int
    name: str
    description: str | None
    company: str
    brand: str
    segment: str
    pipeline_type: str
    is_active: bool
    run_frequency: str
    updated_at: Moment
    last_run_id: int | None
    last_run_state: str | None
    last_run_at: Moment


class Filters(BaseModel):
    companies: list[str]
    brands: list[str]
    pipeline_types: list[str]
    active: list[bool]


class StateOut(BaseModel):
    id: int
    name: str
    graph_order: int
    transformations: list[TransformationOut]


class PipelineDetail(PipelineOut):
    company: str
    brand: str
    segment: str
    pipeline_type: str
    states: list[StateOut]


class PlacementIn(In):
    transformation_id: Id
    pipeline_state_id: Id
    graph_order: Annotated[int, Field(ge=0, le=1_000_000)]


class Arrangement(In):
    placements: list[PlacementIn] = Field(max_length=10_000)
    save: bool = Field(True, description="false: only preview the plan")


@router.get("/pipelines", response_model=Page[PipelineListItem])
def list_pipelines(
    session: SessionDep,
    _: Viewer,
    company: Annotated[str | None, Query(max_length=100)] = None,
    brand: Annotated[str | None, Query(max_length=100)] = None,
    pipeline_type: Annotated[str | None, Query(alias="type", max_length=200)] = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    sort: Annotated[str, Query(max_length=50)] = "name",
) -> Any:
    """Pipelines with their last run, filtered like the original GUI and searched by text."""
    filters = PlanFilters(company=company, brand=brand, pipeline_type=pipeline_type, active=active)
    rows, total = service.list_pipelines(session, filters, q, limit, offset, sort)
    items = [PipelineListItem.model_validate(row, from_attributes=True) for row in rows]
    return json_response(
        Page[PipelineListItem](items=items, total=total, limit=limit, offset=offset)
    )


@router.get("/filters", response_model=Filters)
def filters(session: SessionDep, _: Viewer) -> Any:
    """The distinct values of the pipeline list's filters."""
    return json_response(Filters(**service.filter_values(session)))


@router.get("/pipelines/{pipeline_id}", response_model=PipelineDetail)
def get_pipeline(pipeline_id: PipelineId, session: SessionDep, _: Viewer) -> Any:
    """A pipeline with its states and their transformations, in graph order."""
    return json_response(detail(service.load_pipeline(session, pipeline_id)))


@router.get("/pipelines/{pipeline_id}/plan")
def get_plan(pipeline_id: PipelineId, session: SessionDep, _: Viewer) -> dict[str, Any]:
    """The ordered groups the pipeline's DAG will have; a spacer precedes each group."""
    return JSONResponse(plan_body(service.pipeline_plan(session, pipeline_id)))


class CheckProblemOut(BaseModel):
    transformation_id: int | None
    transformation: str
    state: str
    field: str
    value: Any
    message: str


class PipelineCheckOut(BaseModel):
    pipeline_id: int
    pipeline: str
    ok: bool
    problems: list[CheckProblemOut]


@router.get("/pipelines/{pipeline_id}/check", response_model=PipelineCheckOut)
def check(pipeline_id: PipelineId, session: SessionDep, _: Viewer) -> Any:
    """Every problem of the whole pipeline at once: each transformation's variables (type
    and meaning), then across transformations (inputs, SQL tables, duplicate outputs).
    A pipeline with problems is not run: "run now" answers 409 with the same list."""
    return JSONResponse(service.check_pipeline(session, pipeline_id).to_dict())


@router.put("/pipelines/{pipeline_id}/arrangement")
def arrange(pipeline_id: PipelineId, body: Arrangement, session: SessionDep, _: Editor) -> Any:
    """Move and reorder transformations; with save=false, preview the plan it would give."""
    places = [service.Placement(**p.model_dump()) for p in body.placements]
    return JSONResponse(plan_body(service.arrange(session, pipeline_id, places, body.save)))


def plan_body(plan: Any) -> dict[str, Any]:
    """A plan as JSON, each group with the spacer task that precedes it."""
    body = plan.to_dict()
    for group, data in zip(plan.groups, body["groups"], strict=True):
        data["spacer_id"] = group.spacer_id
        for task, task_data in zip(group.tasks, data["tasks"], strict=True):
            task_data["task_id"] = task.task_id
    return body


def detail(pipeline: Any) -> PipelineDetail:
    """The detail shape of a loaded pipeline."""
    states = [
        StateOut(
            id=state.id,
            name=state.pipeline_state_type.name,
            graph_order=state.graph_order,
            transformations=[TransformationOut.model_validate(t) for t in state.transformations],
        )
        for state in pipeline.pipeline_states
    ]
    base = PipelineOut.model_validate(pipeline).model_dump()
    return PipelineDetail(
        **base,
        company=pipeline.brand.pharmaceutical_company.name,
        brand=pipeline.brand.name,
        segment=pipeline.pipeline_type.segment.name,
        pipeline_type=pipeline.pipeline_type.name,
        states=states,
    )
