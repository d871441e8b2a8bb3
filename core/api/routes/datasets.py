"""Datasets: the first rows of a run's output, and what a run changed since another."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.api.routes.runs import MAX_ID, IdPath
from core.api.schemas import json_response
from core.service import datasets as service

router = APIRouter(prefix="/api/datasets", tags=["datasets"])

Limit = Annotated[int, Query(ge=1, le=service.MAX_LIMIT, description="rows returned")]
RunId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="a run id; the latest with data if absent")
]


@router.get("/{transformation_id}/preview", response_model=service.Preview)
def preview(
    transformation_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    run_id: RunId = None,
    limit: Limit = 50,
) -> Any:
    """The first rows a run wrote to the transformation's output dataset."""
    return json_response(service.preview(settings, session, transformation_id, run_id, limit))


@router.get("/{transformation_id}/diff", response_model=service.DiffResult)
def diff(
    transformation_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    run_id: RunId = None,
    against: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="the run to compare with; the previous if absent"),
    ] = None,
    limit: Limit = 50,
) -> Any:
    """Rows the run added and removed compared with another run (the previous one with data)."""
    result = service.diff(settings, session, transformation_id, run_id, against, limit)
    return json_response(result)
