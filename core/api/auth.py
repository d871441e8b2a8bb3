"""Signing in and out: password login, the session cookie, login throttling and OIDC.

The session cookie is signed (itsdangerous, through Starlette's SessionMiddleware)
with a key that comes from the secret named by ``CORE_WEB_SECRET``; in dev and test
a random key is kept in ``$CORE_HOME/web_session.key`` instead.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from core.api.deps import Caller, SessionDep, SettingsDep, get_caller
from core.api.errors import RateLimitedError
from core.api.routing import add_routes
from core.api.schemas import In, UserOut, json_response
from core.errors import AuthenticationError, SettingsError
from core.models.administrators import Administrator
from core.service.users import authenticate
from core.service.web_sessions import end_web_session, start_web_session
from core.settings import Settings

SESSION_COOKIE = "core_session"
GOOGLE_METADATA = "https://accounts.google.com/.well-known/openid-configuration"

router = APIRouter(tags=["session"])


def session_key(settings: Settings) -> str:
    """The key that signs session cookies.

    Raises:
        SettingsError: uat/prod without CORE_WEB_SECRET.
    """
    if settings.web_secret:
        from core.secret import Secret

        secret = Secret(name=settings.web_secret, type_of="web", mode="read", settings=settings)
        return secret["session_key"]
    if settings.environment not in ("dev", "test"):
        raise SettingsError(
            f"CORE_WEB_SECRET is required when CORE_ENVIRONMENT={settings.environment}: name a "
            "secret with a 'session_key' (e.g. `core secrets set web_application "
            "session_key=<64 random hex digits>`)"
        )
    return _local_key(settings.home / "web_session.key")


def _local_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


class LoginThrottle:
    """At most ``limit`` failed logins per client and email within ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str, email: str) -> None:
        """Raises RateLimitedError when the client has failed too often for this email."""
        with self._lock:
            recent = self._recent((client, email.lower()))
            if len(recent) >= self.limit:
                wait = int(self.window - (time.monotonic() - recent[0])) + 1
                raise RateLimitedError(
                    f"too many failed logins for {email}; try again in {wait} seconds", wait
                )

    def failed(self, client: str, email: str) -> None:
        """Record a failed attempt."""
        with self._lock:
            self._recent((client, email.lower())).append(time.monotonic())

    def succeeded(self, client: str, email: str) -> None:
        """Forget the failures of a client that got it right."""
        with self._lock:
            self._failures.pop((client, email.lower()), None)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        recent = self._failures[key]
        while recent and time.monotonic() - recent[0] > self.window:
            recent.popleft()
        return recent


def sign_in(request: Request, session: Any, user: Administrator) -> str:
    """Start a browser session for a user (recorded on the server); returns its CSRF token."""
    request.session.clear()  # a new session on every login: no fixation
    request.session["sid"] = start_web_session(session, user)
    request.session["csrf"] = secrets.token_urlsafe(32)
    return request.session["csrf"]


def sign_out(request: Request, session: Any) -> None:
    """End the browser session on the server (a replayed cookie is refused) and empty it."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        end_web_session(session, session_id)
    request.session.clear()


def password_login(request: Request, session: Any, email: str, password: str) -> Administrator:
    """Check a password login, throttled per client and email, and sign the user in.

    Raises:
        RateLimitedError: too many failures.
        AuthenticationError: wrong email or password.
    """
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    throttle.check(client, email)
    try:
        user = authenticate(session, email, password)
    except AuthenticationError:
        throttle.failed(client, email)
        raise
    throttle.succeeded(client, email)
    sign_in(request, session, user)
    return user


class Login(In):
    """A password login (NUL characters are refused before any query)."""

    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1000)]


class SessionOut(BaseModel):
    """The signed-in user and the CSRF token their browser must send with changes."""

    user: UserOut
    csrf_token: str


@router.post("/api/session", response_model=SessionOut)
def login(request: Request, session: SessionDep, body: Login) -> SessionOut:
    """Sign in with email and password; sets the session cookie."""
    user = password_login(request, session, body.email, body.password)
    out = SessionOut(user=UserOut.model_validate(user), csrf_token=request.session["csrf"])
    return json_response(out)


@router.get("/api/session", response_model=SessionOut)
def whoami(request: Request, caller: Annotated[Caller, Depends(get_caller)]) -> SessionOut:
    """The signed-in user (cookie or token)."""
    csrf = request.session.get("csrf", "") if caller.by_cookie else ""
    return json_response(SessionOut(user=UserOut.model_validate(caller.user), csrf_token=csrf))


@router.delete("/api/session", status_code=204)
def logout(request: Request, session: SessionDep) -> None:
    """Sign out: the session ends on the server and the cookie is emptied."""
    sign_out(request, session)


def install_oidc(app: FastAPI, settings: Settings) -> None:
    """Offer single sign-on at /auth/oidc/login when CORE_OIDC_PROVIDER is set.

    Only users that an admin has added (by email) may sign in this way.

    Raises:
        SettingsError: the provider is set without CORE_OIDC_SECRET.
    """
    if settings.oidc_provider is None:
        return
    if not settings.oidc_secret:
        raise SettingsError(
            "CORE_OIDC_SECRET is required with CORE_OIDC_PROVIDER: name a secret with "
            "client_id and client_secret"
        )
    from authlib.integrations.starlette_client import OAuth

    from core.secret import Secret

    secret = Secret(name=settings.oidc_secret, type_of="oidc", mode="read", settings=settings)
    oauth = OAuth()
    oauth.register(
        "sso",
        client_id=secret["client_id"],
        client_secret=secret["client_secret"],
        server_metadata_url=settings.oidc_metadata_url or GOOGLE_METADATA,
        client_kwargs={"scope": "openid email profile"},
    )
    app.state.oauth = oauth
    add_routes(app, [oidc_router])


oidc_router = APIRouter(tags=["session"])


@oidc_router.get("/auth/oidc/login", include_in_schema=False)
async def oidc_login(request: Request) -> Any:
    """Send the browser to the identity provider."""
    redirect = str(request.url_for("oidc_callback"))
    return await request.app.state.oauth.sso.authorize_redirect(request, redirect)


@oidc_router.get("/auth/oidc/callback", include_in_schema=False)
async def oidc_callback(request: Request, session: SessionDep, settings: SettingsDep) -> Any:
    """Back from the identity provider: sign in the user with that (verified) email.

    Raises:
        AuthenticationError: the provider refused, or no active user has the email.
    """
    from authlib.integrations.starlette_client import OAuthError

    try:
        token = await request.app.state.oauth.sso.authorize_access_token(request)
    except OAuthError as exc:
        raise AuthenticationError(f"single sign-on failed: {exc.error}") from exc
    claims = token.get("userinfo") or {}
    email = str(claims.get("email", "")).lower()
    if not email or claims.get("email_verified") is False:
        raise AuthenticationError("the identity provider gave no verified email address")
    user = session.query(Administrator).filter_by(email_address=email).one_or_none()
    if user is None or not user.is_active:
        raise AuthenticationError(
            f"{email} is not a user of CORE; ask an admin to add it with `core users add`"
        )
    sign_in(request, session, user)
    return RedirectResponse("/pipelines", status_code=303)
