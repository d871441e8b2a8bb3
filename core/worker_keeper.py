"""The keeper of a shared warm worker server: ``python -m core.worker_keeper RECORD IDLE MODULE…``.

Started by :mod:`core.worker_server` (detached, in a session of its own). Its first
process starts Python's forkserver with the modules to preload, forks the keeper,
publishes ``{"keeper", "server", "address"}`` in the record and exits, so the starter
knows at once whether a server is there. The keeper then holds the server's "alive"
pipe and ends the server once it is idle: no worker started (starters touch the
record) for IDLE seconds, or SIGTERM, or its record withdrawn or taken over — and,
after a grace period for a starter that read the record just before, once none of the
server's workers still runs (each worker's exit code reaches its starter through the
server). Light on purpose: every starter imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KEEPER = "core.worker_keeper"
# How often the keeper looks whether it is idle, and how long it waits after withdrawing
# its record before it looks for running workers (a starter that had read it just before).
CHECK_SECONDS = 1.0
GRACE_SECONDS = 2.0


def read_record(record: Path) -> dict[str, Any] | None:
    """What a record says, if its keeper is alive (None otherwise)."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _is_keeper(int(data.get("keeper", 0))) else None


@contextlib.contextmanager
def locked(record: Path) -> Iterator[None]:
    """Hold the record's lock file: one starter at a time looks and starts a keeper."""
    import fcntl

    with open(record.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def keep(record: Path, idle: float, modules: list[str]) -> None:
    """Start the server, publish it, and (in a forked keeper) end it once idle."""
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    forkserver.ensure_running()  # its imports go on in the background
    server = forkserver._forkserver  # the module's own (private) instance
    published, publishing = os.pipe()
    keeper = os.fork()
    if keeper:
        data = {"keeper": keeper, "server": server._forkserver_pid}
        data["address"] = server._forkserver_address
        partial = record.with_suffix(f".{keeper}.tmp")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, record)
        os._exit(0)  # the starter waits for this; the keeper reads the pipe's end
    os.close(publishing)
    os.read(published, 1)
    os.close(published)
    _serve_until_idle(record, idle, server._forkserver_pid)
    os.close(server._forkserver_alive_fd)  # the server reads EOF there and exits


def _serve_until_idle(record: Path, idle: float, server: int) -> None:
    asked = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: asked.set())
    signal.signal(signal.SIGINT, lambda *_: asked.set())
    while not _done(record, idle, server, asked):
        asked.wait(CHECK_SECONDS)
    with locked(record):
        if _ours(record):
            record.unlink()
    time.sleep(GRACE_SECONDS)
    while children(server):
        time.sleep(CHECK_SECONDS)


def _done(record: Path, idle: float, server: int, asked: threading.Event) -> bool:
    if asked.is_set() or not _ours(record) or not _alive(server):
        return True
    try:
        unused = time.time() - record.stat().st_mtime
    except OSError:
        return True
    return unused > idle and not children(server)


def _ours(record: Path) -> bool:
    try:
        return json.loads(record.read_text(encoding="utf-8")).get("keeper") == os.getpid()
    except (OSError, ValueError):
        return False


def started_with(keeper: int) -> tuple[float, list[str]] | None:
    """The idle seconds and preload modules a running keeper was started with (its command
    line, as :func:`core.worker_server._start_keeper` builds it); None when unreadable."""
    try:
        with open(f"/proc/{keeper}/cmdline", "rb") as command:
            words = [w.decode() for w in command.read().split(b"\0") if w]
        at = words.index(KEEPER)
        return float(words[at + 2]), words[at + 3 :]
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _is_keeper(pid: int) -> bool:
    """Whether pid is alive and this user's keeper (not a process, of this user or another,
    that reused a dead keeper's id)."""
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return False
        with open(f"/proc/{pid}/cmdline", "rb") as command:
            return KEEPER.encode() in command.read().split(b"\0")
    except OSError:
        return False


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``, ended ones not yet reaped too (/proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as status:
                fields = status.read().rpartition(b")")[2].split()
        except OSError:  # ended meanwhile
            continue
        # A zombie counts: until the server has reaped it, its exit code is not yet sent.
        if len(fields) > 1 and int(fields[1]) == parent:
            found.append(int(entry))
    return found


if __name__ == "__main__":
    keep(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:])
