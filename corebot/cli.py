"""``corebot``: the command line for processes (the worker entry point).

People use ``core``; orchestrators and runners call ``corebot`` on a worker.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import typer

from core import __version__
from core.command_line import exit_script
from core.command_line import run as run_command_line

if TYPE_CHECKING:  # the settings (pydantic) are imported by the commands that use them
    from core.settings import Settings

app = typer.Typer(
    name="corebot",
    help="The worker entry point of CORE, called by orchestrators and runners.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: Typer's rich help imports rich's markdown (0.3 s+)
)


@app.callback()
def _root() -> None:
    """The worker entry point of CORE."""


@app.command()
def info() -> None:
    """Print the version and the settings this worker would run with."""
    from core.settings import load_settings

    settings = load_settings()
    typer.echo(f"corebot {__version__}")
    for name in ("environment", "home", "lake_root", "branch", "secrets_backend", "worker_backend"):
        typer.echo(f"{name}: {getattr(settings, name)}")


@app.command()
def run(
    transform_id: int = typer.Argument(..., help="The transformation's id."),
    run_id: int = typer.Argument(..., help="The run (RunEvent) id."),
) -> None:
    """Run one transformation for one run; exit 0 success, 1 failed, 2 invalid configuration."""
    from core.database.engine import database_lost_means
    from core.helpers.session_helper import SessionHelper
    from core.settings import load_settings
    from core.transforms.runtime import run_transformation

    settings = load_settings()
    configure_logging(settings)
    after = (
        f"transformation {transform_id} of run {run_id} is not recorded as finished: "
        "resuming the run runs it again (its output replaces any it wrote)"
    )
    with database_lost_means(after), SessionHelper(settings, actor="corebot") as session:
        outcome = run_transformation(settings, session, transform_id, run_id)
    if outcome.succeeded:
        typer.echo(outcome.message)
        return
    typer.echo(f"FAILED: {outcome.message}", err=True)
    raise typer.Exit(outcome.exit_code)


def configure_logging(settings: Settings) -> None:
    """Worker logs go to stderr, one line each, at the configured level."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The schema check at start-up is routine; alembic's INFO lines would be noise.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """The ``corebot`` console script."""
    code = run_command_line(typer.main.get_command(app), argv, "corebot")
    if argv is None:  # the console script: no teardown after the work is done
        exit_script(code)
    sys.exit(code)
