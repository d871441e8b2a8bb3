"""A task's log: its tail, a range from a position, the whole file, or followed live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.api.schemas import json_response
from core.service import task_logs
from core.service.resources import MAX_ID
from core.service.task_logs import (
    DEFAULT_LIMIT,
    DEFAULT_TAIL,
    MAX_LIMIT,
    MAX_TAIL,
    LogRequest,
    task_log,
)
from core.settings import Settings

router = APIRouter(prefix="/api", tags=["runs"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
FOLLOW_POLL_SECONDS = 1.0


class TaskLogOut(BaseModel):
    run_id: int
    transformation_id: int
    task_id: str
    state: str
    attempt: int
    source: str | None = Field(
        description="Where the log was read: file (this machine), cloudwatch (a Batch "
        "job's stream); null when the task has written nothing yet."
    )
    where: str | None
    text: str = Field(description="The log's text, secrets masked as ***.")
    offset: int = Field(description="Where this text begins (bytes; events for cloudwatch).")
    next_offset: int = Field(description="Pass as offset to read on from here (follow).")
    complete: bool = Field(description="The task has ended and the text reaches its end.")
    job_id: str | None
    try_number: int | None
    airflow_url: str | None = Field(description="The task's log in Airflow's UI, if it ran there.")


@router.get("/runs/{run_id}/tasks/{transformation_id}/log", response_model=TaskLogOut)
def get_task_log(
    run_id: IdPath,
    transformation_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    _: Viewer,
    tail: Annotated[int, Query(ge=0, le=MAX_TAIL, description="The last N lines.")] = DEFAULT_TAIL,
    offset: Annotated[
        int | None, Query(ge=0, description="Read from here instead of the tail.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this much from offset.")
    ] = DEFAULT_LIMIT,
    follow: Annotated[
        bool, Query(description="Stream text/plain from offset (or the tail) until the task ends.")
    ] = False,
    download: Annotated[bool, Query(description="The whole log as a text/plain file.")] = False,
) -> Any:
    """A task's log, secrets masked: its tail (default 500 lines) or a range from ``offset``.

    Follow a running task by passing each answer's ``next_offset`` as the next ``offset``,
    or with ``follow=true``, which streams the log as text until the task ends.
    """
    request = LogRequest(tail=tail, offset=offset, limit=limit)
    if download:
        return _download(settings, session, run_id, transformation_id)
    log = task_log(settings, session, run_id, transformation_id, request)
    if follow:
        return StreamingResponse(
            task_logs.follow(settings, log, FOLLOW_POLL_SECONDS),
            media_type="text/plain; charset=utf-8",
        )
    return json_response(TaskLogOut.model_validate(log, from_attributes=True))


def _download(settings: Settings, session: Any, run_id: int, transformation_id: int) -> Any:
    whole = LogRequest(tail=None, offset=0, limit=MAX_LIMIT)
    log = task_log(settings, session, run_id, transformation_id, whole)
    name = f"run_{run_id}_{log.task_id}.log"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return PlainTextResponse(log.text, headers=headers)
