"""The audit trail: one row per insert, update or delete of a configuration row.

On PostgreSQL the rows are written by triggers (see the migrations), so that
changes made outside CORE are recorded too; elsewhere by ORM events
(``core.database.audit``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import AUDIT_SCHEMA, Base, JsonType, utcnow

AUDIT_ACTIONS = ("INSERT", "UPDATE", "DELETE")


class AuditEvent(Base):
    """A change to a configuration row: who, when, and the row before and after."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("action IN ('INSERT', 'UPDATE', 'DELETE')", name="action_known"),
        Index("ix_events_table_name_occurred_at", "table_name", "occurred_at"),
        {"schema": AUDIT_SCHEMA},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str | None] = mapped_column(String(320))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    occurred_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
