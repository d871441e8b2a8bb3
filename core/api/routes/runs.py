"""Runs: start one, list them, one run with its tasks, a task's executed notebook."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import Editor, SessionDep, SettingsDep, Viewer
from core.api.schemas import CheckResultOut, Moment, Page, json_response
from core.models.runs import PERSON_LENGTH
from core.service import notebooks
from core.service import run_controls as controls
from core.service import runs as service
from core.service.resources import MAX_ID
from core.service.run_filters import RunFilter
from core.service.run_grid import GRID_RUNS, MAX_GRID_RUNS, RunGrid, run_grid
from core.service.task_logs import task_links

router = APIRouter(prefix="/api", tags=["runs"])

# A larger id is refused (422) before the database would overflow on it.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]

RunState = Literal[
    "queued", "running", "success", "failed", "cancelled"
]  # core.models.runs.RUN_STATES

# Scripts in a notebook's outputs must not run in the application's origin: the page is
# served as a sandbox (an opaque origin, no scripts, no forms).
NOTEBOOK_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RunStartedOut(BaseModel):
    via: Literal["local", "airflow"]
    run_id: int | None
    dag_run_id: str | None


class RunOut(BaseModel):
    id: int
    pipeline_id: int
    pipeline_name: str
    state: str
    triggered_by: str | None
    started_at: Moment
    ended_at: Moment
    duration_seconds: float | None = Field(
        description="Working time: start to end, less the time it spent failed before resumes."
    )
    task_counts: dict[str, int]
    configuration: Literal["current", "pinned"] = Field(
        description="Which configuration its remaining tasks use: current (pinned when it "
        "started, or re-pinned by a resume) or pinned (resumed with its snapshot as it was)."
    )
    resumed_by: str | None
    resumed_at: Moment
    idle_seconds: float
    dag_run_id: str | None = Field(
        description="Airflow's id of the DAG run that recorded it (null on the local runner)."
    )
    cancelled_by: str | None = Field(None, description="Who cancelled it (null unless cancelled).")


class TaskOut(BaseModel):
    transformation_id: int
    task_id: str
    template: str
    state_name: str
    group_step: int
    state: str
    attempt: int
    started_at: Moment
    ended_at: Moment
    duration_seconds: float | None
    rows_in: int | None
    rows_out: int | None
    error_summary: str | None
    notebook_location: str | None
    output_references: dict[str, Any] | None
    notebook_url: str | None = None
    diff_against: int | None = Field(
        None,
        description="The latest earlier run in which this task succeeded: what "
        "GET /api/datasets/{transformation_id}/diff compares this run's output with.",
    )
    job_id: str | None = Field(None, description="The AWS Batch job of its latest try.")
    try_number: int | None = Field(None, description="Airflow's try, when Airflow ran it.")
    log_url: str | None = Field(None, description="GET it for the task's log (masked).")
    airflow_url: str | None = Field(None, description="The task's try in Airflow's UI.")


class SnapshotOut(BaseModel):
    number: int
    pinned_by: str | None
    pinned_at: Moment


class ChangeOut(BaseModel):
    transformation_id: int
    transformation: str
    what: str = Field(description="'variable NAME', 'template', 'order', 'transformation added'…")
    before: Any
    after: Any


class RunDetailOut(RunOut):
    tasks: list[TaskOut]
    previous_run_id: int | None
    snapshots: list[SnapshotOut] = Field(
        description="The configuration snapshots it was pinned to, oldest first."
    )
    changes: list[ChangeOut] = Field(
        description="What changed in the configuration since the previous run of the pipeline."
    )


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration: Literal["current", "pinned"] = Field(
        "current",
        description="current: re-pin the remaining tasks to the configuration now (after a "
        "fix); pinned: keep the run's snapshot as it was.",
    )


@router.post("/pipelines/{pipeline_id}/runs", status_code=202, response_model=RunStartedOut)
def start_run(pipeline_id: IdPath, session: SessionDep, settings: SettingsDep, user: Editor) -> Any:
    """Start a run now: on the local runner, or through Airflow's REST API when configured."""
    started = service.start_pipeline_run(settings, session, pipeline_id, user.email_address)
    return json_response(RunStartedOut.model_validate(started, from_attributes=True), 202)


@router.post("/runs/{run_id}/resume", status_code=202, response_model=RunStartedOut)
def resume_run(
    run_id: IdPath, body: ResumeIn, session: SessionDep, settings: SettingsDep, user: Editor
) -> Any:
    """Resume a failed or cancelled run: re-run what did not succeed, with the configuration
    chosen."""
    started = controls.resume_pipeline_run(
        settings, session, run_id, body.configuration, user.email_address
    )
    return json_response(RunStartedOut.model_validate(started, from_attributes=True), 202)


