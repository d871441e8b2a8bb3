"""``core run``, ``core runs`` and ``core transforms``: run pipelines and read their runs."""

from __future__ import annotations

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
from core.runs import duration, finish_run, get_run, start_run
from core.transforms.authoring import new_notebook_template
from core.transforms.library import BUILTINS, catalogue
from core.transforms.runtime import run_transformation

runs_app = typer.Typer(help="List and show pipeline runs.", no_args_is_help=True)
transforms_app = typer.Typer(help="List and run transformations.", no_args_is_help=True)

MARKS = {"started": "…", "retrying": "↻", "skipped": "·", "finished": "✓"}


def run(
    ctx: typer.Context,
    pipeline: str = typer.Argument(..., help="The pipeline's name."),
    workers: int = typer.Option(1, "--workers", min=1, help="Transformations run at once."),
    resume: int | None = typer.Option(
        None, "--resume", help="Re-run what failed or never ran in this run id."
    ),
    only: str | None = typer.Option(None, "--only", help="Run only this state's groups."),
) -> None:
    """Run one pipeline on this machine and print a summary; exit 1 when a task failed."""
    out = console()
    runner = LocalRunner(state(ctx).settings, workers=workers, listener=progress_printer(out))
    report = runner.run(pipeline, resume=resume, only=only)
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
    """The summary table of a run: task, state, attempt, duration, rows, error; then notes."""
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
    for task in report.tasks:
        for note in task.notes:
            out.print(f"note: {task.task_id}: {note}")
    out.print(
        f"run {report.run_id} of {report.pipeline}: {report.state} in "
        f"{_number(report.seconds)}s; `core runs show {report.run_id}` for details"
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
                _number(duration(event.started_at, event.ended_at)),
                event.triggered_by or "",
            )
    console().print(table)


@runs_app.command("show")
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
