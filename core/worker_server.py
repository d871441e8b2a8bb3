"""The warm worker server that local workers are forked from.

It is Python's ``multiprocessing`` forkserver with :func:`preload` imported once, so a
task is a fresh process of its own (a crash, a leak or a kill touches that task only)
without paying the interpreter's start or the imports (1.5-2 s). Two kinds, chosen by
``CORE_WORKER_SERVER``:

- ``shared`` (the default): one server per user, interpreter, CORE code and preload
  list, used by every process of that user that starts workers — each ``core run``, the
  runs the service starts, each task of Airflow's ``local`` backend — so only the first
  of them waits for its imports. A small keeper process (``python -m core.worker_keeper``)
  starts it, publishes its address in a record in a private directory
  (``$TMPDIR/core-UID``, mode 0700) and ends it once no worker was started for
  ``CORE_WORKER_SERVER_IDLE_SECONDS`` and none of its workers still runs (a worker's exit
  code passes through the server). The record's name carries a fingerprint of CORE's
  code, the installed packages, the interpreter and ``PYTHONPATH``: after an edit or an
  upgrade the next run starts a new server, and the old one ends when idle — code is
  never served stale.
- ``per-process``: the server belongs to the process that starts workers and ends with it.

A shared server that cannot be used (no ``/proc`` to tell whether its workers still run,
a directory that is not private, a keeper that did not start) gives way to the
per-process one, with a warning. No setting is read and nothing is started at import.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from functools import cache, partial
from multiprocessing import (
    context,
    forkserver,
    popen_forkserver,
    process,
    reduction,
    resource_tracker,
    spawn,
    util,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.worker_keeper import KEEPER, locked, read_record

if TYPE_CHECKING:
    from core.settings import Settings

logger = logging.getLogger("core.worker_server")

# What a warm worker server imports once, so that no task pays for it (core/preload.py).
PRELOAD = ("core.preload",)
# The PostgreSQL driver: 0.2 s to import, so preloaded only for a server whose
# tasks will use it (the embedded SQLite database needs nothing beyond PRELOAD).
POSTGRESQL_DRIVER = ("psycopg",)
# How long a starter waits for a new keeper to publish its server before it uses one of
# its own (the keeper only starts the server: its imports go on in the background).
KEEPER_START_SECONDS = 30.0
# A record's name: this, the server's fingerprint, ".json" (its keeper's lock, log and
# temporary files share the stem).
RECORD_PREFIX = "worker-server-"
_server_lock = threading.Lock()
_servers: dict[Path, Any] = {}  # record -> the shared server this process forks from


def preload(settings: Settings | None) -> list[str]:
    """The modules a warm server started with these settings imports before its first task.

    PRELOAD, and the configuration database's driver when it is PostgreSQL (a
    ``postgresql`` CORE_DATABASE_URL, or uat and prod, whose URL comes from a secret).
    """
    if settings is None:
        return list(PRELOAD)
    url = settings.database_url or ""
    remote = url.startswith("postgresql") or (not url and settings.environment in ("uat", "prod"))
    return [*PRELOAD, *(POSTGRESQL_DRIVER if remote else ())]


def start_server(settings: Settings | None = None) -> bool:
    """Find or start the warm worker server now, before the first task needs it.

    A new server's imports take 1.5-2 s; a caller with work of its own before the first
    task (``core run`` importing the runner and pinning the run) calls this first, so
    the two overlap. A shared server that is running already costs only a look.

    Returns:
        True when a shared server was running already (its imports are done), False
        when one was started now or the process has a server of its own.
    """
    with _server_lock:
        if _kind(settings) == "shared":
            server = shared_server(settings)
            if server is not None:
                return not server.started_here
        _own_server(preload(settings))
        return False


def start_child(target: Any, args: tuple[Any, ...], name: str, settings: Settings | None) -> Any:
    """A fresh child of the warm server running ``target(*args)``: a multiprocessing Process.

    The shared server's (:func:`start_shared_child`), else one of this process's own.

    Raises:
        OSError: the process could not be started.
    """
    child = start_shared_child(target, args, name, settings)
    if child is not None:
        return child
    with _server_lock, _without_main():
        _own_server(preload(settings))
        child = multiprocessing.get_context("forkserver").Process(
            target=target, args=args, name=name
        )
        child.start()
        # multiprocessing reads the exit codes of its finished children whenever another
        # one starts; the caller reads this one's, and nothing else may.
        process._children.discard(child)
    return child


def start_shared_child(
    target: Any, args: tuple[Any, ...], name: str, settings: Settings | None
) -> Any | None:
    """A fresh child of the shared server running ``target(*args)``, or None when no shared
    server can be used (then no server is started here).

    Raises:
        OSError: the process could not be started.
    """
    with _server_lock, _without_main():
        child = _start_shared(target, args, name, settings)
        if child is not None:
            process._children.discard(child)  # as for a child of this process's own server
    return child


def _kind(settings: Settings | None) -> str:
    return "shared" if settings is None else settings.worker_server


def _start_shared(target: Any, args: tuple[Any, ...], name: str, settings: Settings | None) -> Any:
    """A child of the shared server, or None when there is none to use.

    A server that went away between the look and the fork (ended idle, killed) is
    replaced once.
    """
    if _kind(settings) != "shared":
        return None
    for _attempt in range(2):
        server = shared_server(settings)
        if server is None:
            return None
        child = SharedProcess(target=target, args=args, name=name)
        server.touch()
        _forking.server = server
        try:
            child.start()
            return child
        except (OSError, EOFError) as exc:  # its socket is gone, or it ended as we asked
            logger.warning("the shared worker server of %s went away (%r)", server.record, exc)
            _servers.pop(server.record, None)
        finally:
            _forking.server = None
    return None


def _own_server(modules: list[str]) -> None:
    """Start this process's own forkserver (ended at this process's exit)."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(modules)
    _stop_own_server_at_exit()
    forkserver.ensure_running()


