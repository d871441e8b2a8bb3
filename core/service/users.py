"""Users of the configuration application: passwords, roles and API tokens.

Passwords are kept as argon2id hashes; API tokens as the SHA-256 of 256 random
bits, shown to their owner once. Neither is ever returned by a function here
except the plain token at the moment it is issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from core.models.administrators import ROLES, Administrator, ApiToken
from core.models.base import utcnow
from core.service.resources import unstorable, valid_id
from core.settings import Settings

TOKEN_PREFIX = "core_"  # noqa: S105 - a label, not a secret
# last_used_at is written at most this often per token, so reads do not become writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 10
# A hash to verify against when the email is unknown, so both cases take as long.
_DUMMY_HASH: list[str] = []


def _hasher() -> Any:
    # argon2 is imported only where passwords are handled (not by workers).
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of a password.

    Raises:
        ConfigurationError: the password is shorter than MIN_PASSWORD_LENGTH.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigurationError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters; choose a longer one"
        )
    return _hasher().hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (False for a user without one)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_hasher().hash(secrets.token_hex(16)))
    try:
        return _hasher().verify(hashed or _DUMMY_HASH[0], password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, email: str, password: str) -> Administrator:
    """The active user with this email and password.

    Raises:
        AuthenticationError: unknown email, wrong password or inactive user (one message
            for all three, so that a login form does not reveal which emails exist).
    """
    user = session.scalars(
        select(Administrator).where(Administrator.email_address == email.strip().lower())
    ).one_or_none()
    ok = verify_password(user.hashed_password if user else None, password)
    if user is None or not ok or not user.is_active:
        raise AuthenticationError("wrong email or password, or the user is deactivated")
    return user


def require_role(user: Administrator, role: str) -> None:
    """Refuse a user whose role is below ``role`` (viewer < editor < admin).

    Raises:
        PermissionDeniedError: naming the role needed and the user's.
    """
    if ROLES.index(user.role) < ROLES.index(role):
        raise PermissionDeniedError(
            f"{user.email_address} has the role {user.role!r}; this needs {role!r} or above. "
            "Ask an admin to change your role."
        )


def add_user(
    session: Session, email: str, role: str, password: str, first: str | None = None
) -> Administrator:
    """Create a user (committed).

    Raises:
        ConfigurationError: bad email, role or password, or the email is taken.
    """
    from core.service.catalog import ADMINISTRATORS
    from core.service.resources import create_row

    values = {"email_address": email, "role": role, "password": password, "first_name": first}
    return create_row(session, ADMINISTRATORS, values)


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: ``token`` is shown once and never stored."""

    row: ApiToken
    token: str


def issue_token(
    session: Session, user_id: int, name: str, expires_in_days: int | None = None
) -> IssuedToken:
    """Create an API token for a user (committed).

    Raises:
        NotFoundError: no such user.
        InvalidInputError: the name is empty or the lifetime is not positive (a
            ConfigurationError naming the field).
    """
    if not valid_id(user_id) or session.get(Administrator, user_id) is None:
        raise NotFoundError(f"no user with id {user_id}")
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or unstorable(name):
        raise InvalidInputError(
            [("name", name, "is not a valid token name: expected 1-100 characters, not blank")]
        )
    if expires_in_days is not None and not 0 < expires_in_days <= 36_500:
        raise InvalidInputError(
            [("expires_in_days", expires_in_days, "expected a number of days from 1 to 36500")]
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    row = ApiToken(
        administrator_id=user_id,
        name=name.strip(),
        prefix=token[:12],
        token_hash=token_hash(token),
        expires_at=expires,
    )
    session.add(row)
    session.commit()
    return IssuedToken(row=row, token=token)


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def user_for_token(session: Session, token: str) -> Administrator:
    """The active user who owns a live token; records its use.

    Raises:
        AuthenticationError: unknown, revoked or expired token, or an inactive owner.
    """
    query = (
        select(ApiToken)
        .where(ApiToken.token_hash == token_hash(token))
        .options(joinedload(ApiToken.administrator))  # one query per request, not two
    )
    row = session.scalars(query).one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("the API token is unknown or revoked; create a new one")
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        raise AuthenticationError(f"the API token {row.prefix}… expired; create a new one")
    if not row.administrator.is_active:
        raise AuthenticationError("the API token's user is deactivated")
    if row.last_used_at is None or now - as_utc(row.last_used_at) >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row.administrator


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """Revoke a token (committed).

    Raises:
        NotFoundError: no such token.
    """
    row = session.get(ApiToken, token_id) if valid_id(token_id) else None
    if row is None:
        raise NotFoundError(f"no API token with id {token_id}")
    row.revoked_at = row.revoked_at or utcnow()
    session.commit()
    return row


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime."""
    # SQLite hands back naive datetimes; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


LOCAL_ADMIN = "admin@core.local"


def local_admin(settings: Settings, session: Session) -> tuple[str, str]:
    """The dev machine's admin, created on first use with a random password.

    The password is kept in ``$CORE_HOME/admin_password`` (mode 0600) so the
    demo can print it again; only dev uses this.

    Returns:
        The email address and the password.

    Raises:
        ConfigurationError: outside dev, where people are added with ``core users add``.
    """
    if settings.environment != "dev":
        raise ConfigurationError(
            f"a local admin exists only in dev, not {settings.environment}; "
            "add people with `core users add EMAIL --role admin`"
        )
    path = settings.home / "admin_password"
    exists = session.scalars(
        select(Administrator).where(Administrator.email_address == LOCAL_ADMIN)
    ).one_or_none()
    if exists is not None and path.is_file():
        return LOCAL_ADMIN, path.read_text().strip()
    password = secrets.token_urlsafe(12)
    if exists is None:
        add_user(session, LOCAL_ADMIN, "admin", password, first="Local")
    else:
        exists.hashed_password = hash_password(password)
        session.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return LOCAL_ADMIN, password


@dataclass(frozen=True)
class UserRow:
    """One user of the users page, with how many live API tokens they hold."""

    id: int
    email_address: str
    first_name: str | None
    last_name: str | None
    role: str
    is_active: bool
    live_tokens: int


def list_users(session: Session) -> list[UserRow]:
    """Every user by email, with their live (not revoked) token counts (two queries)."""
    from sqlalchemy import func

    counts = dict(
        session.execute(
            select(ApiToken.administrator_id, func.count())
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.administrator_id)
        ).all()
    )
    users = session.scalars(select(Administrator).order_by(Administrator.email_address))
    return [
        UserRow(
            u.id,
            u.email_address,
            u.first_name,
            u.last_name,
            u.role,
            u.is_active,
            counts.get(u.id, 0),
        )
        for u in users
    ]


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """A user's tokens, newest first (names, prefixes and dates; never the tokens).

    Raises:
        NotFoundError: no such user.
    """
    if not valid_id(user_id) or session.get(Administrator, user_id) is None:
        raise NotFoundError(f"no user with id {user_id}")
    query = select(ApiToken).where(ApiToken.administrator_id == user_id)
    return list(session.scalars(query.order_by(ApiToken.id.desc())))
