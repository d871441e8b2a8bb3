"""GET /healthz: is the application up, and can it reach its database?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import __version__
from core.api.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> Any:
    """200 when the configuration database answers, 503 otherwise (no login needed)."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        body = {"status": "unavailable", "database": type(exc).__name__, "version": __version__}
        return JSONResponse(body, status_code=503)
    # A Response, not a dict: see core.api.schemas.json_response for why.
    return JSONResponse({"status": "ok", "database": "ok", "version": __version__})
