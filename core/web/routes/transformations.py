"""Editing a pipeline's contents: add a state, add, edit and remove transformations.

Every change goes through ``core.service.resources`` with the catalogue's
resource, so the UI validates exactly like the API; a refused form comes back
with each problem next to its input.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from core.api.deps import Editor, SessionDep, SettingsDep
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.service import catalog, resources
from core.service import pipelines as service
from core.web import forms, lookups
from core.web.forms import Submitted
from core.web.routes.pipelines import detail_context
from core.web.templating import flash, problems_by_field, redirect, render

router = APIRouter(include_in_schema=False)
PLACEMENT_FIELDS = ("pipeline_state_id", "transformation_template_id", "graph_order")


@router.post("/pipelines/{pipeline_id}/states")
def add_state(
    request: Request, pipeline_id: int, session: SessionDep, _user: Editor, form: Submitted
) -> Response:
    """Add a state (raw, ingest, …) to a pipeline.

    Returns:
        A redirect to the pipeline, or its page with the problems by the form (422).
    """
    values, problems = whole_numbers(form, ("pipeline_state_type_id", "graph_order"))
    try:
        if problems:
            raise InvalidInputError(problems)
        resources.create_row(
            session, catalog.PIPELINE_STATES, {"pipeline_id": pipeline_id, **values}
        )
    except InvalidInputError as exc:
        if any(field == "pipeline_id" for field, _, _ in exc.problems):
            raise NotFoundError(f"no pipeline with id {pipeline_id}") from exc
        context = detail_context(session, pipeline_id, {"state": problems_by_field(exc.problems)})
        return render(request, "pipelines/detail.html", context, status_code=422)
    flash(request, "State added.")
    return redirect(request, f"/pipelines/{pipeline_id}#add-state")


@router.get("/pipelines/{pipeline_id}/transformations/new")
def new_transformation(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    _user: Editor,
    state_id: int,
    template_id: int,
) -> Response:
    """The form of a new transformation: its state, order, and the template's variables."""
    template = resources.get_row(session, catalog.TEMPLATES, template_id)
    values = {"pipeline_state_id": str(state_id), "graph_order": "0"}
    return _new_form(request, session, pipeline_id, template, values, {}, {})


