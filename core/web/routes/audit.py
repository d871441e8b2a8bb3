"""The audit pages: each change in words, linked to its object; all of them, or a pipeline's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, Viewer
from core.errors import InvalidInputError
from core.models.audit import AUDIT_ACTIONS
from core.service import audit as service
from core.service import catalog, resources
from core.service.audit_entries import describe
from core.web import lookups
from core.web.templating import paging, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
Day = Annotated[str | None, Query(max_length=10, pattern=r"^(|\d{4}-\d{2}-\d{2})$")]
Actor = Annotated[str | None, Query(max_length=320)]
Action = Annotated[str | None, Query(pattern="^(|INSERT|UPDATE|DELETE)$")]
Table = Annotated[str | None, Query(max_length=100)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    user: Viewer,
    table: Table = None,
    actor: Actor = None,
    action: Action = None,
    pipeline_id: Annotated[str | None, Query(max_length=10, pattern=r"^\d*$")] = None,
    since: Day = None,
    until: Day = None,
    offset: Offset = 0,
) -> Response:
    """A page of changes, newest first, filtered by table, pipeline, person and days."""
    chosen = _chosen(table, actor, action, since, until)
    chosen["pipeline_id"] = int(pipeline_id) if pipeline_id else None
    context = _page(session, user, "/audit", chosen, offset)
    context["pipelines"] = lookups.pipelines(session)
    return render(request, "audit/list.html", context)


@router.get("/pipelines/{pipeline_id}/audit")
def pipeline_audit_page(
    request: Request,
    pipeline_id: int,
    session: SessionDep,
    user: Viewer,
    table: Table = None,
    actor: Actor = None,
    action: Action = None,
    since: Day = None,
    until: Day = None,
    offset: Offset = 0,
) -> Response:
    """The changes of one pipeline's own rows: it, its states, transformations, variables
    and checks (deleted ones too).

    Raises:
        NotFoundError: no such pipeline (its changes stay on /audit?pipeline_id=…).
    """
    pipeline = resources.get_row(session, catalog.PIPELINES, pipeline_id)
    scope = {"id": pipeline.id, "name": pipeline.name}
    chosen = _chosen(table, actor, action, since, until)
    path = f"/pipelines/{pipeline_id}/audit"
    context = _page(session, user, path, chosen, offset, pipeline_id=pipeline_id)
    return render(request, "audit/list.html", {**context, "scope": scope})


def _chosen(
    table: str | None, actor: str | None, action: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    return {
        "table": table or None,
        "actor": (actor or "").strip() or None,
        "action": action or None,
        "since": since or None,
        "until": until or None,
    }


def _page(
    session: Any,
    user: Any,
    path: str,
    chosen: dict[str, Any],
    offset: int,
    pipeline_id: int | None = None,
) -> dict[str, Any]:
    """The template's variables: the entries of one page, the filters and the pager."""
    people = user.role == "admin"  # changes to users: admins only
    filters = {**chosen, "since": _day("since", chosen["since"])}
    filters["until"] = _day("until", chosen["until"])
    if pipeline_id is not None:
        filters["pipeline_id"] = pipeline_id
    events, total = service.list_events(
        session, limit=PAGE_SIZE, offset=offset, people=people, **filters
    )
    return {
        "entries": describe(session, events),
        "tables": [t for t in service.audited_tables() if people or t not in service.PEOPLE_TABLES],
        "actions": AUDIT_ACTIONS,
        "scope": None,
        **paging(path, chosen, offset, PAGE_SIZE, total),
    }


def _day(field: str, text: str | None) -> dt.date | None:
    """A YYYY-MM-DD filter as a date (422 naming the field when there is no such day)."""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError([(field, text, "is not a day: expected YYYY-MM-DD")]) from None
