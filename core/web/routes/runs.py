"""Run pages: the runs list, one run with its tasks, its output preview and diff.

While a run is running its page (and a list showing one) refreshes itself every
two seconds through htmx; the refreshed fragment stops asking once it is over.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import Editor, SessionDep, SettingsDep, Viewer
from core.errors import (
    ConfigurationError,
    InvalidInputError,
    LakeError,
    NotFoundError,
    OrchestratorError,
)
from core.models.runs import RUN_STATES
from core.plan.model import PipelinePlan
from core.service import datasets
from core.service import run_controls as controls
from core.service import runs as service
from core.service.run_filters import RunFilter
from core.service.run_grid import GRID_RUNS, MAX_GRID_RUNS, run_grid
from core.service.task_logs import task_links
from core.web import check_results, lookups
from core.web.forms import Submitted
from core.web.run_banner import run_banner
from core.web.svg import dag_svg
from core.web.templating import flash, is_htmx, paging, query, redirect, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PREVIEW_ROWS = 20
UNFINISHED = ("queued", "running")
DAY = r"^(\d{4}-\d{2}-\d{2})?$"  # an ISO day, as <input type="date"> sends it
StateFilter = Annotated[str | None, Query(pattern="^(|" + "|".join(RUN_STATES) + ")$")]


@router.get("/runs")
def run_list(
    request: Request,
    session: SessionDep,
    _user: Viewer,
    pipeline_id: Annotated[str | None, Query(pattern=r"^\d*$", max_length=12)] = None,
    state: StateFilter = None,
    since: Annotated[str | None, Query(pattern=DAY, max_length=10)] = None,
    until: Annotated[str | None, Query(pattern=DAY, max_length=10)] = None,
    started_by: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Runs, newest first, filtered by pipeline, state, days and starter; htmx gets the table."""
    chosen = {
        "pipeline_id": pipeline_id or None,
        "state": state or None,
        "since": since or None,
        "until": until or None,
        "started_by": (started_by or "").strip() or None,
    }
    rows, total, problems = _filtered_runs(session, chosen, offset)
    context = {
        "rows": rows,
        "states": RUN_STATES,
        "problems": problems,
        "refresh": any(row.state in UNFINISHED for row in rows),
        **paging("/runs", chosen, offset, PAGE_SIZE, total),
    }
    context["self_url"] = query("/runs", **chosen, offset=offset or None)
    if is_htmx(request) and request.headers.get("HX-Target") == "run-results":
        return render(request, "runs/_table.html", context)
    context["pipelines"] = lookups.pipelines(session)
    return render(request, "runs/list.html", context)


def _filtered_runs(
    session: Any, chosen: dict[str, Any], offset: int
) -> tuple[list[Any], int, list[tuple[str, Any, str]]]:
    """The page of runs the filters choose, or none and what is wrong with the filters."""
    day = dt.date.fromisoformat
    wanted = RunFilter(
        pipeline_id=int(chosen["pipeline_id"]) if chosen["pipeline_id"] else None,
        state=chosen["state"],
        since=day(chosen["since"]) if chosen["since"] else None,
        until=day(chosen["until"]) if chosen["until"] else None,
        started_by=chosen["started_by"],
    )
    try:
        rows, total = service.list_runs(session, limit=PAGE_SIZE, offset=offset, chosen=wanted)
    except InvalidInputError as exc:
        return [], 0, list(exc.problems)
    return rows, total, []


@router.get("/pipelines/{pipeline_id}/grid")
def grid_page(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    _user: Viewer,
    runs: Annotated[int, Query(ge=1, le=MAX_GRID_RUNS)] = GRID_RUNS,
) -> Response:
    """A pipeline's newest runs across and its tasks down, each cell a task's state."""
    grid = run_grid(session, pipeline_id, runs)
    live = any(run.state in UNFINISHED for run in grid.runs)
    context = {"grid": grid, "live": live, "shown": runs}
    if is_htmx(request) and request.headers.get("HX-Target") == "grid":
        return render(request, "runs/_grid.html", context)
    return render(request, "runs/grid.html", context)


@router.get("/runs/{run_id}")
def run_page(
    request: Request, run_id: int, session: SessionDep, settings: SettingsDep, _user: Viewer
) -> Response:
    """One run: each task's state, timings, rows, error, notebook and checks; the DAG."""
    detail = service.run_detail(session, run_id)
    context = run_context(session, detail)
    # under Airflow a run is resumed by clearing its DAG run's failed tasks, which needs
    # the DAG run that recorded it
    local = service.trigger_name(settings) == "local"
    context["resumed_here"] = local or detail.dag_run_id is not None
    context["airflow_links"] = task_links(settings, detail)
    if is_htmx(request) and request.headers.get("HX-Target") == "run-body":
        # a run that ended while watched: the banners of its start or resume are stale
        context["refreshed"] = True
        return render(request, "runs/_body.html", context)
    return render(request, "runs/detail.html", context)


