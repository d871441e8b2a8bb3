"""``core``: the command line for people.

Commands are thin: they parse, call one plain function and report. Errors that
CORE raises on purpose end as one ``FAILED: …`` line and a non-zero exit;
``--debug`` shows the traceback instead. Each command's module is imported only
when that command runs (``core.cli.lazy``), so ``core --version`` starts in a blink.
"""

from __future__ import annotations

import sys

import typer

from core import __version__
from core.cli.common import State
from core.cli.lazy import LazyCommand, LazyGroup
from core.command_line import exit_script, run

COMMANDS = {
    "db": LazyCommand(
        "core.cli.db", "app", "Migrate, inspect and seed the configuration database."
    ),
    "dags": LazyCommand(
        "core.cli.dags", "app", "Show the Airflow DAGs generated from the pipelines."
    ),
    "pipelines": LazyCommand(
        "core.cli.pipelines", "app", "List, show and check the configured pipelines."
    ),
    "checks": LazyCommand(
        "core.cli.checks", "app", "Run, list, add and delete the data quality checks of datasets."
    ),
    "lake": LazyCommand(
        "core.cli.lake", "app", "Look into the data lake: list, show, fetch, diff and restore."
    ),
    "secrets": LazyCommand(
        "core.cli.secrets",
        "app",
        "Read, write and list secrets (values are masked unless --show).",
    ),
    "users": LazyCommand("core.cli.users", "app", "Add and list users, and issue API tokens."),
    "runs": LazyCommand(
        "core.cli.runs", "app", "List, show, cancel and reap pipeline runs; read a task's log."
    ),
    "transforms": LazyCommand("core.cli.transforms", "app", "List and run transformations."),
    "run": LazyCommand(
        "core.cli.run",
        "run",
        "Run one pipeline on this machine and print a summary; exit 1 when a task failed.",
    ),
    "workers": LazyCommand(
        "core.cli.workers",
        "app",
        "Start, show and stop the shared worker server that local tasks are forked from.",
    ),
    "demo": LazyCommand(
        "core.cli.demo",
        "demo",
        "Generate a specialty-pharmacy source and run the sample pipeline on it.",
    ),
    "serve": LazyCommand(
        "core.cli.serve",
        "serve",
        "Serve the REST API (/api, OpenAPI at /docs) and the web UI (/) on the settings.",
    ),
    "notebook": LazyCommand(
        "core.cli.notebook",
        "notebook",
        "Start JupyterLab in the transforms folder, its notebooks run in CORE's kernel.",
    ),
}


class CoreGroup(LazyGroup):
    """The ``core`` group: the commands above, imported when called."""

    entries = COMMANDS


app = typer.Typer(
    name="core",
    cls=CoreGroup,
    help="CORE: configure, inspect and run data pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: Typer's rich help imports rich's markdown (0.3 s+)
)


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
    script = isinstance(ctx.obj, State) and ctx.obj.script
    ctx.obj = State(debug=debug, script=script)


def main(argv: list[str] | None = None) -> None:
    """The ``core`` console script."""
    # The console script's commands may hand their work to the warm worker server (core run).
    code = run(typer.main.get_command(app), argv, "core", State(script=argv is None))
    if argv is None:  # the console script: no teardown after the work is done
        exit_script(code)
    sys.exit(code)
