"""Calling the ``core`` command in-process, as a person would from a shell."""

from __future__ import annotations

import typer

from core.cli import app, run


def core(*argv: str) -> int:
    """Run ``core ARGV`` in this process.

    Returns:
        The exit code.
    """
    return run(typer.main.get_command(app), list(argv), "core")
