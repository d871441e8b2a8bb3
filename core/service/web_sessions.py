"""Browser sessions kept on the server: a signed cookie alone could not be ended.

The cookie holds a random session id; the database holds its SHA-256 with the user,
when it was last used and whether it was revoked. A session is refused after logout,
after ``web_session_idle_minutes`` without a request, after ``web_session_max_hours``
in all, and as soon as its user's password, role or active flag changes, by whatever
path (API, UI, CLI): the session keeps a stamp of those and compares it on every
request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from core.errors import AuthenticationError
from core.models.administrators import Administrator, WebSession
from core.models.base import utcnow
from core.service.users import as_utc
from core.settings import Settings

# last_seen_at is written at most this often (each write is an audited update); the idle
# lifetime is counted in these steps.
SEEN_RESOLUTION = dt.timedelta(minutes=5)
SIGN_IN_AGAIN = "log in again at /login"


def credentials_stamp(user: Administrator) -> str:
    """What a session must still match: the user's password hash, role and active flag."""
    parts = f"{user.hashed_password or ''}\0{user.role}\0{bool(user.is_active)}"
    return hashlib.sha256(parts.encode()).hexdigest()


def session_hash(session_id: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_web_session(session: Session, user: Administrator) -> str:
    """Record a new browser session for a user (committed); returns its id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            administrator_id=user.id,
            token_hash=session_hash(session_id),
            credentials=credentials_stamp(user),
            last_seen_at=now,
        )
    )
    session.commit()
    return session_id


def user_for_web_session(session: Session, session_id: str, settings: Settings) -> Administrator:
    """The active user of a live browser session; records its use.

    Raises:
        AuthenticationError: unknown, ended, idle or expired session, or its user's
            password, role or active flag changed since it began.
    """
    query = (
        select(WebSession)
        .where(WebSession.token_hash == session_hash(session_id))
        .options(joinedload(WebSession.administrator))
    )
    row = session.scalars(query).one_or_none()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise AuthenticationError(f"the session has ended; {SIGN_IN_AGAIN}")
    reason = _expired(row, now, settings)
    if reason is None and credentials_stamp(row.administrator) != row.credentials:
        reason = "your password, role or account changed since you logged in"
    if reason is None and not row.administrator.is_active:
        reason = "the account is deactivated"
    if reason is not None:
        row.revoked_at = now
        session.commit()
        raise AuthenticationError(f"the session has ended: {reason}; {SIGN_IN_AGAIN}")
    if now - as_utc(row.last_seen_at) >= SEEN_RESOLUTION:
        row.last_seen_at = now
    return row.administrator


def _expired(row: WebSession, now: dt.datetime, settings: Settings) -> str | None:
    idle = dt.timedelta(minutes=settings.web_session_idle_minutes)
    lifetime = dt.timedelta(hours=settings.web_session_max_hours)
    if now - as_utc(row.last_seen_at) > idle:
        return f"no request for more than {settings.web_session_idle_minutes:g} minutes"
    if now - as_utc(row.created_at) > lifetime:
        return f"sessions last at most {settings.web_session_max_hours:g} hours"
    return None


def end_web_session(session: Session, session_id: str) -> None:
    """Revoke one browser session (committed); an unknown id is ignored."""
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == session_hash(session_id))
        .where(WebSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
