"""The dataset page: where a dataset comes from, what is derived from it, who uses it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.api.routes.datasets import Part
from core.service.lineage import dataset_lineage
from core.web.templating import render

router = APIRouter(include_in_schema=False)


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
