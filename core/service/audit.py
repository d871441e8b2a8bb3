"""The audit trail: who changed which configuration row, with the row before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
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
# Columns kept for the machine, not the reader: when and by whom a row was stamped, when
# a token or session was last used, the row's version. An update of these alone is
# bookkeeping, left out of the trail (``list_events``) and of the changes shown.
BOOKKEEPING = frozenset(
    {"created_at", "updated_at", "last_actor", "last_used_at", "last_seen_at", "version"}
)
# A pipeline's own rows: the columns that tie each table's rows to their pipeline.
PIPELINE_PARTS = ("pipelines", "pipeline_states", "transformations")
OF_TRANSFORMATION = ("transformation_variables", "dataset_checks")


def audited_tables() -> list[str]:
    """The names of the tables whose changes are audited, sorted."""
    return sorted(table.name for table in _audited_table_objects())


def list_events(
    session: Session,
    table: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 50,
    offset: int = 0,
    people: bool = False,
    pipeline_id: int | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    bookkeeping: bool = False,
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
        pipeline_id: only changes to this pipeline's own rows: the pipeline, its states,
            their transformations and those transformations' variables and checks
            (deleted ones included).
        since: only changes on or after this day (UTC).
        until: only changes on or before this day (UTC).
        bookkeeping: include updates that changed BOOKKEEPING columns only.

    Returns:
        The events and how many match in all.

    Raises:
        InvalidInputError: an unknown table or action, or ``until`` before ``since``.
        PermissionDeniedError: ``table`` is one of PEOPLE_TABLES and ``people`` is False.
    """
    conditions = [] if people else [AuditEvent.table_name.not_in(PEOPLE_TABLES)]
    if table:
        conditions.append(AuditEvent.table_name == _check_table(table, people))
    if actor:
        conditions.append(AuditEvent.actor == actor)
    if action:
        conditions.append(AuditEvent.action == _check_action(action))
    if pipeline_id is not None:
        conditions.append(of_pipeline(pipeline_id))
    conditions += _between(since, until)
    if not bookkeeping:
        conditions.append(or_(AuditEvent.action != "UPDATE", _meaningful_update()))
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


def row_field(name: str) -> ColumnElement[int]:
    """A whole-number column of the event's row: after the change, else before it."""
    return func.coalesce(AuditEvent.after[name].as_integer(), AuditEvent.before[name].as_integer())


def of_pipeline(pipeline_id: int) -> ColumnElement[bool]:
    """The events of one pipeline's own rows, as one condition (subqueries, no loop).

    A state belongs to the pipeline when any image of it names the pipeline; a
    transformation when it was in one of those states (before or after the change);
    variables and checks when their transformation did. Deleted rows count too: their
    ids come from the trail itself.
    """
    table = AuditEvent.table_name
    states = select(row_field("id")).where(
        table == "pipeline_states", row_field("pipeline_id") == pipeline_id
    )
    in_states = or_(
        AuditEvent.after["pipeline_state_id"].as_integer().in_(states),
        AuditEvent.before["pipeline_state_id"].as_integer().in_(states),
    )
    transformations = select(row_field("id")).where(table == "transformations", in_states)
    return or_(
        and_(table == "pipelines", row_field("id") == pipeline_id),
        and_(table == "pipeline_states", row_field("pipeline_id") == pipeline_id),
        and_(table == "transformations", in_states),
        and_(table.in_(OF_TRANSFORMATION), row_field("transformation_id").in_(transformations)),
    )


def _between(since: dt.date | None, until: dt.date | None) -> list[ColumnElement[bool]]:
    if since and until and until < since:
        message = f"is before since ({since.isoformat()}); pick a day on or after it."
        raise InvalidInputError([("until", until.isoformat(), message)])
    conditions = []
    if since:
        conditions.append(AuditEvent.occurred_at >= _midnight(since))
    if until:
        conditions.append(AuditEvent.occurred_at < _midnight(until + dt.timedelta(days=1)))
    return conditions


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _meaningful_update() -> ColumnElement[bool]:
    """An update that changed a column other than BOOKKEEPING (per table: its columns)."""
    per_table = []
    for table in _audited_table_objects():
        columns = [c.name for c in table.columns if c.name not in BOOKKEEPING]
        changed = [
            AuditEvent.before[c].as_string().is_distinct_from(AuditEvent.after[c].as_string())
            for c in columns
        ]
        per_table.append(and_(AuditEvent.table_name == table.name, or_(*changed)))
    return or_(*per_table)


def _audited_table_objects() -> list[Table]:
    return [
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Tracked) and mapper.local_table.name not in NOT_AUDITED
    ]


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
