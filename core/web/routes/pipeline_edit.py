"""Edit a pipeline's own fields (name, description, frequency, owners, active, runs at
once) and delete it, through the same validation as ``PATCH /api/pipelines/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import Editor, SessionDep, SettingsDep
from core.errors import ConflictError, InvalidInputError
from core.names import DAG_ID_RULE, PRESET_FREQUENCIES
from core.service import catalog, resources
from core.service import pipelines as service
from core.service.pipeline_edit import delete_pipeline, deletion_impact, schedule_view
from core.web.forms import Submitted
from core.web.templating import flash, problems_by_field, redirect, render

router = APIRouter(include_in_schema=False)
EDIT_FIELDS = ("name", "description", "run_frequency", "owners", "max_active_runs", "is_active")


@router.get("/pipelines/{pipeline_id}/edit")
def edit_page(request: Request, pipeline_id: int, session: SessionDep, _user: Editor) -> Response:
    """The pipeline's fields in a form, its schedule's next fire times, and Delete."""
    pipeline = service.load_pipeline(session, pipeline_id)
    values = {
        "name": pipeline.name,
        "description": pipeline.description or "",
        "run_frequency": pipeline.run_frequency,
        "owners": "\n".join(pipeline.owners or []),
        "max_active_runs": "" if pipeline.max_active_runs is None else pipeline.max_active_runs,
        "is_active": pipeline.is_active,
        "version": pipeline.version,
    }
    return _form(request, session, pipeline_id, values, {})


@router.post("/pipelines/{pipeline_id}/edit")
def save(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Save the fields (the version read guards against a concurrent edit).

    Returns:
        A redirect to the pipeline, or the form with each problem by its field (422).
    """
    values = {name: str(form.get(name, "")).strip() for name in EDIT_FIELDS}
    values["is_active"] = form.get("is_active") == "true"
    values["version"] = str(form.get("version", ""))
    try:
        data = _parsed(values)
        version = int(values["version"]) if values["version"].isdigit() else None
        row = resources.update_row(
            session, catalog.PIPELINES, pipeline_id, data, version=version, settings=settings
        )
    except InvalidInputError as exc:
        return _form(request, session, pipeline_id, values, problems_by_field(exc.problems), 422)
    except ConflictError as exc:  # edited meanwhile: show the latest, say so
        flash(request, f"Not saved: {exc}", "error")
        return redirect(request, f"/pipelines/{pipeline_id}/edit")
    flash(request, f"Pipeline {row.name} saved.")
    return redirect(request, f"/pipelines/{pipeline_id}")


@router.get("/pipelines/{pipeline_id}/edit/schedule")
def schedule_fragment(
    request: Request,
    pipeline_id: int,
    _user: Editor,
    run_frequency: Annotated[str, Query(max_length=100)] = "none",
) -> Response:
    """What a frequency means and when it would next fire (an htmx fragment, as typed)."""
    try:
        context: dict[str, Any] = {"schedule": schedule_view(run_frequency), "problem": None}
    except InvalidInputError as exc:
        context = {"schedule": None, "problem": exc.problems[0][2]}
    return render(request, "pipelines/_schedule.html", context)


@router.post("/pipelines/{pipeline_id}/delete")
def delete(
    request: Request, pipeline_id: int, session: SessionDep, _user: Editor, form: Submitted
) -> Response:
    """Delete a pipeline that never ran, once its name is typed to confirm."""
    try:
        gone = delete_pipeline(session, pipeline_id, str(form.get("confirm", "")).strip())
    except (InvalidInputError, ConflictError) as exc:
        flash(request, f"Not deleted: {exc}", "error")
        return redirect(request, f"/pipelines/{pipeline_id}/edit#delete")
    flash(request, f"Pipeline {gone.name} deleted with its {gone.summary}.")
    return redirect(request, "/pipelines")


def _parsed(values: dict[str, Any]) -> dict[str, Any]:
    """The form's text as the fields' values; a blank runs-at-once is the default (one)."""
    owners = [o.strip() for o in str(values["owners"]).replace(",", "\n").splitlines()]
    runs = str(values["max_active_runs"])
    if runs and not runs.isdigit():
        message = f"expected a whole number of at least 1, or blank for one; got {runs!r}"
        raise InvalidInputError([("max_active_runs", runs, message)])
    return {
        "name": values["name"],
        "description": values["description"] or None,
        "run_frequency": values["run_frequency"] or "none",
        "owners": [o for o in owners if o],
        "max_active_runs": int(runs) if runs else None,
        "is_active": values["is_active"],
    }


def _form(
    request: Request,
    session: Any,
    pipeline_id: int,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    try:
        schedule, problem = schedule_view(str(values["run_frequency"]) or "none"), None
    except InvalidInputError as exc:
        schedule, problem = None, exc.problems[0][2]
    context = {
        "pipeline_id": pipeline_id,
        "values": values,
        "errors": errors,
        "fields": EDIT_FIELDS,
        "name_rule": DAG_ID_RULE,
        "presets": PRESET_FREQUENCIES,
        "schedule": schedule,
        "problem": problem,
        "impact": deletion_impact(session, pipeline_id),
    }
    return render(request, "pipelines/edit.html", context, status_code=status)
