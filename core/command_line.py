"""The edge shared by ``core`` and ``corebot``: run a Typer app, report errors in one line.

Errors that CORE raises on purpose end as one ``FAILED: …`` line on stderr and a
non-zero exit (``--debug`` prints the traceback instead). Kept apart from
``core.cli`` so that the worker entry point imports none of the people's commands.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer

from core.errors import CoreError


def run(command: Any, argv: list[str] | None, prog_name: str) -> int:
    """Run a command, turning CoreError into one FAILED line and an exit code.

    Args:
        command: the command (a Typer app converted by typer.main.get_command).
        argv: the arguments (``sys.argv[1:]`` when None).
        prog_name: the program name for usage lines.

    Returns:
        The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising.
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except CoreError as exc:
        if "--debug" in argv:
            traceback.print_exc()
        typer.echo(f"FAILED: {exc}", err=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: Typer prints them with the usage line
        exc.show()  # type: ignore[attr-defined]
        return exc.exit_code  # type: ignore[attr-defined]
    return code if isinstance(code, int) else 0
