"""The audit trail: who changed which configuration row, before and after, and in words."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import SessionDep, Viewer
from core.api.routes.runs import MAX_ID
from core.api.schemas import Page, json_response
from core.service import audit as service
from core.service.audit_entries import Entry, describe

router = APIRouter(prefix="/api", tags=["audit"])


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    table_name: str
    action: str
    actor: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    occurred_at: dt.datetime
    summary: str = Field(
        description="The change in words, values in backticks, e.g. "
        "'alice@example.com set delimiter of initial_ingest #2 from `|` to `;`'"
    )
    url: str | None = Field(
        description="The UI page showing the changed row (or its pipeline), if there is one"
    )
    pipeline_id: int | None = Field(description="The pipeline the row belongs to, if any")

    @classmethod
    def of(cls, entry: Entry) -> AuditEventOut:
        """The entry's event, with its sentence, link and pipeline."""
        event = entry.event
        return cls(
            id=event.id,
            table_name=event.table_name,
            action=event.action,
            actor=event.actor,
            before=event.before,
            after=event.after,
            occurred_at=event.occurred_at,
            summary=entry.summary,
            url=entry.url,
            pipeline_id=entry.pipeline_id,
        )


@router.get("/audit", response_model=Page[AuditEventOut])
def list_events(
    session: SessionDep,
    user: Viewer,
    table: Annotated[str | None, Query(max_length=100, description="e.g. pipelines")] = None,
    actor: Annotated[str | None, Query(max_length=320, description="an email")] = None,
    action: Annotated[
        str | None, Query(max_length=10, description="INSERT, UPDATE, DELETE")
    ] = None,
    pipeline_id: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ID,
            description="only this pipeline's own rows: it, its states, transformations, "
            "their variables and checks",
        ),
    ] = None,
    since: Annotated[dt.date | None, Query(description="from this day (UTC), YYYY-MM-DD")] = None,
    until: Annotated[dt.date | None, Query(description="to this day (UTC), YYYY-MM-DD")] = None,
    bookkeeping: Annotated[
        bool,
        Query(description="include updates of bookkeeping columns only (updated_at, …)"),
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Changes to the configuration, newest first, each with a sentence (changes to users:
    admins only)."""
    events, total = service.list_events(
        session,
        table,
        actor,
        action,
        limit,
        offset,
        people=user.role == "admin",
        pipeline_id=pipeline_id,
        since=since,
        until=until,
        bookkeeping=bookkeeping,
    )
    items = [AuditEventOut.of(entry) for entry in describe(session, events)]
    return json_response(Page[AuditEventOut](items=items, total=total, limit=limit, offset=offset))
