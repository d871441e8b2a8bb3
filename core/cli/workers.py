"""``core workers``: start, show and stop the shared worker server local tasks fork from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from core.cli.common import console, state

if TYPE_CHECKING:
    from core.worker_servers import ServerInfo

app = typer.Typer(
    help="Start, show and stop the shared worker server that local tasks are forked from.",
    no_args_is_help=True,
)


@app.command("start")
def start_server(ctx: typer.Context) -> None:
    """Start the shared worker server now (or find it running) and wait for its imports,
    so that the next run's first task does not wait for them."""
    import time

    from core.worker_servers import start

    began = time.monotonic()
    info, started = start(state(ctx).settings)
    seconds = time.monotonic() - began
    said = f"started in {seconds:.1f} s" if started else "was running already"
    typer.echo(f"the shared worker server {said}: {_described(info)}")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show this user's shared worker servers: their processes, workers, and how long
    until each ends unused."""
    from rich.table import Table

    from core.worker_servers import list_servers

    servers = list_servers(state(ctx).settings)
    if not servers:
        typer.echo("no shared worker server is running: the next run starts one")
        return
    table = Table("server", "keeper", "current", "workers", "unused s", "ends unused after s")
    for info in servers:
        table.add_row(
            str(info.server),
            str(info.keeper),
            "yes" if info.current else "no: other code or preload",
            str(info.workers),
            f"{info.unused_seconds:.0f}",
            "?" if info.idle_seconds is None else f"{info.idle_seconds:.0f}",
        )
    console().print(table)


@app.command("stop")
def stop_server(
    ctx: typer.Context,
    every: bool = typer.Option(
        False, "--all", help="Also the servers of other code (older checkouts, upgrades)."
    ),
) -> None:
    """Stop the shared worker server: the next run starts a new one; workers still
    running finish first (they are not interrupted)."""
    from core.worker_servers import stop

    stopped = stop(state(ctx).settings, every=every)
    if not stopped:
        typer.echo("no shared worker server was running")
    for info in stopped:
        after = f"; it ends once its {info.workers} running worker(s) have" if info.workers else ""
        typer.echo(f"stopped the shared worker server {info.server}{after}")


def _described(info: ServerInfo) -> str:
    ends = "" if info.idle_seconds is None else f"; it ends {info.idle_seconds:.0f} s unused"
    return (
        f"process {info.server} (keeper {info.keeper}), preloading {', '.join(info.modules)}{ends}"
    )
