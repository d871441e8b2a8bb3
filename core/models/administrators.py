"""People who may use the configuration application, each with a role."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql.expression import true

from core.errors import ConfigurationError
from core.models.base import Base, Tracked

ROLES = ("viewer", "editor", "admin")


class Administrator(Tracked, Base):
    """A person who may use the configuration application, with a role."""

    __tablename__ = "administrators"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'editor', 'admin')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default="viewer", server_default="viewer")
    hashed_password: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    @validates("email_address")
    def _email(self, _key: str, value: str) -> str:
        if not isinstance(value, str) or value.count("@") != 1 or " " in value:
            raise ConfigurationError(
                f"administrator email_address {value!r} is not valid: expected name@domain"
            )
        return value.lower()

    @validates("role")
    def _role(self, _key: str, value: str) -> str:
        if value not in ROLES:
            raise ConfigurationError(
                f"administrator role {value!r} is not valid: expected one of {', '.join(ROLES)}"
            )
        return value


class ApiToken(Tracked, Base):
    """A token a machine presents instead of a password; only its SHA-256 is stored.

    Tokens are 256 random bits, so a fast hash is enough: nobody can guess one from
    its hash, and a lookup by hash is one indexed query per request.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    administrator_id: Mapped[int] = mapped_column(
        ForeignKey("administrators.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the token, shown in lists so people can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    administrator: Mapped[Administrator] = relationship()


class WebSession(Tracked, Base):
    """One signed-in browser: its cookie holds a random id, only whose SHA-256 is stored.

    A session ends at logout (``revoked_at``), after ``web_session_idle_minutes``
    without a request, after ``web_session_max_hours`` in all, and when its user's
    password, role or active flag changes (``credentials`` no longer matches).
    """

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    administrator_id: Mapped[int] = mapped_column(
        ForeignKey("administrators.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the user's password hash, role and active flag when the session began.
    credentials: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    administrator: Mapped[Administrator] = relationship()
