"""``core dags``: the Airflow DAGs CORE generates, printed without Airflow.

The structure comes from ``core.airflow.dagbuilder.shape``, the same data the DAG
builder wires, so what is printed is what Airflow gets.
"""

from __future__ import annotations

import typer
from rich.table import Table

from core.airflow.dagbuilder.shape import DagShape, dag_shape
from core.cli.common import console, session_helper, state
from core.plan import load_plan, load_plans

app = typer.Typer(help="Show the Airflow DAGs generated from the pipelines.", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the DAG of every active pipeline: schedule, tasks, edges and tags."""
    settings = state(ctx).settings
    with session_helper(ctx) as session:
        plans = load_plans(session)
    table = Table("dag_id", "schedule", "tasks", "edges", "tags")
    for plan in plans:
        shape = dag_shape(plan, settings)
        table.add_row(
            shape.dag_id,
            str(shape.schedule),
            str(len(shape.tasks)),
            str(len(shape.edges)),
            " ".join(shape.tags),
        )
    console().print(table if plans else "no active pipeline: Airflow gets no CORE DAG")


@app.command()
def show(ctx: typer.Context, name: str = typer.Argument(..., help="The pipeline's name.")) -> None:
    """Show a pipeline's DAG: its settings, its tasks in order and every edge."""
    settings = state(ctx).settings
    with session_helper(ctx) as session:
        plan = load_plan(session, name)
    shape = dag_shape(plan, settings)
    if not plan.is_active:
        console().print(f"{name} is inactive: Airflow has no DAG for it; this is its shape")
    _print_shape(shape)


def _print_shape(shape: DagShape) -> None:
    out = console()
    out.print(
        f"[bold]{shape.dag_id}[/bold]  schedule: {shape.schedule}  "
        f"start: {shape.start_date:%Y-%m-%d}  catchup: no  "
        f"max active runs: {shape.max_active_runs}  owner: {shape.owner}"
    )
    out.print(f"tags: {' '.join(shape.tags)}")
    tasks = Table("#", "task_id", "kind", "retries", "retry delay s")
    for index, task in enumerate(shape.tasks):
        retries = str(task.retries) if task.kind == "transform" else ""
        delay = str(task.retry_delay_seconds) if task.kind == "transform" else ""
        tasks.add_row(str(index), task.task_id, task.kind, retries, delay)
    out.print(tasks)
    out.print("edges:")
    for upstream, downstream in shape.edges:
        out.print(f"  {upstream} >> {downstream}")
