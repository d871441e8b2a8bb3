"""The child side of a warm worker: a fork of the worker server becoming ``corebot run``.

``core.worker.start_local`` asks the warm worker server (core.worker_server) for a fresh
child running :func:`run_warm`; ``core.runner.served`` runs a command's work in one the
same way. The child takes its starter's environment, folder and output
(:func:`enter_child`), stops as if sent SIGTERM once its starter has ended, and — when it
was started *held* — starts ``corebot run``, pins its task and waits to be released
(:data:`RELEASE`) or dropped (:func:`await_turn`). Nothing here runs in the starter but
:class:`InheritedFd`'s pickling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

# What a held worker reads on its gate to begin its task (its end alone drops it).
RELEASE = b"go"


class InheritedFd:
    """A file descriptor handed to a forkserver child (pickled as a duplicate of it)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        from multiprocessing import reduction

        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(duplicate: Any) -> int:
    return int(duplicate.detach())


def run_warm(
    argv: list[str],
    environment: dict[str, str],
    cwd: str,
    output: int,
    gate: int | None,
    tell: int | None = None,
) -> None:
    """In the child: become ``python -m corebot run …`` as a new interpreter would be.

    Args:
        gate: a held worker's end of the pipe it waits on (see :func:`start_local`): its
            task is started and pinned, then waits in :func:`await_turn` until released.
        tell: where to say the exit code once all is done and flushed, just before the
            process exits (its teardown, 5-10 ms, is then nobody's wait).
    """
    enter_child(environment, cwd, output, output)
    if gate is not None:
        _hold(gate)
    sys.argv = ["corebot", *argv]
    from core.command_line import wind_down
    from corebot.cli import main

    try:
        main(argv)
        code = 0
    except SystemExit as exc:  # what multiprocessing would make of it, said first
        code = _exit_code(exc)
    finally:
        wind_down()  # multiprocessing children skip what an interpreter's exit does
    code &= 0xFF  # as the process's exit status will have it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the code told is the code it exits with
    if tell is not None:
        with contextlib.suppress(OSError):  # nobody waits any more: the code is its exit's
            os.write(tell, str(code).encode())
    os._exit(code)


def _exit_code(exc: SystemExit) -> int:
    """The exit code of a SystemExit, as the interpreter (and multiprocessing) makes it."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


# A held worker's end of its gate, until its task's turn comes (await_turn).
_gate: int | None = None


def _hold(gate: int) -> None:
    global _gate
    _gate = gate
    # Not Ctrl-C while held: with a server of the runner's own, a terminal's Ctrl-C
    # reaches it too, and the runner drops it (a traceback in the log of a task that
    # never began would say otherwise). SIGTERM still ends it at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def await_turn(prepare: Callable[[], None]) -> None:
    """Wait here for the task's turn when this worker was started held; return at once if not.

    ``corebot run`` calls it once its task is pinned and before anything is recorded, so a
    released worker goes straight to recording its start. A dropped worker (its gate
    closed without :data:`RELEASE`) exits here without a word: its task never began.

    Args:
        prepare: what to open while waiting (core.transforms.runtime.prepare_worker).
    """
    global _gate
    gate, _gate = _gate, None
    if gate is None:
        return
    try:
        prepare()
        released = os.read(gate, len(RELEASE)) == RELEASE
    finally:
        os.close(gate)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not released:
        os._exit(0)


def enter_child(environment: dict[str, str], cwd: str, stdout: int, stderr: int) -> None:
    """In a warm server's child: take the starter's environment, folder and output.

    As a new interpreter started by the starter would have them: its environment, its
    working folder (then PYTHONPATH) first on ``sys.path``, the default handlers of
    SIGTERM and SIGINT; and it stops once its starter has ended (``_stop_when_orphaned``).
    The descriptors are the child's own copies: they become its fds 1 and 2 and are closed.
    """
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in {stdout, stderr} - {1, 2}:
        os.close(fd)
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    # As `python -m` would have it: the working directory, then PYTHONPATH, first.
    paths = [cwd, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    sys.path[:0] = [path for path in paths if path not in sys.path]
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a fresh interpreter has them
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _stop_when_orphaned()


def _stop_when_orphaned() -> None:
    """Stop this worker, as SIGTERM would, once the process that started it has ended.

    Nobody would wait for it any more, nor run what comes after its task. A process
    that started workers and was killed (SIGKILL, its terminal closed) cannot stop them
    itself, and the workers of a shared server are not in its process group, so a
    signal to that group does not reach them. multiprocessing gives each child a
    sentinel of its starter (the write end of the pipe its start came down, which the
    starter holds until it drops the worker): it becomes readable when the starter ends.
    """
    import multiprocessing

    starter = multiprocessing.parent_process()
    if starter is None:
        return
    watcher = threading.Thread(
        target=_await_orphaned,
        args=(starter.sentinel, starter.pid),
        name="core-orphan-watcher",
        daemon=True,
    )
    watcher.start()


def _await_orphaned(sentinel: int, starter: int | None) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    os.write(2, f"the process that started this worker ({starter}) has ended: stopping\n".encode())
    os.kill(os.getpid(), signal.SIGTERM)
