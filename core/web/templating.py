"""Rendering pages: one autoescaping Jinja2 environment, and the helpers every page uses.

Everything is rendered autoescaped; database values are never marked safe. The
only ``Markup`` a template receives is the DAG picture, whose labels
``core.web.svg`` escapes itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import inspect

from core.models.administrators import ROLES

TEMPLATES = Path(__file__).resolve().parent / "templates"
# "transformation 12 (sql): " (or "None" for a new one): said once by the form, not per field.
OWNER_PREFIX = re.compile(r"^transformation \S+ \([^)]*\): ")
# Pages load only their own script and styles; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # no signed-in page stays in the browser after logout
}
# htmx swaps the inline errors of a refused form (422) and a conflict (409) too, and
# keeps no page snapshots in localStorage (they would outlive a logout): history is re-fetched.
HTMX_CONFIG = {
    "includeIndicatorStyles": False,
    "allowEval": False,
    "historyCacheSize": 0,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "(409|422)", "swap": True, "error": False},
        {"code": "4..", "swap": True, "error": True},  # error pages retarget #htmx-errors
        {"code": "5..", "swap": False, "error": True},
    ],
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the UI's templates (autoescaped)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["clock"] = clock
    env.filters["shown"] = shown
    env.filters["by_field"] = by_field
    env.globals["htmx_config"] = json.dumps(HTMX_CONFIG)
    return env


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or fragment) rendered for the signed-in user.

    Args:
        request: the request; its user and session's CSRF token are given to the template.
        name: the template's path under ``core/web/templates``.
        context: the template's variables.
        status_code: the response's status.
        headers: extra response headers.

    Returns:
        The HTML response, with the UI's security headers.
    """
    user = signed_in_user(request)
    page = {
        "request": request,
        "user": user,
        "csrf": request.session.get("csrf", "") if "session" in request.scope else "",
        "can_edit": has_role(user, "editor"),
        "can_admin": has_role(user, "admin"),
        "flash": pop_flash(request),
        **(context or {}),
    }
    html = environment().get_template(name).render(page)
    return HTMLResponse(html, status_code, headers={**SECURITY_HEADERS, **(headers or {})})


@dataclass(frozen=True)
class Identity:
    """Who the page is for, as plain values (no database object outlives its session)."""

    email_address: str
    role: str


def signed_in_user(request: Request) -> Identity | None:
    """The signed-in user of the request, or None.

    A request refused while authorizing (a bad CSRF token) reaches its error page after
    its session closed, with the user's attributes expired: the user is read again then.
    """
    user = getattr(request.state, "user", None)
    if user is None:
        return None
    state = inspect(user)
    loaded = state.dict
    if "email_address" not in loaded or "role" not in loaded:
        if state.session is None:
            return _reload(request, state.identity)
        return Identity(user.email_address, user.role)
    return Identity(loaded["email_address"], loaded["role"])


def _reload(request: Request, identity: Any) -> Identity | None:
    from core.database.engine import get_engine
    from core.helpers.session_helper import make_session
    from core.models.administrators import Administrator

    with make_session(get_engine(request.app.state.database_url), "web") as session:
        user = session.get(Administrator, identity[0]) if identity else None
        return Identity(user.email_address, user.role) if user else None


def has_role(user: Any, role: str) -> bool:
    """Whether a user (or None) has at least this role."""
    return user is not None and ROLES.index(user.role) >= ROLES.index(role)


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (and wants a fragment), not a history restore."""
    headers = request.headers
    return headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in headers


def redirect(request: Request, url: str) -> Response:
    """Send the browser to ``url``: a 303, or HX-Redirect for an htmx request."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show a message on the next page the user sees."""
    request.session.setdefault("flash", []).append([kind, message])
    request.session["flash"] = request.session["flash"][-5:]


def pop_flash(request: Request) -> list[list[str]]:
    """The messages waiting to be shown, now forgotten (kept while htmx swaps fragments)."""
    if "session" not in request.scope or is_htmx(request):
        return []
    return request.session.pop("flash", None) or []


def problems_by_field(problems: Iterable[tuple[str, object, str]]) -> dict[str, list[str]]:
    """InvalidInputError problems grouped by field, for showing next to each input."""
    grouped: dict[str, list[str]] = {}
    for field, _value, message in problems:
        grouped.setdefault(field, []).append(message)
    return grouped


def local_path(target: str | None, default: str = "/pipelines") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return default
    return target


def query(base: str, **params: Any) -> str:
    """``base`` with the non-empty parameters as a query string."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


def paging(
    base: str, chosen: dict[str, Any], offset: int, limit: int, total: int
) -> dict[str, Any]:
    """The variables of a paged list's pager: its filters, position and page addresses.

    Args:
        base: the list's path, e.g. ``/runs``.
        chosen: the list's filters (their names and values), kept in the page addresses.
        offset: the first row shown.
        limit: the rows per page.
        total: the rows that match the filters.

    Returns:
        ``total``, ``offset``, ``limit``, ``chosen`` and ``page_urls`` (previous, next or None).
    """
    previous = query(base, **chosen, offset=max(offset - limit, 0)) if offset > 0 else None
    following = query(base, **chosen, offset=offset + limit) if offset + limit < total else None
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "chosen": chosen,
        "page_urls": {"previous": previous, "next": following},
    }


def when(moment: dt.datetime | None) -> str:
    """A time as 'YYYY-MM-DD HH:MM:SS UTC' ('—' for none)."""
    if moment is None:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def clock(moment: dt.datetime | None) -> str:
    """A time of day as 'HH:MM:SS' in UTC ('—' for none): beside a day shown elsewhere."""
    if moment is None:
        return "—"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    """A duration as '0.4s', '12s', '3m 05s' or '2h 01m' ('—' for none)."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def shown(value: Any) -> str:
    """A stored value as text for a table cell (JSON for structures, '' for none)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def by_field(message: str) -> str:
    """A problem's message as shown next to its input: without naming the transformation."""
    return OWNER_PREFIX.sub("", message, count=1)
