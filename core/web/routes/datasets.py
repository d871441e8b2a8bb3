"""The dataset page: where a dataset comes from, what is derived from it, who uses it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.service.lineage import dataset_lineage
from core.web.templating import render

router = APIRouter(include_in_schema=False)
Part = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,100}$")]


@router.get("/datasets/{company}/{brand}/{state}/{dataset}")
def dataset_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    company: Part,
    brand: Part,
    state: Part,
    dataset: Part,
) -> Response:
    """One dataset's lineage across pipelines: upstream, downstream, writers and consumers."""
    lineage = dataset_lineage(settings, session, f"{company}/{brand}/{state}/{dataset}")
    return render(request, "datasets/detail.html", {"lineage": lineage})
