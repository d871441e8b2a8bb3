"""``core``: the command line for people.

Commands are thin: they parse, call one plain function and report. Errors that
CORE raises on purpose end as one ``FAILED: …`` line and a non-zero exit;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

from core import __version__
from core.cli import dags, db, demo, lake, notebook, pipelines, secrets, serve, users
from core.cli import run as run_commands
from core.cli.common import State
from core.command_line import run

app = typer.Typer(
    name="core",
    help="CORE: configure, inspect and run data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(dags.app, name="dags")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(lake.app, name="lake")
app.add_typer(secrets.app, name="secrets")
app.add_typer(users.app, name="users")
app.add_typer(run_commands.runs_app, name="runs")
app.add_typer(run_commands.transforms_app, name="transforms")
app.command("run")(run_commands.run)
app.command("demo")(demo.demo)
app.command("serve")(serve.serve)
app.command("notebook")(notebook.notebook)


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


def main(argv: list[str] | None = None) -> None:
    """The ``core`` console script."""
    sys.exit(run(typer.main.get_command(app), argv, "core"))
