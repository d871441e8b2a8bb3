"""``core runs``: list and show pipeline runs."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from core.cli.common import console, session_helper, state
from core.cli.run import figure, print_report
from core.models import configuration as cfg
from core.plan import PipelinePlan
from core.runner.local import LocalRunner
from core.runner.report import build_report
from core.runs import duration, get_run

app = typer.Typer(help="List and show pipeline runs.", no_args_is_help=True)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    pipeline: str | None = typer.Option(None, help="Only runs of this pipeline."),
    limit: int = typer.Option(20, min=1, help="How many of the newest runs."),
) -> None:
    """List the newest runs with their state and duration."""
    query = select(cfg.RunEvent, cfg.Pipeline.name).join(cfg.RunEvent.pipeline)
    if pipeline:
        query = query.where(cfg.Pipeline.name == pipeline)
    query = query.order_by(cfg.RunEvent.id.desc()).limit(limit)
    table = Table("run", "pipeline", "state", "started", "seconds", "by")
    with session_helper(ctx) as session:
        for event, name in session.execute(query):
            table.add_row(
                str(event.id),
                name,
                event.state,
                str(event.started_at or "")[:19],
                figure(duration(event.started_at, event.ended_at)),
                event.triggered_by or "",
            )
    console().print(table)


@app.command("show")
def show_run(ctx: typer.Context, run_id: int = typer.Argument(..., help="The run id.")) -> None:
    """Show a run: every task with its state, attempt, duration, rows and error."""
    with session_helper(ctx) as session:
        event = get_run(session, run_id)
        plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
        runner = LocalRunner(state(ctx).settings)
        report = build_report(session, plan, run_id, runner.log_dir(run_id))
    out = console()
    print_report(out, report)
    for task in report.tasks:
        if task.log and task.state not in ("success", "not run"):
            out.print(f"log of {task.task_id}: {task.log}")
