"""A pipeline's datasets, one dataset's versions and rows, and restoring a version (admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from core.api.deps import Admin, SessionDep, SettingsDep, Viewer
from core.api.routes.datasets import DatasetKey
from core.api.routes.runs import IdPath
from core.api.schemas import json_response
from core.models.dataset_restores import REASON_LENGTH
from core.service import dataset_pages as service

router = APIRouter(prefix="/api", tags=["datasets"])


class RestoreIn(BaseModel):
    version: int = Field(ge=0, description="The earlier version to make current again.")
    reason: str = Field(max_length=REASON_LENGTH, description="Why: the audit keeps it.")


@router.get("/pipelines/{pipeline_id}/datasets", response_model=list[service.DatasetSummary])
def pipeline_datasets(
    pipeline_id: IdPath, session: SessionDep, settings: SettingsDep, _: Viewer
) -> Any:
    """The datasets the pipeline writes, in run order: state, contract path (uri), current
    version, rows, run ids present and columns with their types."""
    return json_response(service.pipeline_datasets(settings, session, pipeline_id))


@router.get("/datasets/{company}/{brand}/{state}/{dataset}", response_model=service.DatasetDetail)
def dataset(
    key: DatasetKey,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
) -> Any:
    """A dataset's summary, its last 50 versions (Delta history: run id, rows, time) and
    the restores made of it."""
    return json_response(service.dataset_detail(settings, session, key))


@router.get("/datasets/{company}/{brand}/{state}/{dataset}/rows", response_model=service.RowsPage)
def dataset_rows(
    key: DatasetKey,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    version: Annotated[int | None, Query(ge=0, description="the current one if absent")] = None,
    offset: Annotated[int, Query(ge=0, le=service.MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> Any:
    """A page of a version's rows, with ``total`` and the columns' types."""
    page = service.dataset_rows(settings, session, key, version, offset, limit)
    return json_response(page)


@router.post(
    "/datasets/{company}/{brand}/{state}/{dataset}/restore", response_model=service.Restore
)
def restore(
    key: DatasetKey,
    body: RestoreIn,
    session: SessionDep,
    settings: SettingsDep,
    user: Admin,
) -> Any:
    """Make an earlier version current again, as a new version (nothing is lost: it can be
    undone by restoring the one before). Admins only; recorded with who and why."""
    done = service.restore_dataset(
        settings, session, key, body.version, body.reason, user.email_address
    )
    return json_response(done)
