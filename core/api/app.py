"""The application: the REST API under /api (OpenAPI at /docs) and the web UI.

``create_app(settings)`` builds it; nothing happens at import time. ``core serve``
runs it with uvicorn.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from core import __version__, web
from core.api import auth, errors, limits
from core.api.routes import (
    audit,
    dataset_pages,
    datasets,
    health,
    logs,
    pipeline_edit,
    pipelines,
    runs,
    templates,
    tokens,
)
from core.api.routing import add_routes, resource_routers
from core.helpers.session_helper import prepare_database, resolve_database_url
from core.settings import Settings

DESCRIPTION = """The configuration application of CORE: pipelines, their states and
transformations, templates, runs, datasets and the audit trail.

Authenticate with `Authorization: Bearer <token>` (create tokens under
`/api/users/{id}/tokens`, or `core users token`), or sign in at `/api/session` and send
the returned `csrf_token` as `X-CSRF-Token` with every change."""


def create_app(settings: Settings) -> FastAPI:
    """The CORE web application for these settings.

    The configuration database is reached (and, for the embedded dev database,
    created) here, so a misconfiguration fails at startup rather than on the
    first request.

    Raises:
        DatabaseError: the database is unreachable or behind the code's migrations.
        SettingsError: uat/prod without CORE_WEB_SECRET, or OIDC half configured.
    """
    # /docs and /redoc load Swagger UI and ReDoc from the app itself (/static-offline-docs),
    # not from a CDN, so they work without the internet.
    app = FastAPIOffline(
        title="CORE",
        version=__version__,
        description=DESCRIPTION,
        favicon_url="/static/favicon.svg",
    )
    app.state.settings = settings
    app.state.database_url = resolve_database_url(settings)
    prepare_database(settings, app.state.database_url)
    app.state.login_throttle = auth.LoginThrottle()
    app.add_middleware(
        SessionMiddleware,
        secret_key=auth.session_key(settings),
        session_cookie=auth.SESSION_COOKIE,
        max_age=round(settings.web_session_max_hours * 3600),
        same_site="lax",
        https_only=settings.web_secure_cookies,
    )
    # Outside the session middleware: an oversized body is refused before anything else.
    app.add_middleware(limits.BodySizeLimit, max_bytes=limits.MAX_BODY_BYTES)
    errors.install(app)
    add_routes(
        app,
        (
            health.router,
            auth.router,
            pipelines.router,
            pipeline_edit.router,
            runs.router,
            logs.router,
            datasets.router,
            dataset_pages.router,
            audit.router,
            tokens.router,
            templates.router,
            *resource_routers(),
        ),
    )
    auth.install_oidc(app, settings)
    web.install(app)
    return app


def app_from_environment() -> FastAPI:
    """The app on the settings of the environment (uvicorn's factory for several workers)."""
    from core.settings import load_settings

    return create_app(load_settings())
