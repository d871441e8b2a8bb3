"""The declarative base and the columns every configuration table carries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, event, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column

# Deterministic constraint names, so that migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AUDIT_SCHEMA = "auditing"
# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time in UTC, timezone-aware."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Base of every mapped class of the configuration application."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Tracked:
    """created_at, updated_at and last_actor, on every table.

    updated_at is set by the ORM on every update and, on PostgreSQL, by a trigger
    too, so that changes made outside the ORM are stamped as well. last_actor is
    filled from the session's actor when a flush does not set it explicitly.
    """

    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )
    last_actor: Mapped[str | None] = mapped_column(String(320))


@event.listens_for(Base, "mapper_configured", propagate=True)
def _load_old_values_on_set(mapper: Mapper[Any], class_: type) -> None:
    # The audit trail's "before" image needs the old value even when the object
    # was expired by a commit: active history loads it before it is replaced.
    if issubclass(class_, Tracked):
        for attr in mapper.column_attrs:
            event.listen(getattr(class_, attr.key), "set", _keep, active_history=True)


def _keep(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
    return value