# --- the shared server, as a starter sees it -------------------------------------------


def shared_server(settings: Settings | None) -> SharedForkServer | None:
    """The running shared server (its keeper started if need be), or None: not usable."""
    record = record_of(settings)
    if record is None:
        return None
    modules = preload(settings)
    known = _servers.get(record)
    if known is not None and known.current():
        return known
    started_here = False
    with locked(record):
        data = read_record(record)
        if data is None and _start_keeper(record, modules, _idle(settings)):
            data, started_here = read_record(record), True
    if data is None:
        return None
    _servers[record] = SharedForkServer(record, data, started_here)
    return _servers[record]


def record_of(settings: Settings | None) -> Path | None:
    """Where the shared server for these settings and this code is published (None: no
    private directory to publish it in)."""
    directory = private_directory()
    if directory is None:
        return None
    return directory / f"{RECORD_PREFIX}{fingerprint(tuple(preload(settings)))}.json"


def _idle(settings: Settings | None) -> float:
    return 600.0 if settings is None else settings.worker_server_idle_seconds


def private_directory() -> Path | None:
    """``$TMPDIR/core-UID``, made if missing; None when it is not this user's alone."""
    if not os.path.isdir("/proc/self"):  # a keeper could not tell whether workers still run
        return None
    directory = Path(tempfile.gettempdir()) / f"core-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        _warn_once(
            f"{directory} is not a directory of this user's alone (expected mode 0700, owner "
            f"uid {os.getuid()}): workers start from a server of this process's own; remove "
            "it to share one"
        )
        return None
    return directory


@cache
def _warn_once(message: str) -> None:
    logger.warning("%s", message)


