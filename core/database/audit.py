"""Who changed what: last_actor stamping and, off PostgreSQL, the audit rows.

PostgreSQL writes ``auditing.events`` with triggers and reads the actor from the
transaction setting ``core.actor``; SQLite has no triggers that can do this, so
the same rows are written here from the ORM's flush.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from sqlalchemy import event, func, insert, inspect, select, true
from sqlalchemy.orm import Session, SessionTransaction

from core.models.audit import AuditEvent
from core.models.base import Tracked, utcnow

# Operational tables: high volume, not configuration, so not audited.
NOT_AUDITED = frozenset({"events", "run_events", "task_runs", "check_results"})


class CoreSession(Session):
    """A Session that knows who is acting (``session.info['actor']``)."""

    @property
    def actor(self) -> str | None:
        """The person or process this session acts for."""
        return self.info.get("actor")


@event.listens_for(CoreSession, "after_begin")
def _set_database_actor(session: Session, _tx: SessionTransaction, connection: Any) -> None:
    if connection.dialect.name == "postgresql" and session.info.get("actor"):
        # true: the setting lasts for this transaction only, as the triggers expect.
        connection.execute(select(func.set_config("core.actor", session.info["actor"], true())))


@event.listens_for(CoreSession, "before_flush")
def _stamp_last_actor(session: Session, _context: Any, _instances: Any) -> None:
    actor = session.info.get("actor")
    if not actor:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Tracked) and not inspect(obj).attrs.last_actor.history.added:
            obj.last_actor = actor


@event.listens_for(CoreSession, "after_flush")
def _write_audit_rows(session: Session, _context: Any) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return  # the triggers do it
    rows = [_row("INSERT", o, session) for o in session.new if _audited(o)]
    rows += [_row("UPDATE", o, session) for o in session.dirty if _audited(o) and _changed(o)]
    rows += [_row("DELETE", o, session) for o in session.deleted if _audited(o)]
    if rows:
        connection.execute(insert(AuditEvent.__table__), rows)


def _audited(obj: Any) -> bool:
    return isinstance(obj, Tracked) and obj.__table__.name not in NOT_AUDITED


def _changed(obj: Any) -> bool:
    state = inspect(obj)
    return any(state.attrs[c.key].history.has_changes() for c in state.mapper.column_attrs)


def _row(action: str, obj: Any, session: Session) -> dict[str, Any]:
    state = inspect(obj)
    current = {c.key: _jsonable(getattr(obj, c.key)) for c in state.mapper.column_attrs}
    before = dict(current)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.deleted:
            before[attr.key] = _jsonable(history.deleted[0])
    actor = session.info.get("actor") or current.get("last_actor")
    return {
        "table_name": obj.__table__.name,
        "action": action,
        "actor": actor,
        "before": None if action == "INSERT" else before,
        "after": None if action == "DELETE" else current,
        "occurred_at": utcnow(),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value