@router.post("/pipelines/{pipeline_id}/transformations")
def create_transformation(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Add a transformation with its variables to a state of the pipeline.

    Returns:
        A redirect to the pipeline, or the form with each problem by its input (422).
    """
    values, problems = whole_numbers(form, PLACEMENT_FIELDS)
    template = resources.get_row(
        session, catalog.TEMPLATES, values.get("transformation_template_id", 0)
    )
    states = {s.id for s in service.load_pipeline(session, pipeline_id).pipeline_states}
    if values.get("pipeline_state_id") not in states:
        problems.append(
            ("pipeline_state_id", form.get("pipeline_state_id"), "choose a state of this pipeline")
        )
    variables = forms.variables_from_form(template.variable_structures, template.name, form)
    try:
        if problems:
            raise InvalidInputError(problems)
        row = resources.create_row(
            session, catalog.TRANSFORMATIONS, {**values, "variables": variables}, settings
        )
    except InvalidInputError as exc:
        shown = {k: str(form.get(k, "")) for k in PLACEMENT_FIELDS}
        errors = problems_by_field(exc.problems)
        return _new_form(request, session, pipeline_id, template, shown, variables, errors, 422)
    flash(request, f"Transformation {row.id} ({template.name}) added.")
    return redirect(request, f"/pipelines/{pipeline_id}#transformation-{row.id}")


def _new_form(
    request: Request,
    session: Any,
    pipeline_id: int,
    template: Any,
    values: dict[str, str],
    variables: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    pipeline = service.load_pipeline(session, pipeline_id)
    wanted = template.pipeline_state_type_id
    context = {
        "pipeline": pipeline,
        "template": template,
        "states": [
            s for s in pipeline.pipeline_states if wanted in (None, s.pipeline_state_type_id)
        ],
        "values": values,
        "fields": forms.variable_fields(template.variable_structures, template.name, variables),
        "errors": errors,
        "shown_fields": _shown_fields(template),
        "action": f"/pipelines/{pipeline_id}/transformations",
    }
    return render(request, "transformations/form.html", context, status_code=status)


@router.get("/transformations/{transformation_id}")
def edit_transformation(
    request: Request, transformation_id: int, session: SessionDep, _user: Editor
) -> Response:
    """The variables form of a transformation, generated from its template's schema."""
    row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
    return _edit_form(request, session, row, row.stored_variables, row.version, {})


@router.post("/transformations/{transformation_id}/variables")
def save_variables(
    request: Request,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Save a transformation's variables (validated against the template's schema).

    Returns:
        A redirect to its pipeline; the form with each problem by its input (422); or
        the form with a banner to reload when someone else changed it meanwhile (409).
    """
    row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
    template = row.transformation_template
    variables = forms.variables_from_form(template.variable_structures, template.name, form)
    version, problems = whole_numbers(form, ("version",))
    try:
        if problems:
            raise InvalidInputError(problems)
        resources.update_row(
            session,
            catalog.TRANSFORMATIONS,
            transformation_id,
            {"variables": variables},
            version=version.get("version"),
            settings=settings,
        )
    except InvalidInputError as exc:
        row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
        errors = problems_by_field(exc.problems)
        return _edit_form(request, session, row, variables, form.get("version"), errors, 422)
    except ConflictError as exc:
        row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
        return _edit_form(request, session, row, variables, form.get("version"), {}, 409, str(exc))
    pipeline_id, _name, _state = lookups.pipeline_of_state(session, row.pipeline_state_id)
    flash(request, f"Variables of transformation {transformation_id} saved.")
    return redirect(request, f"/pipelines/{pipeline_id}#transformation-{transformation_id}")


def _edit_form(
    request: Request,
    session: Any,
    row: Any,
    variables: dict[str, Any],
    version: Any,
    errors: dict[str, list[str]],
    status: int = 200,
    conflict: str = "",
) -> Response:
    template = row.transformation_template
    pipeline_id, pipeline_name, state_name = lookups.pipeline_of_state(
        session, row.pipeline_state_id
    )
    context = {
        "transformation": row,
        "template": template,
        "pipeline": {"id": pipeline_id, "name": pipeline_name},
        "state_name": state_name,
        "version": version,
        "fields": forms.variable_fields(template.variable_structures, template.name, variables),
        "undeclared": forms.undeclared(template.variable_structures, row.stored_variables),
        "errors": errors,
        "shown_fields": _shown_fields(template),
        "conflict": conflict,
        "action": f"/transformations/{row.id}/variables",
    }
    return render(request, "transformations/form.html", context, status_code=status)


@router.post("/transformations/{transformation_id}/delete")
def remove_transformation(
    request: Request, transformation_id: int, session: SessionDep, _user: Editor
) -> Response:
    """Remove a transformation from its pipeline (the page asks to confirm first)."""
    row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
    pipeline_id, _name, _state = lookups.pipeline_of_state(session, row.pipeline_state_id)
    try:
        resources.delete_row(session, catalog.TRANSFORMATIONS, transformation_id)
    except ConflictError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Transformation {transformation_id} removed.")
    return redirect(request, f"/pipelines/{pipeline_id}")


def whole_numbers(form: FormData, names: tuple[str, ...]) -> tuple[dict[str, int], list[Any]]:
    """The named form fields as whole numbers, and a problem for each that is not one.

    Empty fields are left out.
    """
    values: dict[str, int] = {}
    problems: list[tuple[str, object, str]] = []
    for name in names:
        text = str(form.get(name, "")).strip()
        if not text:
            continue
        try:
            values[name] = int(text)
        except ValueError:
            problems.append((name, text, "expected a whole number such as 2"))
    return values, problems


def _shown_fields(template: Any) -> list[str]:
    return [
        *PLACEMENT_FIELDS,
        *(forms.PREFIX + name for name in template.variable_structures or {}),
    ]