class CancelledOut(BaseModel):
    run_id: int
    state: Literal["cancelled"]
    stopped: bool = Field(
        description="Whether the orchestrator driving the run was told to stop it (false when "
        "no live runner was found: the run is recorded cancelled all the same)."
    )


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=CancelledOut)
def cancel_run(run_id: IdPath, session: SessionDep, settings: SettingsDep, user: Editor) -> Any:
    """Cancel a running run: it is recorded cancelled and its workers are stopped."""
    stopped = controls.cancel_pipeline_run(settings, session, run_id, user.email_address)
    return json_response(CancelledOut(run_id=run_id, state="cancelled", stopped=stopped), 202)


@router.post(
    "/runs/{run_id}/tasks/{transformation_id}/rerun",
    status_code=202,
    response_model=RunStartedOut,
)
def rerun_task(
    run_id: IdPath,
    transformation_id: IdPath,
    body: ResumeIn,
    session: SessionDep,
    settings: SettingsDep,
    user: Editor,
) -> Any:
    """Re-run one task of an ended run and every task downstream of it, under the same run id."""
    started = controls.rerun_task(
        settings, session, run_id, transformation_id, body.configuration, user.email_address
    )
    return json_response(RunStartedOut.model_validate(started, from_attributes=True), 202)


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    session: SessionDep,
    _: Viewer,
    pipeline_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    state: RunState | None = None,
    since: Annotated[
        dt.date | None, Query(description="Started on or after this day (UTC).")
    ] = None,
    until: Annotated[
        dt.date | None, Query(description="Started on or before this day (UTC).")
    ] = None,
    started_by: Annotated[
        str | None,
        Query(max_length=PERSON_LENGTH, description="Part of who started it, any case."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Runs, newest first, each with its tasks counted by state; filtered by pipeline,
    state, the days they started (both included) and who started them."""
    chosen = RunFilter(pipeline_id, state, since, until, started_by)
    rows, total = service.list_runs(session, limit=limit, offset=offset, chosen=chosen)
    items = [RunOut.model_validate(row, from_attributes=True) for row in rows]
    return json_response(Page[RunOut](items=items, total=total, limit=limit, offset=offset))


@router.get("/pipelines/{pipeline_id}/grid", response_model=RunGrid)
def get_grid(
    pipeline_id: IdPath,
    session: SessionDep,
    _: Viewer,
    runs: Annotated[int, Query(ge=1, le=MAX_GRID_RUNS)] = GRID_RUNS,
) -> Any:
    """A pipeline's newest runs (oldest first) and each task's state in each: the grid.

    A task's ``states`` line up with ``runs``; null where that run did not plan the task.
    """
    return run_grid(session, pipeline_id, runs)


@router.get("/runs/{run_id}", response_model=RunDetailOut)
def get_run(run_id: IdPath, session: SessionDep, settings: SettingsDep, _: Viewer) -> Any:
    """One run with its tasks in plan order: state, timings, rows, error, notebook link."""
    detail = RunDetailOut.model_validate(service.run_detail(session, run_id), from_attributes=True)
    links = task_links(settings, detail)
    for task in detail.tasks:
        if task.attempt:
            task.log_url = f"/api/runs/{run_id}/tasks/{task.transformation_id}/log"
        task.airflow_url = links.get(task.transformation_id)
        if task.notebook_location:
            task.notebook_url = f"/api/runs/{run_id}/tasks/{task.transformation_id}/notebook"
    return json_response(detail)


@router.get(
    "/runs/{run_id}/tasks/{transformation_id}/notebook",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The notebook as HTML."}},
)
def get_notebook(
    run_id: IdPath,
    transformation_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
) -> HTMLResponse:
    """The task's executed notebook as HTML, served sandboxed (its scripts do not run)."""
    html = notebooks.notebook_html(settings, session, run_id, transformation_id)
    return HTMLResponse(html, headers=NOTEBOOK_HEADERS)


@router.get("/runs/{run_id}/checks", response_model=list[CheckResultOut])
def get_run_checks(run_id: IdPath, session: SessionDep, _: Viewer) -> Any:
    """The data quality check results of a run, by transformation then check."""
    from core.checks.results import results_of_run
    from core.runs import get_run as run_event

    run_event(session, run_id)  # 404 for an unknown run
    return json_response(
        [CheckResultOut.model_validate(r) for r in results_of_run(session, run_id)]
    )
