"""Pipeline pages: the list, a new pipeline, one pipeline, activate or deactivate it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.api.deps import Editor, SessionDep, SettingsDep, Viewer
from core.errors import ConflictError, InvalidInputError
from core.models.dataset_checks import SEVERITIES
from core.names import DAG_ID_RULE
from core.plan.check import PipelineCheckError, check_plan
from core.plan.model import build_plan, ordered_states
from core.plan.queries import PlanFilters
from core.service import catalog, resources, runs
from core.service import pipelines as service
from core.web import checks, lookups
from core.web.forms import Submitted
from core.web.svg import dag_svg
from core.web.templating import flash, is_htmx, paging, problems_by_field, redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NEW_FIELDS = ("name", "pipeline_type_id", "brand_id", "run_frequency", "description")
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/")
def home() -> Response:
    """The pipelines are the home page."""
    return RedirectResponse("/pipelines", status_code=303)


@router.get("/pipelines")
def pipeline_list(
    request: Request,
    session: SessionDep,
    _user: Viewer,
    company: Text = None,
    brand: Text = None,
    pipeline_type: Annotated[str | None, Query(alias="type", max_length=200)] = None,
    active: Annotated[str | None, Query(pattern="^(|true|false)$")] = None,
    q: Text = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The pipelines with their last run, filtered and searched; htmx gets the table only."""
    chosen = {"company": company, "brand": brand, "type": pipeline_type, "active": active, "q": q}
    chosen = {key: value or None for key, value in chosen.items()}
    filters = PlanFilters(
        company=chosen["company"],
        brand=chosen["brand"],
        pipeline_type=chosen["type"],
        active=None if chosen["active"] is None else chosen["active"] == "true",
    )
    rows, total = service.list_pipelines(session, filters, chosen["q"], PAGE_SIZE, offset)
    context = {"rows": rows, **paging("/pipelines", chosen, offset, PAGE_SIZE, total)}
    if is_htmx(request) and request.headers.get("HX-Target") == "pipeline-results":
        return render(request, "pipelines/_table.html", context)
    context["values"] = service.filter_values(session)
    return render(request, "pipelines/list.html", context)


@router.get("/pipelines/new")
def new_pipeline_form(request: Request, session: SessionDep, _user: Editor) -> Response:
    """The form of a new pipeline."""
    return _new_form(request, session, {"run_frequency": "none"}, {})


@router.post("/pipelines/new")
def create_pipeline(
    request: Request, session: SessionDep, settings: SettingsDep, _user: Editor, form: Submitted
) -> Response:
    """Create a pipeline from the form, through the same validation as the API.

    Returns:
        A redirect to the new pipeline, or the form with each problem by its field (422).
    """
    values: dict[str, Any] = {name: str(form.get(name, "")).strip() for name in NEW_FIELDS}
    data: dict[str, Any] = {k: v for k, v in values.items() if v}
    problems: list[tuple[str, object, str]] = []
    for name in ("pipeline_type_id", "brand_id"):
        if name in data:
            try:
                data[name] = int(data[name])
            except ValueError:
                problems.append((name, data.pop(name), "expected one of the listed choices"))
    data["is_active"] = values["is_active"] = form.get("is_active") == "true"
    try:
        if problems:
            raise InvalidInputError(problems)
        row = resources.create_row(session, catalog.PIPELINES, data, settings)
    except InvalidInputError as exc:
        return _new_form(request, session, values, problems_by_field(exc.problems), 422)
    flash(request, f"Pipeline {row.name} created. Add its states and transformations.")
    return redirect(request, f"/pipelines/{row.id}")


def _new_form(
    request: Request,
    session: Any,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": errors,
        "fields": NEW_FIELDS,
        "name_rule": DAG_ID_RULE,
        "brands": lookups.brands(session),
        "pipeline_types": lookups.pipeline_types(session),
    }
    return render(request, "pipelines/new.html", context, status_code=status)


@router.get("/pipelines/{pipeline_id}")
def pipeline_page(
    request: Request, pipeline_id: int, session: SessionDep, _user: Viewer
) -> Response:
    """One pipeline: its states and transformations, variables, checks, DAG and recent runs."""
    return render(request, "pipelines/detail.html", detail_context(session, pipeline_id))


def detail_context(
    session: Any, pipeline_id: int, errors: dict[str, dict[str, list[str]]] | None = None
) -> dict[str, Any]:
    """What the pipeline page shows, in a fixed number of queries.

    Args:
        session: a configuration session.
        pipeline_id: the pipeline.
        errors: form name -> field -> messages, for a form that was refused.

    Raises:
        NotFoundError: no such pipeline.
    """
    pipeline = service.load_pipeline(session, pipeline_id)
    plan = build_plan(pipeline)
    states = ordered_states(pipeline)
    templates = lookups.templates(session)
    used = {s.pipeline_state_type_id for s in states}
    return {
        "pipeline": pipeline,
        "plan": plan,
        "svg": dag_svg(plan, link=lambda task, _state: f"#transformation-{task.transformation_id}"),
        "states": states,
        "templates_for": {
            s.id: [t for t in templates if t.state_type_id in (None, s.pipeline_state_type_id)]
            for s in states
        },
        "free_state_types": [c for c in lookups.state_types(session) if c.id not in used],
        "next_state_order": max((s.graph_order for s in states), default=-1) + 1,
        "runs": recent_runs(session, pipeline_id),
        "schedule": _schedule(pipeline.run_frequency),
        "check": check_plan(session, plan),
        "errors": errors or {},
        # each dataset's checks, and its Add check form (the refused one in check_form)
        "datasets": checks.dataset_checks(plan),
        "kinds": checks.kind_choices(),
        "severities": SEVERITIES,
        "new_check": checks.CheckForm(),
        "check_form": None,
    }


