"""``core serve``: the configuration application (REST API and web UI) with uvicorn."""

from __future__ import annotations

import typer

from core.cli.common import state


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

        uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=True)
        return
    # Several processes: each builds the app from the same CORE_* environment.
    uvicorn.run(
        "core.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )
