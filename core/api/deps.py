"""What routes receive: the settings, a session acting for the user, the user.

A request is authenticated by a bearer API token or by the signed session
cookie of a logged-in browser. Cookie-authenticated requests that change
something must also carry the session's CSRF token (form field ``csrf_token``
or header ``X-CSRF-Token``); token-authenticated ones need none, since a
browser never sends a bearer token on its own.
"""

from __future__ import annotations

import hmac
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from core.database.audit import CoreSession
from core.database.engine import get_engine
from core.errors import AuthenticationError, PermissionDeniedError
from core.models.administrators import Administrator
from core.service.users import require_role, user_for_token
from core.service.web_sessions import user_for_web_session
from core.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


# One session factory per engine: make_session builds a sessionmaker (a new Session
# subclass, whose event listeners are then set up again) on every call, a quarter of a
# millisecond that every request paid.
_FACTORIES: weakref.WeakKeyDictionary[Engine, sessionmaker[CoreSession]] = (
    weakref.WeakKeyDictionary()
)


def get_session(request: Request) -> Iterator[CoreSession]:
    """A configuration session for one request, closed (rolled back if open) after it.

    It is what ``make_session(engine, actor="api")`` gives, from a factory kept per engine.
    """
    engine = get_engine(request.app.state.database_url)
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES[engine] = sessionmaker(bind=engine, class_=CoreSession)
    session = factory()
    session.info["actor"] = "api"
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[CoreSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Caller:
    """Who is calling, and how they proved it."""

    user: Administrator
    by_cookie: bool


def get_caller(request: Request, session: SessionDep) -> Caller:
    """The authenticated caller; the session then acts (and audits) as them.

    Raises:
        AuthenticationError: no credentials, or bad ones.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        caller = Caller(user_for_token(session, token.strip()), by_cookie=False)
    else:
        caller = Caller(_cookie_user(request, session), by_cookie=True)
    # End the lookup's transaction: the next one starts as the user, so that on
    # PostgreSQL the triggers record them as the actor. The user is kept out of the
    # commit's expiry: reading an expired user would reload it, which
    # - began the next transaction while the session still acted as "api" (a DELETE,
    #   whose audit row has no last_actor to fall back on, was recorded as by "api");
    # - ran a query on the event loop in ``requires`` (async), which under load waited
    #   there for a pooled connection that only the blocked loop could free.
    user = caller.user
    session.expunge(user)
    session.commit()
    session.add(user)  # attached again, as loaded: reading it needs no query
    session.info["actor"] = user.email_address
    request.state.user = caller.user
    return caller


def _cookie_user(request: Request, session: CoreSession) -> Administrator:
    session_id = request.session.get("sid")
    if not isinstance(session_id, str):
        request.session.clear()
        raise AuthenticationError(
            "not signed in: log in at /login, or send an API token as 'Authorization: Bearer …'"
        )
    try:
        return user_for_web_session(session, session_id, request.app.state.settings)
    except AuthenticationError:
        request.session.clear()
        raise


async def check_csrf(request: Request) -> None:
    """Refuse a cookie-authenticated change that lacks the session's CSRF token.

    Raises:
        PermissionDeniedError: the token is missing or wrong.
    """
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and _is_form(request):
        given = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise PermissionDeniedError(
            "the request lacks a valid CSRF token; reload the page and submit it again"
        )


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def requires(role: str) -> Callable[..., Awaitable[Administrator]]:
    """A dependency that admits callers with at least ``role`` (and checks CSRF).

    Raises:
        PermissionDeniedError: the role is too low, or a cookie-authenticated change
            lacks the CSRF token.
    """

    async def dependency(
        request: Request, caller: Annotated[Caller, Depends(get_caller)]
    ) -> Administrator:
        if caller.by_cookie and request.method not in SAFE_METHODS:
            await check_csrf(request)
        require_role(caller.user, role)
        return caller.user

    dependency.__name__ = f"requires_{role}"
    return dependency


Viewer = Annotated[Administrator, Depends(requires("viewer"))]
Editor = Annotated[Administrator, Depends(requires("editor"))]
Admin = Annotated[Administrator, Depends(requires("admin"))]