def recent_runs(session: Any, pipeline_id: int) -> list[Any]:
    """The pipeline's last runs (newest first)."""
    rows, _total = runs.list_runs(session, pipeline_id=pipeline_id, limit=5, offset=0)
    return rows


@router.post("/pipelines/{pipeline_id}/active")
def set_active(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    _user: Editor,
    active: Annotated[str, Form(pattern="^(true|false)$")],
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """Activate or deactivate a pipeline (its DAG is scheduled only while active)."""
    try:
        row = resources.update_row(
            session, catalog.PIPELINES, pipeline_id, {"is_active": active == "true"}, version
        )
    except ConflictError as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/pipelines/{pipeline_id}")
    flash(request, f"Pipeline {row.name} is now {'active' if row.is_active else 'inactive'}.")
    return redirect(request, f"/pipelines/{pipeline_id}")


@router.post("/pipelines/{pipeline_id}/schedule")
def set_dataset_schedule(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Editor,
    form: Submitted,
) -> Response:
    """Start the pipeline when datasets are published (one key per line), or clear it.

    Returns:
        A redirect to the pipeline, or its page with the problems by the form (422).
    """
    condition = str(form.get("condition", "any"))
    keys = [line.strip() for line in str(form.get("datasets", "")).splitlines() if line.strip()]
    schedule = {condition: keys} if keys else None
    read = str(form.get("version", "")).strip()
    version = int(read) if read.isdigit() else None
    try:
        resources.update_row(
            session,
            catalog.PIPELINES,
            pipeline_id,
            {"dataset_schedule": schedule},
            version=version,
            settings=settings,
        )
    except InvalidInputError as exc:
        context = detail_context(
            session, pipeline_id, {"schedule": problems_by_field(exc.problems)}
        )
        return render(request, "pipelines/detail.html", context, status_code=422)
    except ConflictError as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/pipelines/{pipeline_id}#dataset-schedule")
    flash(request, "Dataset schedule saved." if keys else "Dataset schedule cleared.")
    return redirect(request, f"/pipelines/{pipeline_id}#dataset-schedule")


@router.post("/pipelines/{pipeline_id}/runs")
def run_now(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: Editor,
    form: Submitted,
) -> Response:
    """Start a run of the pipeline now, and show it (or its runs, when Airflow starts it).

    An inactive pipeline is started only when the form confirms it (``inactive=run``).

    Returns:
        A redirect to the run; back to the pipeline with the reason when it is inactive
        and unconfirmed, or already runs as many runs as it allows; the pipeline page
        with its Check panel (409) when the pipeline fails its check (nothing was started).

    Raises:
        ConfigurationError: the pipeline has no transformations (shown as a 422 page).
    """
    pipeline = service.load_pipeline(session, pipeline_id)
    if not pipeline.is_active and form.get("inactive") != "run":
        flash(
            request,
            f"Not started: pipeline {pipeline.name} is inactive. Confirm under "
            "“Run now…” to run it once anyway, or activate it.",
            "error",
        )
        return redirect(request, f"/pipelines/{pipeline_id}")
    try:
        started = runs.start_pipeline_run(settings, session, pipeline_id, user.email_address)
    except PipelineCheckError as exc:
        count = len(exc.check.problems)
        flash(
            request,
            f"Not started: pipeline {exc.check.pipeline} fails its check ({count} problem"
            f"{'s' if count > 1 else ''}, listed under Check). Fix them and run it again.",
            "error",
        )
        return render(
            request, "pipelines/detail.html", detail_context(session, pipeline_id), status_code=409
        )
    except ConflictError as exc:  # (after its subclass) as many runs as it allows are going
        flash(request, f"Not started: {exc}", "error")
        return redirect(request, f"/pipelines/{pipeline_id}")
    if started.run_id is None:
        flash(request, f"Airflow started DAG run {started.dag_run_id}; it appears here shortly.")
        return redirect(request, f"/runs?pipeline_id={pipeline_id}")
    flash(request, f"Run {started.run_id} started.")
    return redirect(request, f"/runs/{started.run_id}")


def _schedule(run_frequency: str) -> Any:
    """The frequency in words and its next fire times (None for a stored invalid one)."""
    from core.service.pipeline_edit import schedule_view

    try:
        return schedule_view(run_frequency)
    except InvalidInputError:
        return None
