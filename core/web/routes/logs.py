"""A task's log page: the whole log of a finished task, a running one's tail followed live.

Following is htmx polling: the follower fragment asks every two seconds for what was
written after its offset, appends it to the log (an out-of-band swap) and replaces
itself with a follower at the new offset, until the task has ended. Searching filters
the log's lines on the server, so the page needs no script of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, SettingsDep, Viewer
from core.service.task_logs import LogRequest, task_log
from core.web.templating import render

router = APIRouter(include_in_schema=False)
WHOLE_BYTES = 4 * 1024 * 1024  # a finished log up to this size is shown whole
TAIL_LINES = 2000  # else (and while running) its tail
MAX_MATCHES = 1000


@dataclass(frozen=True)
class Match:
    """A line of the log that holds the searched text."""

    number: int
    before: str
    found: str
    after: str


@router.get("/runs/{run_id}/tasks/{transformation_id}/log")
def log_page(
    request: Request,
    run_id: int,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The task's log: whole when it has ended (its tail when huge), searched with ``q``."""
    if q:
        whole = task_log(settings, session, run_id, transformation_id, _whole())
        context = {"log": whole, "q": q, "matches": search(whole.text, q), "shown": "search"}
        return render(request, "runs/log.html", context)
    log = task_log(settings, session, run_id, transformation_id, _whole())
    shown = "whole"
    if not log.complete:  # running, or too big to show whole: its tail
        log = task_log(settings, session, run_id, transformation_id, LogRequest(tail=TAIL_LINES))
        shown = "tail"
    return render(request, "runs/log.html", {"log": log, "q": "", "shown": shown})


@router.get("/runs/{run_id}/tasks/{transformation_id}/log/follow")
def follow_fragment(
    request: Request,
    run_id: int,
    transformation_id: int,
    session: SessionDep,
    settings: SettingsDep,
    _user: Viewer,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """What the task wrote after ``offset`` (appended out of band) and the next follower."""
    log = task_log(settings, session, run_id, transformation_id, LogRequest(offset=offset))
    return render(request, "runs/_log_follow.html", {"log": log, "appended": log.text})


def search(text: str, q: str) -> list[Match]:
    """The lines holding ``q`` (ignoring case), numbered from 1, at most 1,000."""
    matches, needle = [], re.compile(re.escape(q), re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), start=1):
        found = needle.search(line)
        if found:
            at, end = found.span()
            matches.append(Match(number, line[:at], line[at:end], line[end:]))
            if len(matches) == MAX_MATCHES:
                break
    return matches


def _whole() -> LogRequest:
    return LogRequest(tail=None, offset=0, limit=WHOLE_BYTES)
