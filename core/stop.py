"""Stopping on request: SIGTERM or SIGINT ends a worker within seconds, even inside native code.

Python runs a signal handler only when the main thread is back in Python code, so a
worker inside a long DuckDB query, a Delta write or a wait on a notebook kernel would
not notice a stop for minutes. :func:`stop_guard` therefore does two things: its
handlers raise :class:`Terminated` in the main thread (the work ends, its failure is
recorded as any other), and the C-level handler's wakeup byte (``signal.set_wakeup_fd``)
wakes a watcher thread at once, which calls what was registered with
:func:`interruptible` (DuckDB's ``interrupt()``, killing a notebook's kernel). When the
work has still not ended ``grace`` seconds later, the watcher records the end itself
(``on_overdue``) and leaves with ``os._exit``: an unfinished Delta write commits
nothing, so the lake stays as it was.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from core.worker import STOPPED_UNRECORDED, ExitCode

logger = logging.getLogger("core.stop")

# Batch, Kubernetes, Airflow and the runner stop a worker with SIGTERM, a person with Ctrl-C.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# What the work gets to end by itself after a stop request; the worker ends within 5 s.
GRACE_SECONDS = 3.0
# What recording the end gets after that; past it the worker exits STOPPED_UNRECORDED and
# whoever started it records the task (the runner, or the next look: core.runs.reap).
RECORD_SECONDS = 1.5

# How soon a stop that landed inside an import is asked again (see _handler).
RETRY_SECONDS = 0.05
IMPORT_MACHINERY = "<frozen importlib"

_interrupts: dict[int, Callable[[], None]] = {}
# The stop signal the current (or last) guarded work was asked to stop by (None: not
# asked): native code that was interrupted reports its own error ("Query interrupted"),
# which the record explains.
_asked: list[str] = []
_keys = itertools.count()
_lock = threading.Lock()


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM or SIGINT)."""


def stop_requested() -> str | None:
    """The signal that asked the current (or last) guarded work to stop, or None."""
    return _asked[0] if _asked else None


@contextmanager
def interruptible(interrupt: Callable[[], None]) -> Iterator[None]:
    """While inside, a stop request calls ``interrupt()`` from the watcher thread.

    Args:
        interrupt: ends the native work the main thread waits for, e.g. a DuckDB
            connection's ``interrupt``; it must be safe to call from another thread.
    """
    key = next(_keys)
    with _lock:
        _interrupts[key] = interrupt
    try:
        yield
    finally:
        with _lock:
            _interrupts.pop(key, None)


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """In the main thread, SIGTERM raises :class:`Terminated` as SIGINT raises KeyboardInterrupt.

    For a process that waits on others (the local runner): it stops them and records
    its end instead of vanishing. Elsewhere it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    asked = threading.Event()
    previous = signal.signal(signal.SIGTERM, _handler(asked))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stop_guard(
    on_overdue: Callable[[str], None] | None = None, grace: float = GRACE_SECONDS
) -> Iterator[None]:
    """Turn SIGTERM and SIGINT into :class:`Terminated`, and make sure they end the process.

    Args:
        on_overdue: called from the watcher thread with a one-line reason when the
            work has not ended ``grace`` seconds after the stop request, just before
            the process exits with code 1 (e.g. to record the task failed).
        grace: seconds the work gets to end by itself.

    Outside the main thread (where no signal arrives) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # A new piece of work: a stop that ended an earlier one (in a process that runs
    # several, e.g. bench/step.py) must not explain this one's failure.
    _asked.clear()
    receiver, sender = socket.socketpair()
    sender.setblocking(False)
    done = threading.Event()
    asked = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(receiver, done, on_overdue, grace),
        name="core-stop-watcher",
        daemon=True,
    )
    # The watcher first: starting a thread waits for it, and a stop landing in that wait
    # raised out of this set-up, where no caller's handler could see it (callers still
    # catch a Terminated raised by the few steps left between the handlers and the yield).
    watcher.start()
    previous: dict[int, Any] = {}
    previous_fd = None
    try:  # what is installed is put back, even when a stop lands half-way through installing
        previous_fd = signal.set_wakeup_fd(sender.fileno(), warn_on_full_buffer=False)
        handler = _handler(asked)
        for signum in STOP_SIGNALS:
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, handler)
        yield
    finally:
        asked.set()  # from here on a stop raises nothing: this clean-up must run to its end
        done.set()
        for signum, old in previous.items():
            signal.signal(signum, old)
        if previous_fd is not None:
            signal.set_wakeup_fd(previous_fd)
        sender.close()  # the watcher reads the end of the stream and returns
        watcher.join(grace + 1)
        receiver.close()


