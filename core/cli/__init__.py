"""``core``: the command line for people.

Commands are thin: they parse, call one plain function and report. Errors that
CORE raises on purpose end as one ``FAILED: …`` line and a non-zero exit;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer

from core import __version__
from core.cli import db, demo, lake, pipelines, secrets
from core.cli import run as run_commands
from core.cli.common import State
from core.errors import CoreError

app = typer.Typer(
    name="core",
    help="CORE: configure, inspect and run data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(lake.app, name="lake")
app.add_typer(secrets.app, name="secrets")
app.add_typer(run_commands.runs_app, name="runs")
app.add_typer(run_commands.transforms_app, name="transforms")
app.command("run")(run_commands.run)
app.command("demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"core {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on failure."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = State(debug=debug)


def run(command: Any, argv: list[str] | None, prog_name: str) -> int:
    """Run a click command, turning CoreError into one FAILED line and an exit code.

    Args:
        command: the command (a Typer app converted by typer.main.get_command).
        argv: the arguments (``sys.argv[1:]`` when None).
        prog_name: the program name for usage lines.

    Returns:
        The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising.
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except CoreError as exc:
        if "--debug" in argv:
            traceback.print_exc()
        typer.echo(f"FAILED: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: Typer prints them with the usage line
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code  # type: ignore[attr-defined]
    return code if isinstance(code, int) else 0


def main(argv: list[str] | None = None) -> None:
    """The ``core`` console script."""
    sys.exit(run(typer.main.get_command(app), argv, "core"))
