"""Check pages: add, edit and remove a dataset's checks, and try one before saving it.

A pipeline's page lists the checks of each dataset it writes, with an Add check form
per dataset (editors only). Every change goes through ``core.service.resources`` with
``DATASET_CHECKS``, so the UI validates exactly like ``/api/checks``; a refused form
comes back with each problem next to its input and nothing saved. Try it evaluates
the unsaved check on a published run's rows (``core.service.checks.try_checks``)
and records nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import Editor, SessionDep, SettingsDep
from core.errors import ConflictError, InvalidInputError
from core.models.dataset_checks import SEVERITIES
from core.service import resources
from core.service.checks import DATASET_CHECKS
from core.web import checks as views
from core.web.forms import Submitted
from core.web.routes.pipelines import detail_context
from core.web.templating import flash, redirect, render

router = APIRouter(include_in_schema=False)
# The id prefix of a check form's inputs: check-12 (adding to transformation 12), check-edit.
FORM_ID = r"^[a-z0-9-]{1,40}$"


@router.get("/checks/arguments")
def arguments_field(
    request: Request,
    _user: Editor,
    kind: Annotated[str, Query(max_length=40)] = "not_null",
    arguments: Annotated[str, Query(max_length=20_000)] = "",
    form: Annotated[str, Query(pattern=FORM_ID)] = "check",
) -> Response:
    """A check form's arguments box for the kind just chosen (an htmx fragment).

    The kind's summary and example become the help and the placeholder; what was
    typed in the box is kept.
    """
    context = {"fid": form, "f": views.CheckForm(kind=kind, arguments=arguments), "errors": {}}
    return render(request, "checks/_arguments.html", context)


@router.post("/transformations/{transformation_id}/checks")
def add_check(
    request: Request,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Add a check to the dataset a transformation writes.

    Returns:
        A redirect to the dataset's checks on the pipeline page; or that page with the
        form open and each problem by its input (422), nothing saved.
    """
    owner = views.owner_of(session, transformation_id)
    values = views.CheckForm.of(form)
    try:
        row = resources.create_row(
            session,
            DATASET_CHECKS,
            {"transformation_id": transformation_id, **values.values()},
            settings,
        )
    except InvalidInputError as exc:
        if owner.state == "raw":
            raise  # the page has no checks (so no form) for raw files: the error page says why
        context = detail_context(session, owner.pipeline_id)
        context["check_form"] = {
            "transformation_id": transformation_id,
            "f": values,
            "errors": views.form_errors(exc.problems),
        }
        return render(request, "pipelines/detail.html", context, status_code=422)
    flash(request, f"Check {row.id} ({row.kind}) added to dataset {owner.dataset}.")
    return redirect(request, f"/pipelines/{owner.pipeline_id}#checks-{transformation_id}")


@router.get("/checks/{check_id}")
def edit_check(request: Request, check_id: int, session: SessionDep, _user: Editor) -> Response:
    """The form of a saved check."""
    row = resources.get_row(session, DATASET_CHECKS, check_id)
    return _edit_form(request, session, row, views.CheckForm.of_check(row), {})


@router.post("/checks/{check_id}")
def save_check(
    request: Request,
    check_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Save a check (made from the version the form was read at).

    Returns:
        A redirect to the dataset's checks on the pipeline page; the form with each
        problem by its input (422); or the form with a banner to reload when someone
        else changed the check meanwhile (409).
    """
    values = views.CheckForm.of(form)
    try:
        row = resources.update_row(
            session,
            DATASET_CHECKS,
            check_id,
            values.values(),
            version=values.version_number,
            settings=settings,
        )
    except InvalidInputError as exc:
        row = resources.get_row(session, DATASET_CHECKS, check_id)
        return _edit_form(request, session, row, values, views.form_errors(exc.problems), 422)
    except ConflictError as exc:
        row = resources.get_row(session, DATASET_CHECKS, check_id)
        return _edit_form(request, session, row, values, {}, 409, str(exc))
    owner = views.owner_of(session, row.transformation_id)
    flash(request, f"Check {check_id} ({row.kind}) of dataset {owner.dataset} saved.")
    return redirect(request, f"/pipelines/{owner.pipeline_id}#checks-{row.transformation_id}")


def _edit_form(
    request: Request,
    session: Any,
    row: Any,
    values: views.CheckForm,
    errors: dict[str, list[str]],
    status: int = 200,
    conflict: str = "",
) -> Response:
    owner = views.owner_of(session, row.transformation_id)
    context = {
        "check": row,
        "owner": owner,
        "conflict": conflict,
        **form_context("check-edit", f"/checks/{row.id}", owner, values, errors, "Save check"),
    }
    return render(request, "checks/form.html", context, status_code=status)


def form_context(
    fid: str,
    action: str,
    owner: views.Owner,
    values: views.CheckForm,
    errors: dict[str, list[str]],
    submit: str,
) -> dict[str, Any]:
    """What ``checks/_form.html`` needs: its ids, addresses, values, problems, choices."""
    return {
        "fid": fid,
        "action": action,
        "try_url": f"/transformations/{owner.transformation_id}/checks/try",
        "f": values,
        "errors": errors,
        "submit_label": submit,
        "kinds": views.kind_choices(),
        "severities": SEVERITIES,
    }


@router.post("/checks/{check_id}/delete")
def remove_check(request: Request, check_id: int, session: SessionDep, _user: Editor) -> Response:
    """Delete a check (the page asks to confirm first); its past results stay."""
    row = resources.get_row(session, DATASET_CHECKS, check_id)
    kind, owner = row.kind, views.owner_of(session, row.transformation_id)
    try:
        resources.delete_row(session, DATASET_CHECKS, check_id)
    except ConflictError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, f"Check {check_id} ({kind}) removed from dataset {owner.dataset}.")
    return redirect(request, f"/pipelines/{owner.pipeline_id}#checks-{owner.transformation_id}")


@router.post("/transformations/{transformation_id}/checks/try")
def try_check(
    request: Request,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Evaluate the form's unsaved check on a published run and show what it found.

    An htmx fragment: the outcome (status, failing rows, examples, note), or why it
    could not be tried (422 with the input's problems). Nothing is saved or recorded.
    """
    owner = views.owner_of(session, transformation_id)
    values = views.CheckForm.of(form)
    tried = views.try_check(settings, session, transformation_id, values)
    context = {"tried": tried, "f": values, "owner": owner}
    return render(request, "checks/_tried.html", context, status_code=422 if tried.errors else 200)
