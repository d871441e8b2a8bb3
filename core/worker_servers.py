"""The shared worker servers of this user, as an operator sees them: list, start, stop.

A shared worker server (:mod:`core.worker_server`) starts with the first run that needs
one and ends once idle, so the first run in a while waits for its imports (0.8-1 s on a
2-core machine). :func:`start` starts it ahead of any run — at a host's start, before a
batch of runs — and returns once a worker can be forked from it; :func:`list_servers`
says what runs and for how long yet; :func:`stop` ends them. ``core workers`` is the
command line of these (core/cli/workers.py).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SettingsError, WorkerServerError
from core.worker_child import pid_alive
from core.worker_keeper import children, read_record, started_with
from core.worker_server import (
    RECORD_PREFIX,
    record_of,
    shared_server,
    start_shared_child,
)

if TYPE_CHECKING:
    from core.settings import Settings

# How long start waits for a new server's imports, and stop for a keeper to withdraw its
# record and for an unused server to end (both take a second or two on an idle machine).
START_SECONDS = 120.0
STOP_SECONDS = 30.0


@dataclass(frozen=True)
class ServerInfo:
    """One shared worker server of this user.

    Attributes:
        record: the file that publishes it (``$TMPDIR/core-UID/worker-server-*.json``).
        keeper: the keeper's process id.
        server: the server's process id.
        current: it serves this CORE's code and preload list (runs of these settings
            fork from it); a server of other code ends once idle.
        workers: its workers that still run.
        unused_seconds: since a worker was last started from it.
        idle_seconds: it ends once unused this long and without running workers.
        modules: what it preloaded.
    """

    record: Path
    keeper: int
    server: int
    current: bool
    workers: int
    unused_seconds: float
    idle_seconds: float | None
    modules: tuple[str, ...]


def list_servers(settings: Settings) -> list[ServerInfo]:
    """The shared worker servers of this user that are running, this code's first.

    Raises:
        SettingsError: the settings do not share a server (CORE_WORKER_SERVER).
        WorkerServerError: there is no private directory for shared servers.
    """
    directory, current = _directory(settings)
    found = []
    for record in sorted(directory.glob(f"{RECORD_PREFIX}*.json")):
        info = _info(record, record == current)
        if info is not None:
            found.append(info)
    return sorted(found, key=lambda info: not info.current)


def start(settings: Settings) -> tuple[ServerInfo, bool]:
    """Find or start the shared worker server of these settings, and wait for its imports.

    Returns:
        The server, and whether it was started now (False: it was running already).

    Raises:
        SettingsError: the settings do not share a server (CORE_WORKER_SERVER).
        WorkerServerError: none could be started, or its first worker did not start
            within START_SECONDS.
    """
    _, record = _directory(settings)
    server = shared_server(settings)
    if server is None:
        raise WorkerServerError(
            f"the shared worker server could not be started (see {record.with_suffix('.log')} "
            "and the warning above); runs start a server of their own meanwhile"
        )
    # A worker forked from it proves its imports are done: the server accepts none before.
    child = start_shared_child(_ready, (), "core-workers-start", settings)
    child.join(START_SECONDS)
    if child.exitcode != 0:
        raise WorkerServerError(
            f"the shared worker server (keeper {server.keeper}) did not start a "
            f"worker within {START_SECONDS:.0f} s (exit code {child.exitcode}); see "
            f"{record.with_suffix('.log')}"
        )
    info = _info(record, current=True)
    if info is None:
        raise WorkerServerError(f"the shared worker server of {record} ended as it started")
    return info, server.started_here


def stop(settings: Settings, every: bool = False) -> list[ServerInfo]:
    """Stop the shared worker server of these settings (``every``: all of this user's).

    Its keeper withdraws its record at once, so the next run starts a new server; the
    server itself ends once its running workers have ended (they are not interrupted).
    Waits up to STOP_SECONDS for the records to go and for servers without workers to end.

    Returns:
        The servers that were asked to stop, as they were.

    Raises:
        SettingsError: the settings do not share a server (CORE_WORKER_SERVER).
        WorkerServerError: there is no private directory for shared servers.
    """
    chosen = [info for info in list_servers(settings) if every or info.current]
    for info in chosen:
        try:
            os.kill(info.keeper, signal.SIGTERM)
        except ProcessLookupError:  # it ended meanwhile, and its server with it
            continue
    deadline = time.monotonic() + STOP_SECONDS
    for info in chosen:
        while _still_up(info) and time.monotonic() < deadline:
            time.sleep(0.1)
    return chosen


def _ready() -> None:
    """What :func:`start`'s worker runs: nothing (its start is the point)."""


def _directory(settings: Settings) -> tuple[Path, Path]:
    """The private directory of shared servers and the record of these settings' server."""
    if settings.worker_server != "shared":
        raise SettingsError(
            f"CORE_WORKER_SERVER is {settings.worker_server!r}: every process that starts "
            "workers has a server of its own, there is no shared one; expected 'shared' "
            "(the default) to start, list or stop one"
        )
    record = record_of(settings)
    if record is None:
        raise WorkerServerError(
            "no private directory for a shared worker server (expected $TMPDIR/core-UID, "
            f"mode 0700, owned by uid {os.getuid()}, and /proc): runs use servers of their own"
        )
    return record.parent, record


def _info(record: Path, current: bool) -> ServerInfo | None:
    data = read_record(record)
    if data is None:  # its keeper has ended: nothing runs there
        return None
    keeper, server = int(data["keeper"]), int(data["server"])
    idle, modules = started_with(keeper) or (None, [])
    try:
        unused = max(0.0, time.time() - record.stat().st_mtime)
    except OSError:  # withdrawn meanwhile
        return None
    return ServerInfo(
        record, keeper, server, current, len(children(server)), unused, idle, tuple(modules)
    )


def _still_up(info: ServerInfo) -> bool:
    """Its record is still out, or it has no workers and has not ended yet."""
    data = read_record(info.record)
    if data is not None and int(data["keeper"]) == info.keeper:
        return True
    return info.workers == 0 and pid_alive(info.server)
