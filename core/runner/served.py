"""A command's work in a child of the warm worker server, as if the command did it itself.

``core run`` as a person types it spent 0.5-0.9 s before its first task importing
SQLAlchemy, the models, the plan and DuckDB and preparing their first use: all of it
done already in the shared worker server (core.worker_server), which has them loaded.
So the console script, once it has parsed its options, asks that server for a fresh
child and runs the run there, as the run's workers are run:

- the child writes to the command's own stdout and stderr (line by line), and its exit
  code is the command's (128 + N when signal N ended it);
- the signals the command gets (Ctrl-C, SIGTERM from a service manager) are passed on to
  the child, which handles them as the command did; a closing terminal's SIGHUP is
  passed on as SIGTERM, so the run stops and records its end;
- a command killed outright (SIGKILL) leaves the child without its starter: it stops as
  SIGTERM would stop it (``core.worker_child.enter_child``), ending the run failed.

The run's process (the one a cancel signals and ``core runs`` names) is then that child.
It says its exit code on a pipe of its own before it exits (core.worker_child.ChildExit):
should the server die meanwhile (out of memory, a ``pkill``), the run goes on and the
command still ends with its code.
With no shared server running (``CORE_WORKER_SERVER=per-process``, none can be used, or
the command has just started one, whose imports its own then overlap) the caller does
the work itself, as before.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from core.settings import Settings

# How long the command waits, once the run's process has said its code, for that process
# to be gone (it frees its memory in 5-10 ms).
JOIN_SECONDS = 30.0
# What a person, a service manager or a closing terminal sends a command to stop it, and
# what the child gets: a hang-up stops the run as SIGTERM does (the run's process has no
# handler for it, and would die without recording the run's end).
PASSED_ON = {
    signal.SIGINT: signal.SIGINT,
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGHUP: signal.SIGTERM,
}


def run_served(
    target: Callable[..., int], args: tuple[Any, ...], name: str, settings: Settings
) -> int | None:
    """Run ``target(*args)`` in a fresh child of the shared worker server and wait for it.

    Args:
        target: a module-level function (it is pickled by name) returning the exit code.
        args: its arguments (pickled).
        name: the child's process name.
        settings: the command's settings; the child gets them as its environment.

    Returns:
        The child's exit code, or None when no shared server can be used (nothing ran).

    Raises:
        OSError: the child could not be started.
    """
    from core.worker import worker_environment
    from core.worker_child import ChildExit, InheritedFd
    from core.worker_server import start_shared_child

    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # what the command printed comes before what the child prints
    environment = worker_environment(settings)
    streams = [(stream.encoding, stream.errors) for stream in (sys.stdout, sys.stderr)]
    # The child says its exit code down this pipe: the command takes it from the child
    # itself, not only from the server (which may die while the run goes on).
    told, teller = os.pipe()
    output = (InheritedFd(1), InheritedFd(2), *streams)
    payload = (target, args, environment, os.getcwd(), output, InheritedFd(teller))
    # The handlers first: a signal that comes while the child starts is kept, then passed on.
    pending: list[int] = []
    child: Any = None

    def on_signal(got: int, _frame: Any) -> None:
        if child is None:
            pending.append(got)
        else:
            _pass_on(child.pid, PASSED_ON[got])

    handlers = {signum: signal.signal(signum, on_signal) for signum in PASSED_ON}
    try:
        try:
            child = start_shared_child(_child, payload, name, settings)
        except BaseException:
            os.close(told)
            raise
        finally:
            os.close(teller)  # the child has its own copy
        if child is None:
            os.close(told)
        else:
            for got in pending:
                _pass_on(child.pid, PASSED_ON[got])
            ended = ChildExit(child, told)
            code = ended.wait()  # a signal's handler runs, then the wait goes on
            # Its process too, as a command's own would be gone when it returns (bounded:
            # with its server gone, nobody reports that end, and it is looked for).
            ended.join(JOIN_SECONDS)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    if child is None:
        for got in pending:  # asked to stop before anything ran: as the signal would have
            signal.raise_signal(got)
        return None
    assert code is not None  # waited without a time limit
    return code if code >= 0 else 128 - code


def _pass_on(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(pid, signum)


def _child(
    target: Callable[..., int],
    args: tuple[Any, ...],
    environment: dict[str, str],
    cwd: str,
    output: tuple[int, int, tuple[str, str], tuple[str, str]],
    tell: int,
) -> None:
    """In the server's child: become the command's process, run the work, exit with its code.

    Args:
        output: the command's stdout and stderr (this child's copies), and the encoding
            and error handler of each.
        tell: where to say the exit code (core.worker_child.say_exit).
    """
    from core.command_line import wind_down
    from core.worker_child import enter_child, say_exit

    stdout, stderr, out_stream, err_stream = output
    enter_child(environment, cwd, stdout, stderr)
    # The server's own streams were made for its output: these are the command's, line by
    # line as a terminal shows them.
    sys.stdout, sys.stderr = _stream(1, *out_stream), _stream(2, *err_stream)
    try:
        code = target(*args)
    except KeyboardInterrupt:  # Ctrl-C, passed on: the run has ended; the command says no more
        code = 128 + signal.SIGINT
    finally:
        wind_down()  # multiprocessing children skip what an interpreter's exit does
    say_exit(tell, code)


def _stream(fd: int, encoding: str, errors: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), encoding=encoding, errors=errors, line_buffering=True
    )
