"""A pipeline's schedule in words with its next fire times, and deleting a pipeline.

Its fields are edited with ``PATCH /api/pipelines/{id}`` (core.api.routes.resources);
``DELETE /api/pipelines/{id}`` deactivates it, keeping its rows; a pipeline that never
ran is deleted for good, with what goes with it, by ``POST .../delete``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from core.api.deps import Editor, SessionDep, Viewer
from core.api.schemas import json_response
from core.service import pipelines as service
from core.service.pipeline_edit import delete_pipeline, deletion_impact, schedule_view
from core.service.resources import MAX_ID

router = APIRouter(prefix="/api", tags=["pipelines"])
PipelineId = Annotated[int, Path(ge=1, le=MAX_ID, description="the pipeline's id")]


class ScheduleOut(BaseModel):
    run_frequency: str
    description: str = Field(description='In words, e.g. "At 06:00 AM, Monday through Friday".')
    next_fire_times: list[dt.datetime] = Field(description="The next three, UTC; none for none.")


class DeletionOut(BaseModel):
    pipeline_id: int
    name: str
    states: int
    transformations: int
    variables: int
    checks: int
    runs: int = Field(description="Runs keep a pipeline: one that has runs cannot be deleted.")
    summary: str


class DeleteIn(BaseModel):
    confirm: str = Field(max_length=250, description="The pipeline's name, to confirm.")


@router.get("/schedule", response_model=ScheduleOut)
def preview_schedule(
    _: Viewer, run_frequency: Annotated[str, Query(max_length=100)] = "none"
) -> Any:
    """What a run frequency means and when it would next fire; 422 for an invalid one."""
    return json_response(
        ScheduleOut.model_validate(schedule_view(run_frequency), from_attributes=True)
    )


@router.get("/pipelines/{pipeline_id}/schedule", response_model=ScheduleOut)
def pipeline_schedule(pipeline_id: PipelineId, session: SessionDep, _: Viewer) -> Any:
    """The pipeline's run frequency in words and its next three fire times."""
    frequency = service.load_pipeline(session, pipeline_id).run_frequency
    return json_response(ScheduleOut.model_validate(schedule_view(frequency), from_attributes=True))


@router.get("/pipelines/{pipeline_id}/deletion", response_model=DeletionOut)
def deletion(pipeline_id: PipelineId, session: SessionDep, _: Viewer) -> Any:
    """What deleting the pipeline would take with it, and its runs (which forbid it)."""
    return json_response(_out(deletion_impact(session, pipeline_id)))


@router.post("/pipelines/{pipeline_id}/delete", response_model=DeletionOut)
def delete(pipeline_id: PipelineId, body: DeleteIn, session: SessionDep, _: Editor) -> Any:
    """Delete a pipeline that never ran, with its states, transformations, variables and
    checks; ``confirm`` is its name. 409 when it has runs (deactivate it instead)."""
    return json_response(_out(delete_pipeline(session, pipeline_id, body.confirm)))


def _out(impact: Any) -> DeletionOut:
    return DeletionOut.model_validate(impact, from_attributes=True)
