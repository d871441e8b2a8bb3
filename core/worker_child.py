"""The child side of a warm worker: a fork of the worker server becoming ``corebot run``.

``core.worker.start_local`` asks the warm worker server (core.worker_server) for a fresh
child running :func:`run_warm`; ``core.runner.served`` runs a command's work in one the
same way. The child takes its starter's environment, folder and output
(:func:`enter_child`), stops as if sent SIGTERM once its starter has ended, and — when it
was started *held* — prepares its task and waits to be released (:data:`RELEASE`) or
dropped. Nothing here runs in the starter but :class:`InheritedFd`'s pickling.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
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
    argv: list[str], environment: dict[str, str], cwd: str, output: int, gate: int | None
) -> None:
    """In the child: become ``python -m corebot run …`` as a new interpreter would be.

    Args:
        gate: a held worker's end of the pipe it waits on (see :func:`start_local`).
    """
    enter_child(environment, cwd, output, output)
    if gate is not None and not _released(gate):
        os._exit(0)  # dropped: its task never began, and nothing was recorded
    sys.argv = ["corebot", *argv]
    from core.command_line import wind_down
    from corebot.cli import main

    try:
        main(argv)
    finally:
        wind_down()  # multiprocessing children skip what an interpreter's exit does


def _released(gate: int) -> bool:
    """Prepare what the task will use, then wait: whether it was released (not dropped)."""
    from core.transforms.runtime import prepare_worker

    # Not Ctrl-C while held: with a server of the runner's own, a terminal's Ctrl-C
    # reaches it too, and the runner drops it (a traceback in the log of a task that
    # never began would say otherwise). SIGTERM still ends it at once.
    interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        prepare_worker()
        return os.read(gate, len(RELEASE)) == RELEASE
    finally:
        os.close(gate)
        signal.signal(signal.SIGINT, interrupt)


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
