"""``core runs``: list, show, cancel and reap pipeline runs, and read a task's log."""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from core.cli.common import console, session_helper, state
from core.cli.run import figure, print_report
from core.plan import PipelinePlan
from core.runner.report import build_report, run_log_dir
from core.runs import get_run, reap

app = typer.Typer(
    help="List, show, cancel and reap pipeline runs; read a task's log.", no_args_is_help=True
)
# Who a cancel from the command line is recorded as.
ACTOR_CANCEL = "core runs cancel"


@app.command("list")
def list_runs(
    ctx: typer.Context,
    pipeline: str | None = typer.Option(None, help="Only runs of this pipeline."),
    run_state: str | None = typer.Option(
        None,
        "--state",
        help="Only runs in this state (queued, running, success, failed, cancelled).",
    ),
    since: dt.datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="Only runs started on or after this day (UTC)."
    ),
    until: dt.datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="Only runs started on or before this day (UTC)."
    ),
    started_by: str | None = typer.Option(
        None, help="Only runs whose starter contains this text, any case (a name, 'schedule')."
    ),
    limit: int = typer.Option(20, min=1, max=500, help="How many of the newest runs."),
) -> None:
    """List the newest runs with their state, duration and who started them."""
    from core.plan.queries import pipeline_id_named
    from core.service.run_filters import RunFilter
    from core.service.runs import list_runs as page_of_runs

    with session_helper(ctx) as session:
        chosen = RunFilter(
            pipeline_id=pipeline_id_named(session, pipeline) if pipeline else None,
            state=run_state,
            since=since.date() if since else None,
            until=until.date() if until else None,
            started_by=started_by,
        )
        rows, total = page_of_runs(session, limit=limit, chosen=chosen)
    table = Table("run", "pipeline", "state", "started", "seconds", "by")
    for row in rows:
        table.add_row(
            str(row.id),
            row.pipeline_name,
            row.state,
            str(row.started_at or "")[:19],
            figure(row.duration_seconds),
            row.triggered_by or "",
        )
    console().print(table)
    if total > len(rows):
        console().print(f"{len(rows)} of {total} runs shown; --limit shows more")


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


@app.command("log")
def task_log(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The run id."),
    transformation_id: int = typer.Argument(..., help="The task's transformation id."),
    tail: int = typer.Option(500, min=0, max=100_000, help="Print the last N lines."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing what the task writes until it ends."
    ),
) -> None:
    """Print a task's log (secrets masked): its last lines, or followed while it runs."""
    import sys

    from core.service.task_logs import LogRequest
    from core.service.task_logs import follow as followed
    from core.service.task_logs import task_log as read_log

    settings = state(ctx).settings
    with session_helper(ctx) as session:
        log = read_log(settings, session, run_id, transformation_id, LogRequest(tail=tail))
    if log.source is None:
        print(
            f"task {log.task_id} of run {run_id} ({log.state}) has written nothing yet",
            file=sys.stderr,
        )
    pieces = followed(settings, log) if follow else iter([log.text])
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()


@app.command("reap")
def reap_runs(ctx: typer.Context) -> None:
    """End failed the running tasks whose worker died without a word, and their runs;
    and the runs whose local runner died, once none of their tasks runs."""
    with session_helper(ctx) as session:
        reaped = reap(session)
    out = console()
    for dead in reaped:
        out.print(dead.message)
    tasks = sum(dead.transformation_id is not None for dead in reaped)
    runs = len(reaped) - tasks
    out.print(
        f"{tasks} task(s) and {runs} run(s) without a runner ended failed"
        if reaped
        else "no running task has lost its worker, no running run its runner"
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
