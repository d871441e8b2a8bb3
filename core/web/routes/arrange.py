"""Reordering a pipeline: move transformations between states, change their orders.

"Preview plan" shows the DAG the new order would give without saving anything
(``arrange(save=False)`` rolls back); "Save" commits it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from core.api.deps import Editor, SessionDep
from core.errors import InvalidInputError
from core.plan.model import PipelinePlan, build_plan, ordered_states
from core.service import pipelines as service
from core.service.pipelines import Placement
from core.web.forms import Submitted
from core.web.svg import dag_svg
from core.web.templating import flash, problems_by_field, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/pipelines/{pipeline_id}/arrange")
def arrange_page(
    request: Request, pipeline_id: int, session: SessionDep, _user: Editor
) -> Response:
    """Each transformation with its state and order, and the plan they give now."""
    pipeline = service.load_pipeline(session, pipeline_id)
    return _page(request, pipeline, build_plan(pipeline), {}, {})


@router.post("/pipelines/{pipeline_id}/arrange/preview")
def preview(
    request: Request, pipeline_id: int, session: SessionDep, _user: Editor, form: Submitted
) -> Response:
    """The plan the submitted order would give; nothing is saved (an htmx fragment).

    Returns:
        The DAG and its groups, or the problems (422).
    """
    placements, problems = placements_from(form)
    try:
        if problems:
            raise InvalidInputError(problems)
        plan = service.arrange(session, pipeline_id, placements, save=False)
    except InvalidInputError as exc:
        errors = by_transformation(placements, exc.problems)
        return render(request, "pipelines/_plan.html", {"errors": errors}, status_code=422)
    return render(request, "pipelines/_plan.html", plan_context(plan, preview=True))


@router.post("/pipelines/{pipeline_id}/arrange")
def save(
    request: Request, pipeline_id: int, session: SessionDep, _user: Editor, form: Submitted
) -> Response:
    """Save the submitted order.

    Returns:
        A redirect to the pipeline, or the form with the problems (422).
    """
    placements, problems = placements_from(form)
    try:
        if problems:
            raise InvalidInputError(problems)
        service.arrange(session, pipeline_id, placements, save=True)
    except InvalidInputError as exc:
        pipeline = service.load_pipeline(session, pipeline_id)
        errors = by_transformation(placements, exc.problems)
        return _page(request, pipeline, build_plan(pipeline), errors, form, 422)
    flash(request, "The new order is saved.")
    return redirect(request, f"/pipelines/{pipeline_id}")


def _page(
    request: Request,
    pipeline: Any,
    plan: PipelinePlan,
    errors: dict[str, list[str]],
    form: Any,
    status: int = 200,
) -> Response:
    states = ordered_states(pipeline)
    rows = [
        {
            "id": t.id,
            "template": t.transformation_template.name,
            "state_id": int(form.get(f"state_{t.id}", s.id) or s.id),
            "order": form.get(f"order_{t.id}", t.graph_order),
        }
        for s in states
        for t in sorted(s.transformations, key=lambda t: (t.graph_order, t.id))
    ]
    context = {"pipeline": pipeline, "states": states, "rows": rows, **plan_context(plan)}
    context["errors"] = errors
    context["shown"] = [f"{kind}_{row['id']}" for row in rows for kind in ("state", "order")]
    return render(request, "pipelines/arrange.html", context, status_code=status)


def plan_context(plan: PipelinePlan, preview: bool = False) -> dict[str, Any]:
    """The plan fragment's variables: the DAG picture and the groups."""
    return {
        "plan": plan,
        "svg": dag_svg(plan, key="preview" if preview else "plan"),
        "preview": preview,
        "errors": {},
    }


def placements_from(form: FormData) -> tuple[list[Placement], list[Any]]:
    """The placements a submitted arrangement form asks for, and the fields that are not numbers.

    The form lists ``transformation_id`` once per transformation, with ``state_ID``
    and ``order_ID`` for each.
    """
    placements: list[Placement] = []
    problems: list[tuple[str, object, str]] = []
    for text in form.getlist("transformation_id"):
        try:
            tid = int(str(text))
        except ValueError:
            problems.append(("transformation_id", text, "expected a transformation id"))
            continue
        numbers = {}
        for name in (f"state_{tid}", f"order_{tid}"):
            value = str(form.get(name, "")).strip()
            try:
                numbers[name] = int(value)
            except ValueError:
                problems.append((name, value, "expected a whole number such as 2"))
        if len(numbers) == 2:
            placements.append(Placement(tid, numbers[f"state_{tid}"], numbers[f"order_{tid}"]))
    return placements, problems


def by_transformation(placements: list[Placement], problems: list[Any]) -> dict[str, list[str]]:
    """Problems keyed by the form's inputs (``placements.3.graph_order`` -> ``order_ID``)."""
    renamed = []
    for field, value, message in problems:
        parts = field.split(".")
        if parts[0] == "placements" and len(parts) == 3 and int(parts[1]) < len(placements):
            tid = placements[int(parts[1])].transformation_id
            field = f"order_{tid}" if parts[2] == "graph_order" else f"state_{tid}"
        renamed.append((field, value, message))
    return problems_by_field(renamed)
