"""The web UI: server-rendered pages (Jinja2 + htmx) served by the API's application.

Handlers are thin: they call the same service functions as the REST API
(``core.service``), so a form is validated exactly like an API request, and the
same ``requires(role)`` dependencies guard them (with the CSRF check on changes).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI) -> None:
    """Add the UI's pages, its static files and its HTML error pages to the app.

    Call after ``core.api.errors.install``: the UI's error handlers hand the API's
    paths back to those.
    """
    from core.api.routing import add_routes
    from core.web import errors
    from core.web.routes import ROUTERS

    add_routes(app, ROUTERS)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    errors.install(app)
