"""Dataset pages: a pipeline's datasets; one dataset's lineage, schema, versions, rows
(paged, any version), the diff between two runs, and restoring a version (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import Admin, SessionDep, SettingsDep, Viewer
from core.api.routes.datasets import DatasetKey
from core.errors import InvalidInputError, NotFoundError
from core.service import dataset_pages
from core.service import pipelines as pipelines_service
from core.service.lineage import dataset_lineage
from core.web.forms import Submitted
from core.web.templating import flash, redirect, render

router = APIRouter(include_in_schema=False)
ROWS_PER_PAGE = 25


@router.get("/pipelines/{pipeline_id}/datasets")
def pipeline_datasets(
    request: Request, pipeline_id: int, session: SessionDep, settings: SettingsDep, _user: Viewer
) -> Response:
    """The datasets the pipeline writes: state, version, rows, columns, contract path."""
    pipeline = pipelines_service.load_pipeline(session, pipeline_id)
    shown = dataset_pages.pipeline_datasets(settings, session, pipeline_id)
    return render(request, "datasets/list.html", {"pipeline": pipeline, "datasets": shown})


@router.get("/datasets/{company}/{brand}/{state}/{dataset}")
def dataset_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    key: DatasetKey,
    version: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=dataset_pages.MAX_OFFSET)] = 0,
) -> Response:
    """One dataset: its lineage, schema, versions, a page of its rows, and restore."""
    lineage = dataset_lineage(settings, session, key)
    detail = dataset_pages.dataset_detail(settings, session, key)
    rows, problem = None, None
    if detail.summary.published:
        try:
            rows = dataset_pages.dataset_rows(
                settings, session, key, version, offset, ROWS_PER_PAGE
            )
        except InvalidInputError as exc:
            problem = str(exc)
    context = {"lineage": lineage, "detail": detail, "rows": rows, "problem": problem}
    return render(request, "datasets/detail.html", context)


@router.post("/datasets/{company}/{brand}/{state}/{dataset}/restore")
def restore(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Admin,
    form: Submitted,
    key: DatasetKey,
) -> Response:
    """Restore a version (admins; the reason is required and audited)."""
    read = str(form.get("version", ""))
    try:
        if not read.isdigit():
            raise InvalidInputError([("version", read, "expected a version number")])
        done = dataset_pages.restore_dataset(
            settings, session, key, int(read), str(form.get("reason", "")), user.email_address
        )
    except (InvalidInputError, NotFoundError) as exc:
        flash(request, f"Not restored: {exc}", "error")
        return redirect(request, f"/datasets/{key}#versions")
    flash(
        request,
        f"Restored {key} to version {done.version}: it is now version {done.new_version}. "
        f"Restore version {done.new_version - 1 if done.new_version else 0} to undo it.",
    )
    return redirect(request, f"/datasets/{key}#versions")


@router.get("/datasets/{company}/{brand}/{state}/{dataset}/diff")
def diff_fragment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    key: DatasetKey,
    run: Annotated[int, Query(ge=1)],
    against: Annotated[int, Query(ge=1)],
) -> Response:
    """The rows run ``run`` added and removed against run ``against`` (an htmx fragment)."""
    from core.errors import ConfigurationError, LakeError
    from core.service import datasets

    detail = dataset_pages.dataset_detail(settings, session, key)
    tid = detail.summary.transformation_id or 0
    try:
        result = datasets.diff(settings, session, tid, run, against, ROWS_PER_PAGE)
    except (NotFoundError, ConfigurationError, LakeError) as exc:
        context = {"what": "diff", "transformation_id": tid, "message": str(exc)}
        return render(request, "runs/_unavailable.html", context)
    return render(request, "runs/_diff.html", {"diff": result})
