"""``core notebook``: JupyterLab in the transforms folder, with the project's kernel."""

from __future__ import annotations

import typer

from core.cli.common import state
from core.transforms.lab import LabOptions, start_lab


def notebook(
    ctx: typer.Context,
    ip: str = typer.Option("127.0.0.1", "--ip", help="The address to listen on."),
    port: int = typer.Option(8888, "--port", min=1, max=65535, help="The port to listen on."),
    browser: bool = typer.Option(
        True, "--browser/--no-browser", help="Open a browser tab when JupyterLab is up."
    ),
) -> None:
    """Start JupyterLab in the transforms folder, its notebooks run in CORE's kernel."""
    settings = state(ctx).settings
    typer.echo(
        f"starting JupyterLab in {settings.transforms_dir} on http://{ip}:{port}/lab "
        "(Ctrl-C stops it)"
    )
    start_lab(settings, LabOptions(ip=ip, port=port, open_browser=browser))