def _handler(asked: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A handler raising Terminated once; inside an import, once the import has ended.

    An exception raised while a native module initialises (a cold worker importing
    DuckDB or pyarrow) can abort the interpreter rather than unwind, leaving no record.
    So a stop that lands inside the import machinery is asked again a moment later,
    until it lands outside it. The watcher's grace still bounds the whole stop.
    """

    def raise_terminated(signum: int, frame: FrameType | None) -> None:
        if asked.is_set():  # a second signal must not break the recording of the first
            return
        if _importing(frame):
            _ask_again(signum, raise_terminated)
            return
        asked.set()
        _asked.append(signal.Signals(signum).name)
        raise Terminated(f"terminated by signal {signal.Signals(signum).name}")

    return raise_terminated


def _importing(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith(IMPORT_MACHINERY):
            return True
        frame = frame.f_back
    return False


def _ask_again(signum: int, handler: Callable[[int, FrameType | None], None]) -> None:
    def resend() -> None:
        if signal.getsignal(signum) is handler:  # not once the guard has been left
            os.kill(os.getpid(), signum)

    timer = threading.Timer(RETRY_SECONDS, resend)
    timer.daemon = True
    timer.start()


def _watch(
    receiver: socket.socket,
    done: threading.Event,
    on_overdue: Callable[[str], None] | None,
    grace: float,
) -> None:
    name = _wait_for_stop(receiver)
    if name is None or done.is_set():
        return
    _asked.append(name)
    with _lock:
        interrupts = list(_interrupts.values())
    for interrupt in interrupts:
        try:
            interrupt()
        except Exception:
            logger.debug("interrupt %r failed", interrupt, exc_info=True)
    if done.wait(grace):
        return
    reason = (
        f"Terminated: stopped by signal {name}; the work did not end within {grace:g} s "
        "of the request, so the worker ended it (a publish it had not committed is discarded)"
    )
    if on_overdue is not None:  # bounded: a locked database must not keep the worker alive
        recorded = threading.Event()
        recorder = threading.Thread(
            target=_record,
            args=(on_overdue, reason, recorded),
            name="core-stop-record",
            daemon=True,
        )
        recorder.start()
        recorder.join(RECORD_SECONDS)
        if not recorded.is_set():  # the task is still "running": say so in the exit code
            os.write(2, f"FAILED: {reason} (not recorded in time)\n".encode())
            os._exit(STOPPED_UNRECORDED)
    os.write(2, f"FAILED: {reason}\n".encode())
    os._exit(ExitCode.FAILED)  # a stopped task may succeed when run again


def _record(on_overdue: Callable[[str], None], reason: str, recorded: threading.Event) -> None:
    try:
        on_overdue(reason)
        recorded.set()
    except BaseException:
        logger.warning("could not record the stop", exc_info=True)


def _wait_for_stop(receiver: socket.socket) -> str | None:
    """The name of the first stop signal received, or None when the guard ended first."""
    wanted = {int(signum) for signum in STOP_SIGNALS}
    while True:
        data = receiver.recv(64)
        if not data:
            return None
        for number in data:
            if number in wanted:
                return signal.Signals(number).name
