"""``core pipelines``: list, show and check the configured pipelines."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from core.cli.common import console, session_helper
from core.errors import ConfigurationError
from core.models import configuration as cfg
from core.plan import PipelinePlan, PlanFilters, load_plan, load_plans
from core.plan.check import check_plan

app = typer.Typer(help="List, show and check the configured pipelines.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    company: str | None = typer.Option(None, help="Only this pharmaceutical company."),
    brand: str | None = typer.Option(None, help="Only this brand."),
    pipeline_type: str | None = typer.Option(None, "--type", help="Only this pipeline type."),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only active (or inactive) pipelines."
    ),
) -> None:
    """List pipelines with their company, brand, type, schedule and size."""
    filters = PlanFilters(company=company, brand=brand, pipeline_type=pipeline_type, active=active)
    with session_helper(ctx) as session:
        plans = load_plans(session, only_active=False, filters=filters)
    table = Table("pipeline", "company", "brand", "segment", "type", "active", "schedule", "tasks")
    for plan in plans:
        table.add_row(
            plan.name,
            plan.company,
            plan.brand,
            plan.segment,
            plan.pipeline_type,
            "yes" if plan.is_active else "no",
            plan.run_frequency,
            str(len(plan.tasks)),
        )
    out = console()
    out.print(table if plans else "no pipeline matches these filters")


@app.command()
def graph(ctx: typer.Context) -> None:
    """Show which pipelines start when others publish a dataset (dataset_schedule)."""
    from core.lineage.schedule import describe, pipeline_edges

    with session_helper(ctx) as session:
        plans = load_plans(session, only_active=False)
    out = console()
    edges = pipeline_edges(plans)
    table = Table("upstream pipeline", "dataset", "downstream pipeline", "starts when")
    schedules = {plan.name: describe(plan.dataset_schedule) for plan in plans}
    for edge in sorted(edges, key=lambda e: (e.upstream, e.dataset, e.downstream)):
        table.add_row(edge.upstream, edge.dataset, edge.downstream, schedules[edge.downstream])
    out.print(table)
    linked = {e.upstream for e in edges} | {e.downstream for e in edges}
    alone = [plan.name for plan in plans if plan.name not in linked]
    out.print(f"{len(edges)} dataset edges; not linked: {', '.join(alone) or 'none'}")


@app.command()
def show(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="The pipeline's name."),
    all_active: bool = typer.Option(False, "--all", help="Show every active pipeline."),
) -> None:
    """Show a pipeline: its groups in run order, each transformation's typed variables,
    and the data quality checks of its datasets."""
    if (name is None) == (not all_active):
        raise typer.BadParameter("give a pipeline NAME or --all, not both and not neither")
    with session_helper(ctx) as session:
        plans = load_plans(session) if all_active else [load_plan(session, name or "")]
        variables = _typed_variables(session, plans)
    out = console()
    for plan in plans:
        _print_plan(out, plan, variables)


@app.command()
def check(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The pipeline's name."),
) -> None:
    """Check a whole pipeline as a run would: every variable (type and meaning), every input
    written by an earlier group, SQL tables declared in inputs, no dataset written twice.
    Lists every problem; exits 2 when there is one (`core run` refuses such a pipeline)."""
    with session_helper(ctx) as session:
        result = check_plan(session, load_plan(session, name))
    out = console()
    if result.ok:
        out.print(f"pipeline {name!r}: no problems")
        return
    table = Table("transformation", "state", "field", "value", "problem")
    for problem in result.problems:
        table.add_row(
            problem.transformation,
            problem.state,
            problem.field,
            repr(problem.value),
            problem.message,
        )
    out.print(table)
    count = len(result.problems)
    raise ConfigurationError(
        f"pipeline {name!r} fails its check: {count} problem{'s' if count > 1 else ''} (listed "
        "above); fix them in the web UI, the API or the configuration"
    )


def _print_plan(out: Console, plan: PipelinePlan, variables: dict[int, str]) -> None:
    out.print(
        f"[bold]{plan.name}[/bold]  {plan.company}/{plan.brand}  "
        f"{plan.segment}/{plan.pipeline_type}  schedule: {plan.run_frequency}  "
        f"{'active' if plan.is_active else 'inactive'}"
    )
    if plan.description:
        out.print(plan.description.strip())
    table = Table("step", "state", "order", "task", "retries", "variables")
    for group in plan.groups:
        for task in group.tasks:
            table.add_row(
                str(group.step),
                group.state,
                str(group.graph_order),
                task.task_id,
                str(task.retries),
                variables[task.transformation_id],
            )
    out.print(table if plan.groups else "this pipeline has no transformations yet")
    if not plan.groups:
        return
    from core.cli.checks import checks_table

    checks = checks_table([plan])
    out.print(
        checks
        if checks is not None
        else "no checks on its datasets: `core checks add TRANSFORMATION_ID KIND --arguments JSON`"
    )


def _typed_variables(session: Session, plans: list[PipelinePlan]) -> dict[int, str]:
    ids = [task.transformation_id for plan in plans for task in plan.tasks]
    query = (
        select(cfg.Transformation)
        .where(cfg.Transformation.id.in_(ids))
        .options(
            joinedload(cfg.Transformation.transformation_template),
            selectinload(cfg.Transformation.transformation_variables),
        )
    )
    shown = {}
    for transformation in session.scalars(query):
        problems = transformation.check_variables()
        if problems:
            shown[transformation.id] = "[red]INVALID: " + "; ".join(map(str, problems)) + "[/red]"
        else:
            shown[transformation.id] = ", ".join(
                f"{key}={value!r}" for key, value in transformation.variables.items()
            )
    return shown
