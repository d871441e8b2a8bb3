"""The audit trail: who changed which configuration row, before and after."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from core.api.deps import SessionDep, Viewer
from core.api.routes.runs import MAX_ID
from core.api.schemas import Page, json_response
from core.service import audit as service

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


@router.get("/audit", response_model=Page[AuditEventOut])
def list_events(
    session: SessionDep,
    user: Viewer,
    table: Annotated[str | None, Query(max_length=100, description="e.g. pipelines")] = None,
    actor: Annotated[str | None, Query(max_length=320, description="an email")] = None,
    action: Annotated[
        str | None, Query(max_length=10, description="INSERT, UPDATE, DELETE")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Any:
    """Changes to the configuration, newest first (changes to users: admins only)."""
    people = user.role == "admin"
    events, total = service.list_events(session, table, actor, action, limit, offset, people)
    items = [AuditEventOut.model_validate(event) for event in events]
    return json_response(Page[AuditEventOut](items=items, total=total, limit=limit, offset=offset))
