"""The audit page: who changed which row, when, and what changed (before and after)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, Viewer
from core.models.audit import AUDIT_ACTIONS
from core.service import audit as service
from core.web.templating import paging, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass(frozen=True)
class Change:
    """One column of a changed row: its value before and after."""

    key: str
    before: Any
    after: Any


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    user: Viewer,
    table: Annotated[str | None, Query(max_length=100)] = None,
    actor: Annotated[str | None, Query(max_length=320)] = None,
    action: Annotated[str | None, Query(pattern="^(|INSERT|UPDATE|DELETE)$")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A page of audit events, newest first, each with only the columns that changed."""
    chosen = {
        "table": table or None,
        "actor": (actor or "").strip() or None,
        "action": action or None,
    }
    people = user.role == "admin"  # changes to users: admins only
    events, total = service.list_events(
        session, limit=PAGE_SIZE, offset=offset, people=people, **chosen
    )
    context = {
        "events": [(event, changes(event.action, event.before, event.after)) for event in events],
        "tables": [t for t in service.audited_tables() if people or t not in service.PEOPLE_TABLES],
        "actions": AUDIT_ACTIONS,
        **paging("/audit", chosen, offset, PAGE_SIZE, total),
    }
    return render(request, "audit/list.html", context)


def changes(
    action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[Change]:
    """The columns an event changed: all of an insert or delete, else those that differ.

    Password and token hashes arrive redacted (core.service.audit.redact).

    Args:
        action: INSERT, UPDATE or DELETE.
        before: the row before (None for an insert).
        after: the row after (None for a delete).

    Returns:
        The changed columns, sorted by name.
    """
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    if action == "UPDATE":
        keys = [k for k in keys if before.get(k) != after.get(k)]
    return [Change(k, before.get(k), after.get(k)) for k in keys]
