"""Datasets: the first rows of a run's output, what a run changed, and a dataset's lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.api.routes.runs import MAX_ID, IdPath
from core.api.schemas import json_response
from core.service import datasets as service
from core.service.lineage import DatasetLineage, dataset_lineage

router = APIRouter(prefix="/api/datasets", tags=["datasets"])

# one part of company/brand/state/dataset (the names CORE allows for each)
Part = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


def dataset_key(company: Part, brand: Part, state: Part, dataset: Part) -> str:
    """``company/brand/state/dataset`` from a dataset route's path."""
    return f"{company}/{brand}/{state}/{dataset}"


# A dataset's key, from the four parts of its route's path
DatasetKey = Annotated[str, Depends(dataset_key)]
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


@router.get("/{company}/{brand}/{state}/{dataset}/lineage", response_model=DatasetLineage)
def lineage(key: DatasetKey, session: SessionDep, settings: SettingsDep, _: Viewer) -> Any:
    """Where a dataset comes from and what is derived from it, across every pipeline.

    ``upstream`` and ``downstream`` list datasets nearest first; ``writers``, ``readers``
    and ``scheduled`` name the pipelines that write it, read it, and start when it is
    published (their ``dataset_schedule`` waits on it).
    """
    return json_response(dataset_lineage(settings, session, key))
