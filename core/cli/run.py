"""``core run``, ``core runs`` and ``core transforms``: run pipelines and read their runs."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cli.common import console, session_helper, state
from core.database.seed import World, load_world
from core.lake.contracts import load_transformation
from core.models import configuration as cfg
from core.plan import PipelinePlan, TaskSpec, build_plan
from core.runner.local import Listener, LocalRunner
from core.runner.report import RunReport, build_report
from core.runs import finish_run, get_run, reap, run_duration, start_run
from core.transforms.authoring import new_notebook_template
from core.transforms.library import BUILTINS, catalogue
from core.transforms.runtime import run_transformation

runs_app = typer.Typer(help="List, show and reap pipeline runs.", no_args_is_help=True)
transforms_app = typer.Typer(help="List and run transformations.", no_args_is_help=True)

# How a run's configuration choice is shown (core.models.runs.RUN_CONFIGURATIONS).
CONFIGURATIONS = {
    "current": "current, pinned when it started or was resumed",
    "pinned": "as it was, the snapshot kept on resume",
}
MARKS = {"started": "…", "retrying": "↻", "skipped": "·", "finished": "✓"}


def run(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="The pipeline's name."),
    workers: int = typer.Option(1, "--workers", min=1, help="Transformations run at once."),
    resume: int | None = typer.Option(
        None, "--resume", help="Re-run what failed or never ran in this run id."
    ),
    only: str | None = typer.Option(None, "--only", help="Run only this state's groups."),
    configuration: str = typer.Option(
        "current",
        "--configuration",
        help="With --resume: 'current' re-pins the run to the configuration now (after a "
        "fix); 'pinned' keeps its snapshot as it was.",
    ),
) -> None:
    """Run one pipeline on this machine and print a summary; exit 1 when a task failed.

    A run uses the configuration it was pinned to when it started: edits saved while it
    goes reach the next run, not this one.
    """
    out = console()
    runner = LocalRunner(state(ctx).settings, workers=workers, listener=progress_printer(out))
    report = runner.run(pipeline, resume=resume, only=only, configuration=configuration)
    print_report(out, report)
    if report.failed:
        raise typer.Exit(1)


def progress_printer(out: Console) -> Listener:
    """A LocalRunner listener printing one line per task event."""

    def listen(event: str, task: TaskSpec, detail: str) -> None:
        mark = "✗" if detail == "failed" else MARKS.get(event, " ")
        out.print(f"{mark} {task.task_id}: {event} ({detail})")

    return listen


def print_report(out: Console, report: RunReport) -> None:
    """The summary table of a run: task, state, attempt, duration, rows, error."""
    table = Table("task", "state", "attempt", "seconds", "rows in", "rows out", "error")
    for task in report.tasks:
        table.add_row(
            task.task_id,
            task.state,
            str(task.attempt),
            _number(task.seconds),
            _number(task.rows_in),
            _number(task.rows_out),
            (task.error or "")[:120],
        )
    out.print(table)
    resumed = f", resumed by {report.resumed_by}" if report.resumed_by else ""
    out.print(
        f"run {report.run_id} of {report.pipeline}: {report.state} in "
        f"{_number(report.seconds)}s (configuration: {CONFIGURATIONS[report.configuration]}"
        f"{resumed}); `core runs show {report.run_id}` for details"
    )


@runs_app.command("list")
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
                _number(run_duration(event)),
                event.triggered_by or "",
            )
    console().print(table)


@runs_app.command("show")
def show_run(ctx: typer.Context, run_id: int = typer.Argument(..., help="The run id.")) -> None:
    """Show a run: every task with its state, attempt, duration, rows and error, the
    configuration it used, and what changed in it since the pipeline's previous run."""
    from core.service.runs import run_detail

    with session_helper(ctx) as session:
        event = get_run(session, run_id)
        if event.state == "running":
            reap(session, run_id)  # a task whose worker died ends failed, and its run
        plan = PipelinePlan.from_dict(event.configuration_snapshot or {})
        runner = LocalRunner(state(ctx).settings)
        report = build_report(session, plan, run_id, runner.log_dir(run_id))
        detail = run_detail(session, run_id)
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


@runs_app.command("reap")
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


@transforms_app.command("list")
def list_transforms(ctx: typer.Context) -> None:
    """List the templates: kind, state, entrypoint (or built-in) and variables."""
    table = Table("template", "kind", "state", "runs", "variables")
    query = select(cfg.TransformationTemplate).order_by(cfg.TransformationTemplate.name)
    with session_helper(ctx) as session:
        for template in session.scalars(query):
            target = template.entrypoint or (
                "built-in"
                if template.name in BUILTINS or template.kind == "notebook"
                else "MISSING"
            )
            state_name = (
                template.pipeline_state_type.name if template.pipeline_state_type else "any"
            )
            table.add_row(
                template.name,
                template.kind,
                state_name,
                target,
                ", ".join(sorted(template.variable_structures or {})),
            )
    console().print(table)


@transforms_app.command("register")
def register_transforms(ctx: typer.Context) -> None:
    """Register the standard transforms as templates (or refresh their schemas)."""
    with session_helper(ctx) as session:
        added = load_world(session, World(state_types=[], builtins=True))
        session.commit()
    out = console()
    for kind, count in sorted(added.items()):
        out.print(f"{kind}: {count}")
    out.print(f"{len(catalogue())} standard transforms registered")


@transforms_app.command("new")
def new_transform(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The new template's name (lower-case, a-z 0-9 _ -)."),
    pipeline_state: str = typer.Option(..., "--state", help="The state it belongs to."),
) -> None:
    """Create transforms/NAME.ipynb from Template.ipynb and register it as a template."""
    with session_helper(ctx) as session:
        path, template = new_notebook_template(state(ctx).settings, session, name, pipeline_state)
        variables = ", ".join(sorted(template.variable_structures)) or "none"
    console().print(
        f"created {path}; registered notebook template {name!r} "
        f"(state {pipeline_state}, variables: {variables})"
    )


@transforms_app.command("run")
def run_transform(
    ctx: typer.Context,
    transform_id: int = typer.Argument(..., help="The transformation's id."),
    run_id: int | None = typer.Option(
        None, "--run-id", help="Run it as part of this run (default: a new run of its pipeline)."
    ),
) -> None:
    """Run one transformation here, in this process, and print its outcome."""
    settings = state(ctx).settings
    with session_helper(ctx) as session:
        new_run = run_id is None
        if new_run:
            run_id = _new_run_for(session, transform_id)
        outcome = run_transformation(settings, session, transform_id, run_id)
        if new_run:
            finish_run(session, run_id, failed=not outcome.succeeded)
    if not outcome.succeeded:
        typer.echo(f"FAILED: {outcome.message}", err=True)
        raise typer.Exit(outcome.exit_code)
    console().print(f"{outcome.message} (run {run_id})")


def _new_run_for(session: Session, transform_id: int) -> int:
    transformation = load_transformation(transform_id, session)
    plan = build_plan(transformation.pipeline_state.pipeline)
    return start_run(session, plan, "core transforms run").id


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}" if isinstance(value, float) else str(value)