@router.post("/runs/{run_id}/resume")
def resume(
    request: Request,
    run_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: Editor,
    form: Submitted,
) -> Response:
    """Resume a failed run with the configuration chosen (current by default), and show it."""
    configuration = str(form.get("configuration") or "current")
    try:
        controls.resume_pipeline_run(settings, session, run_id, configuration, user.email_address)
    # an unknown choice, a run that cannot be resumed, or Airflow clearing nothing
    except (ConfigurationError, OrchestratorError) as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/runs/{run_id}")
    shown = "the current configuration" if configuration == "current" else "its snapshot as it was"
    flash(request, f"Run {run_id} resumed with {shown}.")
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/cancel")
def cancel(
    request: Request,
    run_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: Editor,
    _form: Submitted,
) -> Response:
    """Cancel a running run: recorded cancelled, its workers stopped; show it."""
    try:
        stopped = controls.cancel_pipeline_run(settings, session, run_id, user.email_address)
    except (ConfigurationError, OrchestratorError) as exc:  # not running; Airflow refused
        flash(request, str(exc), "error")
        return redirect(request, f"/runs/{run_id}")
    told = "its workers were told to stop" if stopped else "no live runner was found to stop"
    flash(request, f"Run {run_id} cancelled: {told}.")
    return redirect(request, f"/runs/{run_id}")


@router.post("/runs/{run_id}/tasks/{transformation_id}/rerun")
def rerun(
    request: Request,
    run_id: int,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: Editor,
    form: Submitted,
) -> Response:
    """Re-run one task and what follows it, under the same run id; show the run."""
    configuration = str(form.get("configuration") or "current")
    try:
        controls.rerun_task(
            settings, session, run_id, transformation_id, configuration, user.email_address
        )
    except (ConfigurationError, OrchestratorError) as exc:
        flash(request, str(exc), "error")
        return redirect(request, f"/runs/{run_id}")
    flash(
        request, f"Run {run_id}: transformation #{transformation_id} and what follows it run again."
    )
    return redirect(request, f"/runs/{run_id}")


def run_context(session: Any, detail: service.RunDetail) -> dict[str, Any]:
    """What the run page shows: the run, its DAG coloured by task state, whether it is
    live, and each task's check results."""
    from core.runs import get_run

    snapshot = get_run(session, detail.id).configuration_snapshot  # already in the session
    states = {task.transformation_id: task.state for task in detail.tasks}
    svg, plan = None, None
    if snapshot:
        plan = PipelinePlan.from_dict(snapshot)
        svg = dag_svg(
            plan,
            states,
            title=f"Run {detail.id} of {detail.pipeline_name}",
            link=partial(_node_link, detail.id),
        )
    return {
        "run": detail,
        "banner": run_banner(detail),
        "svg": svg,
        # a cancelled run refreshes until its stopping workers have recorded their end
        "live": detail.state in UNFINISHED or any(t.state == "running" for t in detail.tasks),
        "with_output": [t for t in detail.tasks if t.state == "success"],
        "checks": check_results.run_checks(session, detail.id, plan),
    }


def _node_link(run_id: int, task: Any, state: str) -> str:
    """A task's node leads to its log once it started, else to its row."""
    tid = task.transformation_id
    started = state not in ("not run", "pending", "upstream_failed", "skipped")
    return f"/runs/{run_id}/tasks/{tid}/log" if started else f"#task-{tid}"


@router.get("/runs/{run_id}/tasks/{transformation_id}/preview")
def preview_fragment(
    request: Request,
    run_id: int,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
) -> Response:
    """The first rows the task wrote in this run (an htmx fragment)."""
    try:
        shown = datasets.preview(settings, session, transformation_id, run_id, PREVIEW_ROWS)
    except (NotFoundError, ConfigurationError, LakeError) as exc:
        return _unavailable(request, "preview", transformation_id, str(exc))
    context = {"preview": shown, "title": f"Output of transformation {transformation_id}"}
    return render(request, "runs/_preview.html", context)


@router.get("/runs/{run_id}/tasks/{transformation_id}/diff")
def diff_fragment(
    request: Request,
    run_id: int,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    against: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    """The rows this run added and removed compared with an earlier run (an htmx fragment)."""
    try:
        result = datasets.diff(settings, session, transformation_id, run_id, against, PREVIEW_ROWS)
    except (NotFoundError, ConfigurationError, LakeError) as exc:
        return _unavailable(request, "diff", transformation_id, str(exc))
    return render(request, "runs/_diff.html", {"diff": result})


def _unavailable(request: Request, what: str, transformation_id: int, message: str) -> Response:
    context = {"what": what, "transformation_id": transformation_id, "message": message}
    return render(request, "runs/_unavailable.html", context)
