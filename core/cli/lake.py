"""``core lake``: look into the data lake (list, show, fetch, diff)."""

from __future__ import annotations

import pyarrow as pa
import typer
from pyarrow import fs as pafs
from rich.table import Table

from core.cli.common import console, session_helper, state
from core.lake.contracts import contract_class
from core.lake.dataset_contract import DatasetContract
from core.lake.diff import DatasetDiff
from core.lake.raw_contract import RawContract
from core.lake.storage import backend_for, normalise_root

app = typer.Typer(
    help="Look into the data lake: list, show, fetch, diff and restore.", no_args_is_help=True
)

# Who a restore from the command line is recorded as.
ACTOR_RESTORE = "core lake restore"
BRANCH = typer.Option(None, "--branch", help="The lake branch (the settings' branch by default).")


def _contract(
    ctx: typer.Context, company: str, brand: str, state_name: str, dataset: str, branch: str | None
) -> DatasetContract | RawContract:
    cls = contract_class(state_name)
    return cls(company, brand, state_name, dataset, branch=branch, settings=state(ctx).settings)


@app.command("ls")
def ls(
    ctx: typer.Context,
    path: str = typer.Argument("", help="A path below the branch, e.g. acme/zentrix/ingest."),
    branch: str | None = BRANCH,
) -> None:
    """List what is stored below a lake path of the branch (folders end with '/')."""
    settings = state(ctx).settings
    root = normalise_root(settings.require_lake_root())
    uri = "/".join(p for p in (root, branch or settings.branch or "", path.strip("/")) if p)
    backend = backend_for(uri)
    selector = pafs.FileSelector(backend.fs_path(uri), allow_not_found=True)
    infos = backend.filesystem(settings).get_file_info(selector)
    names = sorted(i.base_name + ("/" if i.type == pafs.FileType.Directory else "") for i in infos)
    out = console()
    out.print("\n".join(names) if names else f"nothing stored at {uri}")


@app.command()
def show(
    ctx: typer.Context,
    company: str,
    brand: str,
    state_name: str = typer.Argument(..., metavar="STATE"),
    dataset: str = typer.Argument(...),
    branch: str | None = BRANCH,
) -> None:
    """Show a dataset: its schema, its versions and its runs (or a raw folder's files)."""
    contract = _contract(ctx, company, brand, state_name, dataset, branch)
    out = console()
    out.print(f"[bold]{contract.uri}[/bold]")
    if isinstance(contract, RawContract):
        files = Table("file", "bytes", "source modified", "source")
        for f in contract.list_files():
            files.add_row(f.name, str(f.size), str(f.source_modified_time or ""), f.source_path)
        out.print(files)
        return
    schema = pa.schema(contract.delta_table().schema().to_arrow())
    out.print(_table(["column", "type"], [[f.name, str(f.type)] for f in schema]))
    history = contract.history()
    rows = [
        [str(h[k]) for k in ("version", "timestamp", "operation", "predicate")] for h in history
    ]
    out.print(_table(["version", "timestamp", "operation", "predicate"], rows))
    out.print(f"runs: {', '.join(map(str, contract.run_ids())) or 'none'}")


@app.command()
def fetch(
    ctx: typer.Context,
    company: str,
    brand: str,
    state_name: str = typer.Argument(..., metavar="STATE"),
    dataset: str = typer.Argument(...),
    run_id: int | None = typer.Option(None, "--run-id", help="Only this run."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many rows to print."),
    branch: str | None = BRANCH,
) -> None:
    """Print the first rows of a dataset (or of one run) as a table."""
    contract = _dataset(ctx, company, brand, state_name, dataset, branch)
    rows = contract.fetch_arrow(run_id=run_id, limit=limit)
    console().print(_arrow_table(rows))


@app.command()
def diff(
    ctx: typer.Context,
    company: str,
    brand: str,
    state_name: str = typer.Argument(..., metavar="STATE"),
    dataset: str = typer.Argument(...),
    run_id: int = typer.Option(..., "--run-id", help="The newer run."),
    against: int = typer.Option(..., "--against", help="The run to compare with."),
    key: list[str] = typer.Option([], "--key", help="Key column (repeat); all columns if none."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many rows of each side to print."),
    branch: str | None = BRANCH,
) -> None:
    """Show the rows added and removed from run AGAINST to run RUN_ID."""
    contract = _dataset(ctx, company, brand, state_name, dataset, branch)
    result = DatasetDiff(contract, keys=key or None).between_runs(against, run_id)
    out = console()
    for label, rows in (("added", result.added), ("removed", result.removed)):
        out.print(f"[bold]{label}[/bold]: {rows.num_rows} rows (run {against} -> run {run_id})")
        if rows.num_rows:
            out.print(_arrow_table(rows.slice(0, limit)))


@app.command()
def restore(
    ctx: typer.Context,
    company: str,
    brand: str,
    state_name: str = typer.Argument(..., metavar="STATE"),
    dataset: str = typer.Argument(...),
    version: int = typer.Option(..., "--version", help="The earlier version to go back to."),
    reason: str = typer.Option(
        "restored from the command line", "--reason", help="Why: kept with the restore."
    ),
    branch: str | None = BRANCH,
) -> None:
    """Make an earlier version of a dataset current again (a new version; nothing is lost).

    The restore is recorded with its reason (the UI's dataset page lists it; audited)."""
    from core.service.dataset_pages import record_restore

    contract = _dataset(ctx, company, brand, state_name, dataset, branch)
    summary = contract.restore(version)
    with session_helper(ctx) as session:
        record_restore(session, contract.uri, summary, ACTOR_RESTORE, reason)
    console().print(
        f"restored {contract.uri} to version {summary.restored} as version {summary.version} "
        f"({summary.files_restored} files restored, {summary.files_removed} removed)"
    )


def _dataset(
    ctx: typer.Context, company: str, brand: str, state_name: str, dataset: str, branch: str | None
) -> DatasetContract:
    contract = _contract(ctx, company, brand, state_name, dataset, branch)
    if not isinstance(contract, DatasetContract):
        raise typer.BadParameter(
            f"state {state_name!r} holds raw files, not a dataset; use 'core lake show'"
        )
    return contract


def _arrow_table(rows: pa.Table) -> Table:
    values = [[_cell(v) for v in row.values()] for row in rows.to_pylist()]
    return _table(rows.column_names, values)


def _table(headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(*headers)
    for row in rows:
        table.add_row(*row)
    return table


def _cell(value: object) -> str:
    return "" if value is None else str(value)
