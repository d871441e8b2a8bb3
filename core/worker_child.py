"""The child side of a warm worker: a fork of the worker server becoming ``corebot run``.

``core.worker.start_local`` asks the warm worker server (core.worker_server) for a fresh
child running :func:`run_warm`; ``core.runner.served`` runs a command's work in one the
same way. The child takes its starter's environment, folder and output
(:func:`enter_child`), stops as if sent SIGTERM once its starter has ended, and — when it
was started *held* — starts ``corebot run``, pins its task and waits to be released
(:data:`RELEASE`) or dropped (:func:`await_turn`). It says its exit code on a pipe just
before it exits (:func:`say_exit`); the starter reads it with :class:`ChildExit`, the
one part of this module (with :class:`InheritedFd`'s pickling) that runs in the starter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, NoReturn

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
    say_exit(tell, code)


def say_exit(tell: int | None, code: int) -> NoReturn:
    """Say the exit code on ``tell`` (when given), then exit with it at once.

    Called once all is done and flushed: the starter (:class:`ChildExit`) then knows the
    code without waiting for the process's teardown (5-10 ms), and without asking the
    worker server, which may have gone meanwhile.
    """
    code &= 0xFF  # as the process's exit status will have it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the code told is the code it exits with
    # Told, the starter may end before this process does: that is no orphaning.
    _exiting.set()
    if tell is not None:
        with contextlib.suppress(OSError):  # nobody waits any more: the code is its exit's
            os.write(tell, str(code).encode())
    os._exit(code)


class ChildExit:
    """How a warm child ended, as its starter learns it: the code it said, else its end.

    A child of the worker server says its code on a pipe just before it exits
    (:func:`say_exit`). Its process's own end comes through the server, and a server
    that died while the child ran (killed, out of memory) reports 255 for every child it
    had: that is not taken for the child's end while the child still runs — it holds
    the pipe, and says its code when it ends. A child that ends without a word
    (killed) is read from its process's end.

    Args:
        process: the multiprocessing Process of the child.
        told: the read end of the pipe the child says its code on; closed with this object
            (another thread may be waiting on it).
    """

    # How often a wait looks whether a child whose server has gone is still alive.
    ALIVE_CHECK_SECONDS = 1.0

    def __init__(self, process: Any, told: int) -> None:
        self.process = process
        self._told = told
        self._open = True  # nothing said and its end not reached
        self._said: int | None = None
        # The code comes once down each pipe: two threads reading (a wait and a stop)
        # would leave the second with nothing, taken as 255.
        self._reading = threading.Lock()
        os.set_blocking(told, False)  # poll reads it without waiting
        weakref.finalize(self, os.close, told)

    def poll(self) -> int | None:
        """The exit code, or None while the child runs."""
        with self._reading:
            if self._open:
                try:
                    said = os.read(self._told, 16)
                except BlockingIOError:  # nothing said yet: it (or what it forked) holds the pipe
                    pass
                else:
                    self._open, self._said = False, int(said) if said else None
            if self._said is not None:
                return self._said
            ended = self.process.exitcode  # read once: a second reader would get 255
            if ended is not None and self._open and pid_alive(self.process.pid):
                return None  # its server reported its own end, not the child's
            return ended

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the code (at most ``timeout`` seconds); None if the child still runs."""
        from multiprocessing.connection import wait

        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if self._ended() is None:  # the server is there to report its end
                # The pipe only while it may still speak: at its end it is always readable.
                wait([self.process.sentinel, *([self._told] if self._open else [])], left)
            else:  # the server has gone: the pipe says it, or the child is gone unseen
                pause = self.ALIVE_CHECK_SECONDS
                wait([self._told], pause if left is None else min(left, pause))
        return code

    def running(self) -> bool:
        """Whether the child's process is still there (it may have said its code already)."""
        return self._ended() is None or pid_alive(self.process.pid)

    def _ended(self) -> int | None:
        """The end its server reported (255 when the server has gone), if any yet."""
        with self._reading:
            return self.process.exitcode

    def join(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) for the child's process itself to be gone."""
        from multiprocessing.connection import wait

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            if self._ended() is None:
                wait([self.process.sentinel], left)
            else:  # its server has gone: nobody reports its end, so look
                time.sleep(0.01 if left is None else min(left, 0.01))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


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
# Set once the child has said its exit code (say_exit) and is exiting.
_exiting = threading.Event()


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
    if _exiting.is_set():  # it said its code: its starter may well have ended
        return
    os.write(2, f"the process that started this worker ({starter}) has ended: stopping\n".encode())
    os.kill(os.getpid(), signal.SIGTERM)
