"""Refusals as HTML pages for the browser, JSON for the API.

The API's handlers (``core.api.errors``) stay in charge of /api and the other
machine paths; for the UI's pages a refused request gets an error page with the
same status, and a request without a session is sent to the login page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.errors import REDACTED, SECRET_FIELDS, RateLimitedError, redact, status_of
from core.errors import AuthenticationError, CoreError, InvalidInputError
from core.web.templating import is_htmx, local_path, render

# Paths served to machines: their refusals stay JSON.
MACHINE_PATHS = (
    "/api",
    "/healthz",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/auth/",
    "/static/",
    "/static-offline-docs/",  # Swagger UI's and ReDoc's own files (core.api.app)
)
TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many attempts",
    502: "Data lake unavailable",
    503: "Service unavailable",
}

Handler = Callable[[Request, Any], Awaitable[Response]]


def is_page(request: Request) -> bool:
    """Whether the request is for a page of the UI (not the API)."""
    return not request.url.path.startswith(MACHINE_PATHS)


def login_redirect(request: Request) -> Response:
    """Send a visitor without a session to the login page, to come back afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request) and request.headers.get("HX-Current-URL"):
        current = urlsplit(request.headers["HX-Current-URL"])
        here = current.path + (f"?{current.query}" if current.query else "")
    back = here if request.method == "GET" or is_htmx(request) else "/pipelines"
    target = "/login?" + urlencode({"next": local_path(back)})
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def error_page(request: Request, status: int, message: str, problems: Any = ()) -> Response:
    """The error page (a small fragment for htmx requests)."""
    context = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "message": message,
        "problems": list(problems),
    }
    if not is_htmx(request):
        return render(request, "error.html", context, status_code=status)
    # Shown above the page, whatever element asked.
    headers = {"HX-Retarget": "#htmx-errors", "HX-Reswap": "innerHTML"}
    return render(request, "fragments/error.html", context, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Render refusals of the UI's pages as HTML; leave the API's as they are."""
    api_core: Handler = app.exception_handlers[CoreError]
    api_validation: Handler | None = app.exception_handlers.get(RequestValidationError)
    api_http: Handler | None = app.exception_handlers.get(StarletteHTTPException)

    async def core_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, CoreError)
        if not is_page(request):
            return await api_core(request, error)
        if isinstance(error, AuthenticationError):
            return login_redirect(request)
        problems = error.problems if isinstance(error, InvalidInputError) else ()
        response = error_page(request, status_of(error), str(error), problems)
        if isinstance(error, RateLimitedError):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        if not is_page(request):
            return await _delegate(api_validation, request, error)
        problems = [
            (".".join(str(p) for p in e["loc"][1:]), _shown_input(e), e["msg"])
            for e in error.errors()
        ]
        return error_page(request, 422, "the address has invalid parameters", problems)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if not is_page(request):
            return await _delegate(api_http, request, error)
        return error_page(request, error.status_code, str(error.detail))

    app.add_exception_handler(CoreError, core_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _shown_input(problem: dict[str, Any]) -> Any:
    # A refused password (too long, say) is never echoed back onto the page.
    if any(part in SECRET_FIELDS for part in problem.get("loc", ())):
        return REDACTED
    return redact(problem.get("input"))


async def _delegate(handler: Handler | None, request: Request, error: Exception) -> Response:
    if handler is not None:
        return await handler(request, error)
    from fastapi.exception_handlers import (
        http_exception_handler,
        request_validation_exception_handler,
    )

    if isinstance(error, RequestValidationError):
        return await request_validation_exception_handler(request, error)
    return await http_exception_handler(request, error)
