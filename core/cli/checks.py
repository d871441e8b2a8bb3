"""``core checks``: run, list, add and delete the data quality checks of datasets.

Checks are configuration: ``add`` and ``delete`` go through the same validation as
the API and the UI (``core.service.checks.DATASET_CHECKS``). ``run`` evaluates a
dataset's checks, or a check not saved yet, on rows a run already published, and
records nothing. A dataset is named as the lineage names it:
``company/brand/state/dataset``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from core.cli.common import console, session_helper, state
from core.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from rich.table import Table

    from core.checks.evaluate import CheckSpec, Outcome
    from core.plan import PipelinePlan

app = typer.Typer(
    help="Run, list, add and delete the data quality checks of datasets.", no_args_is_help=True
)
# How much of a refused value a problem line quotes.
VALUE_LIMIT = 80
EXAMPLE_HINT = '{"columns": ["patient_id"]}'


@app.command("run")
def run_(
    ctx: typer.Context,
    dataset: str = typer.Argument(
        ..., help="The dataset, as company/brand/state/dataset (`core checks list`)."
    ),
    run_id: int | None = typer.Option(
        None, "--run-id", min=1, help="The run whose rows are checked; the latest by default."
    ),
    pipeline: str | None = typer.Option(
        None, "--pipeline", help="The pipeline that writes the dataset, when several do."
    ),
    kind: str | None = typer.Option(
        None, "--kind", help="Try a check not saved yet, of this kind, instead of the saved ones."
    ),
    arguments: str | None = typer.Option(
        None, "--arguments", help=f"With --kind: its arguments as JSON, e.g. '{EXAMPLE_HINT}'."
    ),
    severity: str | None = typer.Option(
        None, "--severity", help="With --kind: error (the default) or warn."
    ),
) -> None:
    """Evaluate a dataset's checks on the rows a run published; nothing is recorded.

    Prints one line per check (status, check, failing rows, note) and examples of the
    failing rows. With --kind (and --arguments, --severity) a check not saved yet is
    tried instead, e.g. on yesterday's data before `core checks add` saves it. Exits 0
    when no error check failed, 1 when one did, 2 for invalid input.
    """
    if kind is None and (arguments is not None or severity is not None):
        raise typer.BadParameter("--arguments and --severity describe a new check: add --kind")
    from core.service.checks import dataset_transformation, run_with_rows, try_checks

    settings = state(ctx).settings
    with session_helper(ctx) as session, _problems_listed("checks not run"):
        transformation_id = dataset_transformation(session, dataset, pipeline)
        checks = None if kind is None else [_new_check(kind, arguments, severity)]
        run = run_with_rows(settings, session, transformation_id, run_id)
        tried = try_checks(settings, session, transformation_id, run, checks)
    if not tried.outcomes:
        typer.echo(
            f"dataset {dataset} has no checks: try one with --kind and --arguments, then save "
            f"it with `core checks add {transformation_id} KIND --arguments JSON`"
        )
        return
    typer.echo(f"dataset {dataset}, run {tried.run_id}: {tried.rows:,} rows")
    for outcome in tried.outcomes:
        typer.echo(outcome_line(outcome))
        for example in outcome.examples:
            typer.echo("      e.g. " + json.dumps(example, default=str))
    counts = Counter(o.status for o in tried.outcomes)
    summary = ", ".join(f"{counts[s]} {s}" for s in ("pass", "warn", "fail", "error") if counts[s])
    blocking = [o for o in tried.outcomes if o.blocks]
    if not blocking:
        typer.echo(f"{len(tried.outcomes)} check(s): {summary}")
        return
    typer.echo(
        f"{len(tried.outcomes)} check(s): {summary}; {len(blocking)} error check(s) failed: "
        f"a run would publish nothing to {dataset}"
    )
    raise typer.Exit(1)


@app.command("list")
def list_(
    ctx: typer.Context,
    pipeline: str | None = typer.Argument(None, help="Only this pipeline's datasets."),
) -> None:
    """List the checks of every dataset (or one pipeline's): id, dataset, transformation,
    check with its arguments, severity and description."""
    from core.plan import load_plan, load_plans

    with session_helper(ctx) as session:
        plans = (
            [load_plan(session, pipeline)] if pipeline else load_plans(session, only_active=False)
        )
    table = checks_table(plans)
    out = console()
    out.print(table if table is not None else "no dataset has checks yet")


@app.command()
def add(
    ctx: typer.Context,
    transformation_id: int = typer.Argument(
        ..., help="The transformation whose output dataset is checked (`core pipelines show`)."
    ),
    kind: str = typer.Argument(..., help="The kind: not_null, unique, accepted_values, range, …"),
    arguments: str = typer.Option(
        "{}", "--arguments", help=f"The kind's arguments as JSON, e.g. '{EXAMPLE_HINT}'."
    ),
    severity: str | None = typer.Option(
        None,
        "--severity",
        help="error (the default: a failure publishes nothing and fails the task) or warn "
        "(a failure is recorded and the rows are published).",
    ),
    description: str | None = typer.Option(
        None, "--description", help="What the check guards, shown with its results."
    ),
) -> None:
    """Add a check to a transformation's output dataset, validated as the API validates it
    (kind, arguments, severity, and the columns of the dataset's last published schema)."""
    from core.lake.contracts import contract_from_transformation_id
    from core.lineage.datasets import dataset_ref
    from core.service.checks import DATASET_CHECKS
    from core.service.resources import create_row

    settings = state(ctx).settings
    with session_helper(ctx) as session, _problems_listed("check not saved"):
        values: dict[str, Any] = {"transformation_id": transformation_id, "kind": kind}
        values["arguments"] = _json_arguments(arguments)
        values |= {k: v for k, v in (("severity", severity), ("description", description)) if v}
        row = create_row(session, DATASET_CHECKS, values, settings)
        contract = contract_from_transformation_id(transformation_id, session, settings)
        typer.echo(
            f"added check {row.id} ({row.kind}, {row.severity}) to dataset "
            f"{dataset_ref(contract).key} of transformation {transformation_id}"
        )


@app.command()
def delete(
    ctx: typer.Context,
    check_id: int = typer.Argument(..., help="The check's id (`core checks list`)."),
) -> None:
    """Delete a check; the results it recorded in earlier runs are kept."""
    from core.service.checks import DATASET_CHECKS
    from core.service.resources import delete_row, get_row

    with session_helper(ctx) as session:
        row = get_row(session, DATASET_CHECKS, check_id)
        label, transformation_id = row.label, row.transformation_id
        delete_row(session, DATASET_CHECKS, check_id)
    typer.echo(f"deleted {label} of transformation {transformation_id}")


def outcome_line(outcome: Outcome) -> str:
    """``FAIL  check 4 range(column="n", max=5): 2 failing row(s)``, and its note if any."""
    from core.checks.evaluate import finding_text

    what = finding_text(outcome.failing_rows, outcome.note)
    return f"{outcome.status.upper():5} {outcome.label}: {what}"


def checks_table(plans: list[PipelinePlan]) -> Table | None:
    """The checks of the plans' datasets, one row per check; None when there is none."""
    if not any(task.checks for plan in plans for task in plan.tasks):
        return None
    from rich.table import Table

    from core.checks.evaluate import CheckSpec
    from core.lineage.schedule import output_keys

    table = Table("check", "dataset", "transformation", "kind(arguments)", "severity", "about")
    for plan in plans:
        for key, task in zip(output_keys(plan), plan.tasks, strict=True):
            for check in map(CheckSpec.of, task.checks):
                table.add_row(
                    str(check.id),
                    key,
                    str(task.transformation_id),
                    escape(_shown_check(check)),
                    check.severity,
                    escape(check.description or ""),
                )
    return table


def _shown_check(check: CheckSpec) -> str:
    """The check as its label shows it, without the leading ``check N``."""
    return check.label.split(" ", 2)[2]


def _new_check(kind: str, arguments: str | None, severity: str | None) -> CheckSpec:
    """The check --kind describes, its problems (each by field) raised at once."""
    from core.checks.evaluate import CheckSpec, validate_spec

    spec = CheckSpec(None, kind, _json_arguments(arguments or "{}"), severity or "error")
    validate_spec(spec)
    return spec


def _json_arguments(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(
            [("arguments", text, f"is not JSON ({exc}): expected an object such as {EXAMPLE_HINT}")]
        ) from None


@contextmanager
def _problems_listed(what: str) -> Iterator[None]:
    """Print each problem of an InvalidInputError on its own line, then fail in one."""
    try:
        yield
    except InvalidInputError as exc:
        for field, value, message in exc.problems:
            shown = repr(value)
            shown = shown if len(shown) <= VALUE_LIMIT else shown[:VALUE_LIMIT] + "…"
            typer.echo(f"  {field}: {message} (got {shown})", err=True)
        count = len(exc.problems)
        raise ConfigurationError(
            f"{what}: {count} problem{'s' * (count > 1)} (listed above)"
        ) from exc
