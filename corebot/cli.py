"""``corebot``: the command line for processes (the worker entry point).

People use ``core``; orchestrators and runners call ``corebot`` on a worker.
"""

from __future__ import annotations

import sys

import typer

from core import __version__
from core.cli import run
from core.settings import load_settings

app = typer.Typer(
    name="corebot",
    help="The worker entry point of CORE, called by orchestrators and runners.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """The worker entry point of CORE."""


@app.command()
def info() -> None:
    """Print the version and the settings this worker would run with."""
    settings = load_settings()
    typer.echo(f"corebot {__version__}")
    for name in ("environment", "home", "lake_root", "branch", "secrets_backend", "worker_backend"):
        typer.echo(f"{name}: {getattr(settings, name)}")


def main(argv: list[str] | None = None) -> None:
    """The ``corebot`` console script."""
    sys.exit(run(typer.main.get_command(app), argv, "corebot"))
