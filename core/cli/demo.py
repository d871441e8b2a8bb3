"""``core demo``: the main job on the embedded defaults."""

from __future__ import annotations

import time

import typer

from core.cli.common import console, state
from core.runner.progress import Progress


def demo(
    ctx: typer.Context,
    rows: int = typer.Option(100_000, "--rows", min=10, help="Status rows to generate."),
    workers: int = typer.Option(2, "--workers", min=1, help="Transformations run at once."),
) -> None:
    """Generate a specialty-pharmacy source and run the sample pipeline on it."""
    started = time.monotonic()
    typer.echo(f"CORE demo: {rows:,} rows, {workers} workers")  # at once, before the imports
    from rich.markup import escape

    from core.cli.run import print_report
    from core.demo.run import PIPELINE, run_demo

    out = console()
    settings = state(ctx).settings
    with Progress(out.print, started=started) as progress:
        progress.say(f"pipeline {PIPELINE}, home {settings.home}, {progress.elapsed()}")
        result = run_demo(settings, rows, workers, progress)
    print_report(out, result.report)
    for checked in result.checks:
        out.print(f"checks:  {checked.summary()}")
        for problem in checked.problems:
            out.print(f"         {escape(problem)}")
    if not result.checks:
        out.print("checks:  none evaluated (`core checks list` shows the configured ones)")
    names = ", ".join(path.name for path in result.source.files.values())
    out.print(f"source:  {result.source.directory} ({names})")
    out.print(f"lake:    {result.lake_root}/{settings.branch}/acme_pharma/zentrix/")
    for path in result.outbox_files():
        out.print(f"outbox:  {path}")
    email, password = result.login
    out.print(f"web UI:  script/server, then http://127.0.0.1:8000/ as {email} / {password}")
    if result.report.failed:
        raise typer.Exit(1)
