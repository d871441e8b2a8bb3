"""Domain errors to HTTP responses, in one place.

Every response to a refused request has the shape FastAPI uses for its own
validation errors: ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``,
or ``{"detail": "message"}`` when no field is at fault.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
    NotFoundError,
    PermissionDeniedError,
    SecretError,
    SecretNotFoundError,
)

# The most specific class wins: the first match in this order.
STATUS_BY_ERROR: tuple[tuple[type[CoreError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (NotFoundError, 404),
    (ContractNotFoundError, 404),
    (DuplicateError, 409),
    (ConflictError, 409),
    (InvalidInputError, 422),
    (ConfigurationError, 422),
    (DatabaseError, 503),
    (SecretNotFoundError, 503),
    (SecretError, 503),
    (LakeError, 502),
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


def body_of(error: CoreError) -> dict[str, Any]:
    """The JSON body for a CORE error."""
    if isinstance(error, InvalidInputError):
        return {
            "detail": [
                {
                    "loc": ["body", *field.split(".")],
                    "msg": message,
                    "type": "value_error",
                    "input": value,
                }
                for field, value, message in error.problems
            ]
        }
    return {"detail": str(error)}


async def _core_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CoreError)
    headers = {}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, RateLimitedError):
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(body_of(error), status_code=status_of(error), headers=headers)


def install(app: FastAPI) -> None:
    """Map every CoreError raised by a route to its HTTP response."""
    app.add_exception_handler(CoreError, _core_error)
