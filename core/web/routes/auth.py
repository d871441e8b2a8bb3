"""The login page and logging out.

The login form carries a token kept in the (signed) session cookie before anyone
signs in, and a cross-site Origin is refused, so no other site can sign a
browser in to an account of its choosing. Signing in starts a new session with
its own CSRF token for every later form.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from core.api.auth import password_login, sign_out
from core.api.deps import SessionDep, Viewer
from core.api.errors import RateLimitedError
from core.errors import AuthenticationError
from core.web.templating import local_path, render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "login_csrf"


@router.get("/login")
def login_page(request: Request, next: str = "/pipelines") -> Response:
    """The login form (a signed-in user goes straight on).

    Args:
        next: where to go after signing in (a path on this site).
    """
    target = local_path(next)
    if isinstance(request.session.get("sid"), str):  # an ended one is cleared on the way
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/pipelines",
) -> Response:
    """Check the email and password; sign in and go on, or show the form with the error.

    Returns:
        A redirect to ``next``; the form again with 401 (wrong credentials), 403 (a
        stale or cross-site form) or 429 (throttled).
    """
    target = local_path(next)
    if not _same_origin(request) or not _form_token_ok(request, csrf_token):
        message = "the login form expired or came from another site; please try again"
        return _form(request, target, email, message, 403)
    try:
        password_login(request, session, email, password)
    except RateLimitedError as exc:
        response = _form(request, target, email, str(exc), 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationError as exc:
        return _form(request, target, email, str(exc), 401)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep, _user: Viewer) -> Response:
    """Sign out (a form with the CSRF token): the session ends on the server; to login."""
    sign_out(request, session)
    return RedirectResponse("/login", status_code=303)


def _form(
    request: Request, target: str, email: str = "", error: str = "", status: int = 200
) -> Response:
    token = request.session.get(LOGIN_CSRF)
    if not isinstance(token, str):
        token = request.session[LOGIN_CSRF] = secrets.token_urlsafe(32)
    context = {"next": target, "email": email, "error": error, "login_csrf": token}
    return render(request, "login.html", context, status_code=status)


def _form_token_ok(request: Request, given: str) -> bool:
    expected = request.session.get(LOGIN_CSRF)
    return isinstance(expected, str) and hmac.compare_digest(given, expected)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not sent by every browser for same-origin posts
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")
