"""``core serve``: the configuration application (REST API and web UI) with uvicorn."""

from __future__ import annotations

from typing import Any

import typer

from core.cli.common import state
from core.settings import Settings


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="The port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes."),
) -> None:
    """Serve the REST API (/api, OpenAPI at /docs) and the web UI (/) on the settings."""
    import uvicorn

    settings = state(ctx).settings
    typer.echo(
        f"CORE at http://{host}:{port}/ (API docs at /docs), environment {settings.environment}"
    )
    if workers == 1:
        from core.api.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, **proxy_options(settings))
        return
    # Several processes: each builds the app from the same CORE_* environment.
    uvicorn.run(
        "core.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **proxy_options(settings),
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-For is believed only from the trusted proxies.

    Unset, the client is the socket peer: a client that sends its own X-Forwarded-For
    (a new address on every try) cannot escape the login throttle.
    """
    trusted = (settings.web_trusted_proxies or "").strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}
