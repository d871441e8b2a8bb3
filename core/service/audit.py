"""The audit trail: who changed which configuration row, with the row before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.database.audit import NOT_AUDITED
from core.errors import InvalidInputError, PermissionDeniedError, did_you_mean
from core.models import administrators, configuration, runs  # noqa: F401 - every table mapped
from core.models.audit import AUDIT_ACTIONS, AuditEvent
from core.models.base import Base, Tracked

# Columns whose values never leave the database through the audit trail, even hashed.
REDACTED = frozenset({"hashed_password", "token_hash", "credentials"})
# The records of people (emails, roles, tokens, sessions): their changes are shown to
# admins only; a viewer or editor sees the configuration's changes.
PEOPLE_TABLES = frozenset({"administrators", "api_tokens", "web_sessions"})


def audited_tables() -> list[str]:
    """The names of the tables whose changes are audited, sorted."""
    return sorted(
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Tracked) and mapper.local_table.name not in NOT_AUDITED
    )


def list_events(
    session: Session,
    table: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
    people: bool = False,
) -> tuple[list[AuditEvent], int]:
    """A page of audit events, newest first, in two queries (the count and the page).

    Args:
        session: a configuration session.
        table: only changes to this table (e.g. ``pipelines``); None or "" for all.
        actor: only changes made by this person or process (exact, e.g. an email).
        action: only INSERT, UPDATE or DELETE (any case).
        limit: at most this many events.
        offset: skip this many.
        people: include changes to PEOPLE_TABLES (for admins only).

    Returns:
        The events and how many match in all.

    Raises:
        InvalidInputError: an unknown table or action, with the known ones named.
        PermissionDeniedError: ``table`` is one of PEOPLE_TABLES and ``people`` is False.
    """
    conditions = [] if people else [AuditEvent.table_name.not_in(PEOPLE_TABLES)]
    if table:
        conditions.append(AuditEvent.table_name == _check_table(table, people))
    if actor:
        conditions.append(AuditEvent.actor == actor)
    if action:
        conditions.append(AuditEvent.action == _check_action(action))
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    query = (
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    events = list(session.scalars(query))
    for event in events:
        session.expunge(event)  # redacted copies: nothing here may be written back
        event.before, event.after = redact(event.before, event.after)
    return events, total


def redact(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The row images with password and token hashes replaced by a marker.

    A hash that changed keeps showing that it changed, never what it was.
    """
    old, new = dict(before or {}), dict(after or {})
    for key in REDACTED & (set(old) | set(new)):
        changed = before is not None and after is not None and old.get(key) != new.get(key)
        for image in (old, new):
            if image.get(key) is not None:
                image[key] = "(redacted)"
        if changed and key in new and new[key] is not None:
            new[key] = "(redacted, changed)"
    return (old if before is not None else None), (new if after is not None else None)


def _check_table(table: str, people: bool) -> str:
    if table in PEOPLE_TABLES and not people:
        raise PermissionDeniedError(
            f"changes to {table} (people's emails, roles and credentials) are shown to admins only"
        )
    known = audited_tables()
    if table not in known:
        message = f"is not an audited table; expected one of {', '.join(known)}."
        raise InvalidInputError([("table", table, message + did_you_mean(table, known))])
    return table


def _check_action(action: str) -> str:
    upper = action.upper()
    if upper not in AUDIT_ACTIONS:
        message = f"expected one of {', '.join(AUDIT_ACTIONS)}."
        raise InvalidInputError([("action", action, message)])
    return upper