@cache
def fingerprint(modules: tuple[str, ...], roots: tuple[str, ...] = ()) -> str:
    """What a server's imports depend on: the interpreter, the preload list, PYTHONPATH,
    every Python file of CORE (path, size, mtime) and the installed packages' folders."""
    digest = hashlib.sha256(repr((sys.executable, sys.version, modules)).encode())
    digest.update(os.environ.get("PYTHONPATH", "").encode())
    for root in roots or _code_roots():
        for folder, names, files in sorted(os.walk(root)):
            names[:] = [n for n in names if n != "__pycache__"]
            for name in sorted(f for f in files if f.endswith(".py")):
                try:
                    info = os.stat(os.path.join(folder, name))
                except OSError:  # an editor's dangling lock link, a file removed meanwhile
                    continue
                digest.update(f"{folder}/{name}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    for path in sys.path:
        if path.endswith("-packages") and os.path.isdir(path):
            digest.update(f"{path}:{os.stat(path).st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _code_roots() -> tuple[str, ...]:
    import core
    import corebot

    return tuple(str(Path(m.__file__).parent) for m in (core, corebot) if m.__file__)


def _start_keeper(record: Path, modules: list[str], idle: float) -> bool:
    """Start a keeper for this record, in a session of its own; whether it published one.

    Its first process starts the server, publishes the record, forks the keeper and
    exits: waiting for it tells success or failure at once (the keeper is nobody's zombie).
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    # The server imports the CORE that this process runs (a worktree, a checkout run with
    # `python -m`), not whichever one the interpreter would find from "/".
    code = os.path.dirname(_code_roots()[0])
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [code, environment.get("PYTHONPATH", "")])
    )
    command = [sys.executable, "-P", "-m", KEEPER, str(record), repr(idle), *modules]
    log = record.with_suffix(".log")
    with open(log, "ab") as output:
        first = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            cwd="/",
            env=environment,
            start_new_session=True,
        )
    try:
        code = first.wait(KEEPER_START_SECONDS)
    except subprocess.TimeoutExpired:
        first.kill()
        code = first.wait()
    if code == 0:
        return True
    _warn_once(
        f"the shared worker server did not start (its keeper exited {code}; see {log}): "
        "workers start from a server of this process's own"
    )
    return False


_forking = threading.local()  # the shared server a SharedProcess being started asks


class SharedForkServer(forkserver.ForkServer):
    """The standard client of a forkserver, for a server this process did not start.

    Found, not started (``ensure_running``); the keeper keeps it alive, not its
    starters, so the slot of a starter's "alive" pipe gets a harmless descriptor.
    """

    def __init__(self, record: Path, data: dict[str, Any], started_here: bool = False) -> None:
        super().__init__()
        self.record = record
        # Its keeper was started by this process: the server may still be importing.
        self.started_here = started_here
        self.keeper = int(data["keeper"])
        self._forkserver_address = data["address"]
        self._forkserver_alive_fd = _devnull()

    def ensure_running(self) -> None:
        resource_tracker.ensure_running()

    def current(self) -> bool:
        """Whether the record still names this server."""
        data = read_record(self.record)
        return data is not None and int(data["keeper"]) == self.keeper

    def touch(self) -> None:
        """Mark the server used: its keeper ends it only after a time without this."""
        with contextlib.suppress(OSError):  # withdrawn meanwhile: the fork fails, and retries
            os.utime(self.record)


@cache  # one per process, however many servers it meets
def _devnull() -> int:
    return os.open(os.devnull, os.O_WRONLY)


class SharedPopen(popen_forkserver.Popen):
    """``popen_forkserver.Popen`` asking the shared server instead of this process's own."""

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        buf = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, w = _forking.server.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class SharedProcess(context.ForkServerProcess):
    """A child of the shared server."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        return SharedPopen(process_obj)


# --- this process's own server ------------------------------------------------------------


@cache  # registered once per process
def _stop_own_server_at_exit() -> None:
    import atexit

    atexit.register(_stop_own_server)


def _stop_own_server() -> None:
    """At this process's exit: end its own warm server at once.

    Left alone, the server notices the exit and then tears down its own interpreter,
    preloaded modules and all (about 0.4 s), while it still holds this process's
    stdout and stderr; whoever reads them to their end (a pipe in a shell, Airflow's
    task supervisor, a test) waited that long after the run had ended. The server
    keeps nothing worth a clean exit: its workers are processes of their own.
    """
    server = forkserver._forkserver  # the module's own (private) instance
    with server._lock:
        if server._forkserver_pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(server._forkserver_pid, signal.SIGTERM)
        server._stop_unlocked()  # reaps it and removes its socket


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Keep this process's main module out of what a child is prepared with.

    multiprocessing would have the child import this process's main module (the
    `core` script, Airflow's, pytest's); a worker is `corebot run` and nothing else.
    """
    prepared = spawn.get_preparation_data
    spawn.get_preparation_data = partial(_prepared_without_main, prepared)
    try:
        yield
    finally:
        spawn.get_preparation_data = prepared


def _prepared_without_main(prepared: Any, name: str) -> dict[str, Any]:
    data = dict(prepared(name))
    data.pop("init_main_from_path", None)
    data.pop("init_main_from_name", None)
    return data
