"""``core run``: run one pipeline on this machine, saying how it goes as it goes.

The first line is printed before the runner and the database are imported, so a
person sees at once that the command started; each progress line then carries the
elapsed time and the task's place in the run (core.runner.progress).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from core.cli.common import console, state
from core.runner.progress import Progress

if TYPE_CHECKING:
    from rich.console import Console

    from core.runner.report import RunReport
    from core.settings import Settings

# How a run's configuration choice is shown (core.models.runs.RUN_CONFIGURATIONS).
CONFIGURATIONS = {
    "current": "current, pinned when it started or was resumed",
    "pinned": "as it was, the snapshot kept on resume",
}


def run(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="The pipeline's name."),
    workers: int = typer.Option(1, "--workers", min=1, help="Transformations run at once."),
    resume: int | None = typer.Option(
        None, "--resume", help="Re-run what failed or never ran in this run id."
    ),
    only: str | None = typer.Option(None, "--only", help="Run only this state's groups."),
    configuration: str | None = typer.Option(
        None,
        "--configuration",
        help="With --resume: 'current' (the default) re-pins the run to the configuration "
        "now (after a fix); 'pinned' keeps its snapshot as it was.",
    ),
    with_dependants: bool = typer.Option(
        False,
        "--with-dependants",
        help="Then run the pipelines whose dataset_schedule its datasets satisfy, and theirs.",
    ),
) -> None:
    """Run one pipeline on this machine and print a summary; exit 1 when a task failed.

    A run uses the configuration it was pinned to when it started: edits saved while it
    goes reach the next run, not this one.
    """
    started = time.monotonic()
    if configuration is not None and resume is None:
        raise typer.BadParameter(
            f"--configuration {configuration} chooses what a resumed run uses: add "
            "--resume RUN_ID, or drop it (a new run uses the configuration now)"
        )
    if with_dependants and (resume is not None or only is not None):
        raise typer.BadParameter("--with-dependants runs whole pipelines: drop --resume/--only")
    what = f"resuming run {resume} of {pipeline}" if resume else f"running {pipeline}"
    typer.echo(f"core run: {what} with {workers} worker{'s' * (workers > 1)}")
    from core.worker_server import start_server

    settings = state(ctx).settings
    warm = start_server(settings)  # a new one imports pyarrow & co. while this imports the runner
    request = RunRequest(pipeline, workers, resume, only, configuration, with_dependants)
    code = None
    if state(ctx).script and warm:  # a running server has the runner loaded: run it there
        from core.runner.served import run_served

        work = (request, started, state(ctx).debug)
        code = run_served(_run_reported, work, f"core-run-{pipeline}", settings)
    if code is None:
        code = run_request(settings, request, started)
    if code:
        raise typer.Exit(code)


@dataclass(frozen=True)
class RunRequest:
    """What ``core run`` was asked to do (its options, checked)."""

    pipeline: str
    workers: int
    resume: int | None
    only: str | None
    configuration: str | None
    with_dependants: bool


def run_request(settings: Settings, request: RunRequest, started: float) -> int:
    """Run it with a LocalRunner, print the progress and the summary; the exit code.

    Raises:
        CoreError: the run could not start or go on (the message says why).
    """
    from core.runner.local import LocalRunner
    from core.stop import Terminated

    out = console()
    try:
        with Progress(out.print, started=started) as progress:
            runner = LocalRunner(
                settings, workers=request.workers, listener=progress, on_start=progress.start
            )
            if request.with_dependants:
                reports = runner.run_with_dependants(request.pipeline)
            else:
                configuration = request.configuration or "current"
                reports = [
                    runner.run(request.pipeline, request.resume, request.only, configuration)
                ]
    except Terminated as exc:  # SIGTERM: the runner has stopped its workers and ended the run
        typer.echo(
            f"FAILED: {exc}: the run of {request.pipeline!r} was stopped and ended failed; "
            f"`core runs list --pipeline {request.pipeline}` shows its id, and `core run "
            f"{request.pipeline} --resume RUN_ID` re-runs what did not finish",
            err=True,
        )
        return 1
    for report in reports:
        print_report(out, report)
    return 1 if any(report.failed for report in reports) else 0


def _run_reported(request: RunRequest, started: float, debug: bool) -> int:
    """:func:`run_request` in a child of the worker server, reporting errors as the CLI does."""
    from core.command_line import failed
    from core.errors import CoreError
    from core.settings import load_settings

    try:
        return run_request(load_settings(), request, started)
    except CoreError as exc:
        return failed(exc, debug)


def print_report(out: Console, report: RunReport) -> None:
    """The summary table of a run: task, state, attempt, duration, rows, error; then notes."""
    from rich.table import Table

    table = Table("task", "state", "attempt", "seconds", "rows in", "rows out", "error")
    for task in report.tasks:
        table.add_row(
            task.task_id,
            task.state,
            str(task.attempt),
            figure(task.seconds),
            figure(task.rows_in),
            figure(task.rows_out),
            (task.error or "")[:120],
        )
    out.print(table)
    for task in report.tasks:
        for note in task.notes:
            out.print(f"note: {task.task_id}: {note}")
    resumed = f", resumed by {report.resumed_by}" if report.resumed_by else ""
    out.print(
        f"run {report.run_id} of {report.pipeline}: {report.state} in "
        f"{figure(report.seconds)}s (configuration: {CONFIGURATIONS[report.configuration]}"
        f"{resumed}); `core runs show {report.run_id}` for details"
    )


def figure(value: float | int | None) -> str:
    """A number as the report shows it: one decimal for seconds, blank for none."""
    if value is None:
        return ""
    return f"{value:.1f}" if isinstance(value, float) else str(value)
