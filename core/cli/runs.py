"""``core runs``: list, show, cancel and reap pipeline runs."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from core.cli.common import console, session_helper, state
from core.cli.run import figure, print_report
from core.models import configuration as cfg
from core.plan import PipelinePlan
from core.runner.report import build_report, run_log_dir
from core.runs import get_run, reap, run_duration

app = typer.Typer(help="List, show, cancel and reap pipeline runs.", no_args_is_help=True)
# Who a cancel from the command line is recorded as.
ACTOR_CANCEL = "core runs cancel"


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
                figure(run_duration(event)),
                event.triggered_by or "",
            )
    console().print(table)


@app.command("show")
def show_run(ctx: typer.Context, run_id: int = typer.Argument(..., help="The run id.")) -> None:
    """Show a run: every task with its state, attempt, duration, rows and error, the
    configuration it used, and what changed in it since the pipeline's previous run."""
    from core.service.runs import run_detail

    with session_helper(ctx) as session:
        detail = run_detail(session, run_id)  # first: it ends a task whose worker died
        plan = PipelinePlan.from_dict(get_run(session, run_id).configuration_snapshot or {})
        report = build_report(session, plan, run_id, run_log_dir(state(ctx).settings, run_id))
    out = console()
    print_report(out, report)
    for task in report.tasks:
        if task.log and task.state not in ("success", "not run"):
            out.print(f"log of {task.task_id}: {task.log}")
    for snapshot in detail.snapshots if len(detail.snapshots) > 1 else []:
        out.print(
            f"snapshot {snapshot.number}: pinned by {snapshot.pinned_by or '?'} at "
            f"{str(snapshot.pinned_at or '')[:19]}"
        )
    print_changes(out, detail.previous_run_id, detail.changes)


def print_changes(out: Console, previous: int | None, changes: list[Any]) -> None:
    """What changed in the configuration since the previous run, as a table."""
    if previous is None:
        out.print("the pipeline's first run: no earlier configuration to compare with")
        return
    if not changes:
        out.print(f"configuration unchanged since run {previous}")
        return
    table = Table(
        "transformation", "what", "before", "after", title=f"changes since run {previous}"
    )
    for change in changes:
        table.add_row(
            change.transformation, change.what, _shown(change.before), _shown(change.after)
        )
    out.print(table)


def _shown(value: Any) -> str:
    return "—" if value is None else str(value)


@app.command("reap")
def reap_runs(ctx: typer.Context) -> None:
    """End failed the running tasks whose worker died without a word, and their runs."""
    with session_helper(ctx) as session:
        reaped = reap(session)
    out = console()
    for dead in reaped:
        out.print(dead.message)
    out.print(
        f"{len(reaped)} task(s) ended failed" if reaped else "no running task has lost its worker"
    )


@app.command("cancel")
def cancel_run(ctx: typer.Context, run_id: int = typer.Argument(..., help="The run id.")) -> None:
    """Cancel a running run: it is recorded cancelled and its workers stop within seconds
    (their tasks are recorded cancelled; what they had not published is discarded)."""
    from core.service.run_controls import cancel_pipeline_run

    with session_helper(ctx) as session:
        stopped = cancel_pipeline_run(state(ctx).settings, session, run_id, ACTOR_CANCEL)
    told = "its runner was asked to stop" if stopped else "no live runner was found to stop"
    console().print(f"run {run_id} cancelled: {told}")
