"""The edge shared by ``core`` and ``corebot``: run a Typer app, report errors in one line.

Errors that CORE raises on purpose end as one ``FAILED: …`` line on stderr and a
non-zero exit (``--debug`` prints the traceback instead). Kept apart from
``core.cli`` so that the worker entry point imports none of the people's commands.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import traceback
from typing import Any, NoReturn

import typer

from core.errors import CoreError


def run(command: Any, argv: list[str] | None, prog_name: str, obj: Any = None) -> int:
    """Run a command, turning CoreError into one FAILED line and an exit code.

    Args:
        command: the command (a Typer app converted by typer.main.get_command).
        argv: the arguments (``sys.argv[1:]`` when None).
        prog_name: the program name for usage lines.
        obj: the root context's object before the root callback sees it.

    Returns:
        The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising.
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False, obj=obj)
    except CoreError as exc:
        return failed(exc, "--debug" in argv)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: Typer prints them with the usage line
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code  # type: ignore[attr-defined]
    return code if isinstance(code, int) else 0


def failed(exc: CoreError, debug: bool) -> int:
    """Report an error CORE raised on purpose: one FAILED line (the traceback with --debug).

    Returns:
        The error's exit code.
    """
    if debug:
        traceback.print_exc()
    typer.echo(f"FAILED: {exc}", err=True)
    return exc.exit_code


def exit_script(code: int) -> NoReturn:
    """End a console script with ``code`` now, as the interpreter would, less its teardown.

    After ``core run`` had printed its summary, the interpreter spent 0.1-0.3 s freeing
    the modules a command loads (SQLAlchemy, pydantic, DuckDB with its threads), which
    leaves nothing behind that anyone reads. What an exit must do still happens
    (:func:`wind_down`). Only for a process that the script itself started: Python code
    that calls ``main(argv)`` (tests, a warm worker) exits as usual.
    """
    if not wind_down():
        code = code or 120  # a closed pipe (`core … | head`): as Python ends then
    os._exit(code)


def wind_down() -> bool:
    """What an interpreter's exit does before it frees its modules, in its order.

    Threads that are not daemons are waited for (and what ``concurrent.futures``
    registered for its workers), the atexit handlers run (logging is flushed and closed,
    temporary folders removed, a worker server of this process stopped), and stdout and
    stderr are flushed. Returns whether the flush succeeded.
    """
    shutdown = getattr(threading, "_shutdown", None)  # what Py_Finalize does first
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    flushed = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream
            flushed = False
    return flushed
