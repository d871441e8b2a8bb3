"""Domain errors to HTTP responses, in one place.

Every response to a refused request has the shape FastAPI uses for its own
validation errors: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``,
or ``{"detail": "message"}`` when no field is at fault.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ContractNotFoundError,
    CoreError,
    DatabaseError,
    DuplicateError,
    InvalidInputError,
    LakeError,
    LogUnavailableError,
    NotFoundError,
    OrchestratorError,
    PermissionDeniedError,
    SecretError,
    SecretNotFoundError,
    VersionRequiredError,
)

# Fields whose values never appear in a response, even when refused.
SECRET_FIELDS = frozenset({"password", "token", "client_secret", "secret"})
REDACTED = "(redacted)"
# How deep a refused input is echoed back; deeper parts are replaced by TOO_DEEP.
MAX_SHOWN_DEPTH = 20
TOO_DEEP = "(nested too deeply to show)"

# The most specific class wins: the first match in this order.
STATUS_BY_ERROR: tuple[tuple[type[CoreError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ContractNotFoundError, 404),
    (VersionRequiredError, 428),
    (DuplicateError, 409),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (ConfigurationError, 422),
    (DatabaseError, 503),
    (SecretNotFoundError, 503),
    (SecretError, 503),
    (LakeError, 502),
    (OrchestratorError, 502),
    (LogUnavailableError, 502),
)


class RateLimitedError(CoreError):
    """Too many attempts; try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def status_of(error: CoreError) -> int:
    """The HTTP status for a CORE error."""
    if isinstance(error, RateLimitedError):
        return 429
    for error_class, status in STATUS_BY_ERROR:
        if isinstance(error, error_class):
            return status
    return 400


def body_of(error: CoreError, where: str = "body") -> dict[str, Any]:
    """The JSON body for a CORE error.

    Args:
        where: the first part of each problem's ``loc``: "body", or "query" for a
            request that has no body (a GET's fields are its query parameters).
    """
    if isinstance(error, InvalidInputError):
        return {
            "detail": [
                {
                    "loc": [where, *field.split(".")],
                    "msg": message,
                    "type": "value_error",
                    "input": redact(value),
                }
                for field, value, message in error.problems
            ]
        }
    return {"detail": shown_text(str(error))}


async def _core_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CoreError)
    headers = {}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    where = "query" if request.method in ("GET", "HEAD") else "body"
    return JSONResponse(body_of(error, where), status_code=status_of(error), headers=headers)


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of a refused input that JSON can carry, the values of secret fields replaced.

    Non-finite numbers (NaN, Infinity: accepted by the JSON parser, refused by the
    models) are shown as text, since JSON has no literal for them; so are lone
    surrogates (``"\\ud800"``: valid JSON, not encodable as UTF-8), escaped. Input
    nested deeper than ``MAX_SHOWN_DEPTH`` is cut there.
    """
    if depth > MAX_SHOWN_DEPTH and isinstance(value, dict | list):
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            shown_text(str(k)): REDACTED if k in SECRET_FIELDS else redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return shown_text(value)
    return value


def shown_text(text: str) -> str:
    """Text that UTF-8 can carry: lone surrogates escaped as ``\\udXXX``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    # FastAPI's own handler, except that secrets are not echoed back: a refused password
    # (too long, not a string) or a body that holds one (a login without its email).
    assert isinstance(error, RequestValidationError)
    problems = []
    for problem in error.errors():
        problem = dict(problem)
        if "input" in problem:
            secret = any(part in SECRET_FIELDS for part in problem.get("loc", ()))
            problem["input"] = REDACTED if secret else redact(problem["input"])
        if isinstance(problem.get("ctx"), dict):
            problem["ctx"] = {
                k: redact(str(v) if isinstance(v, Exception) else v)
                for k, v in problem["ctx"].items()
            }
        problems.append(problem)
    return JSONResponse({"detail": jsonable_encoder(problems)}, status_code=422)


async def _http_error(request: Request, error: Exception) -> Any:
    # FastAPI answers a body its JSON parser gave up on (nested too deeply, a number of
    # thousands of digits) with a bare "There was an error parsing the body": say why.
    assert isinstance(error, StarletteHTTPException)
    cause = error.__cause__
    if error.status_code == 400 and isinstance(cause, RecursionError | ValueError):
        if isinstance(cause, RecursionError):
            reason = "it is nested too deeply"
        elif "integer string conversion" in str(cause):  # Python's int_max_str_digits
            reason = f"it holds a number of more than {sys.get_int_max_str_digits()} digits"
        else:
            reason = str(cause)
        message = f"the request body cannot be read as JSON: {reason}; expected a JSON object"
        return JSONResponse({"detail": message}, status_code=400)
    return await http_exception_handler(request, error)


def install(app: FastAPI) -> None:
    """Map every CoreError raised by a route to its HTTP response; redact refused secrets."""
    app.add_exception_handler(CoreError, _core_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
