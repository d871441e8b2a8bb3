"""``core transforms``: list, register, create and run transformations."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cli.common import console, session_helper, state
from core.database.seed import World, load_world
from core.models import configuration as cfg
from core.plan import build_plan
from core.runs import finish_run, start_run
from core.transforms.authoring import new_notebook_template
from core.transforms.library import BUILTINS, catalogue

app = typer.Typer(help="List and run transformations.", no_args_is_help=True)


@app.command("list")
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


@app.command("register")
def register_transforms(ctx: typer.Context) -> None:
    """Register the standard transforms as templates (or refresh their schemas)."""
    with session_helper(ctx) as session:
        added = load_world(session, World(state_types=[], builtins=True))
        session.commit()
    out = console()
    for kind, count in sorted(added.items()):
        out.print(f"{kind}: {count}")
    out.print(f"{len(catalogue())} standard transforms registered")


@app.command("new")
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


@app.command("run")
def run_transform(
    ctx: typer.Context,
    transform_id: int = typer.Argument(..., help="The transformation's id."),
    run_id: int | None = typer.Option(
        None, "--run-id", help="Run it as part of this run (default: a new run of its pipeline)."
    ),
) -> None:
    """Run one transformation here, in this process, and print its outcome."""
    from core.transforms.runtime import run_transformation  # pyarrow: only this command needs it

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
    from core.lake.contracts import load_transformation

    transformation = load_transformation(transform_id, session)
    plan = build_plan(transformation.pipeline_state.pipeline)
    return start_run(session, plan, "core transforms run").id
