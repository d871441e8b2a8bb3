"""People who may use the configuration application, each with a role."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column, validates
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
