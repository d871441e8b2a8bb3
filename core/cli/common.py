"""What every ``core`` command shares: settings, sessions and output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # imported where used: the root command loads none of them
    from rich.console import Console

    from core.helpers.session_helper import SessionHelper
    from core.settings import Settings


@dataclass
class State:
    """Per-invocation state: settings are loaded once, on first use."""

    debug: bool = False
    # Started as the console script (``core …``, ``python -m core.cli …``), not called from
    # Python: ``core run`` then runs in a child of the warm worker server (core.runner.served).
    script: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The settings of this invocation."""
        if self._settings is None:
            from core.settings import load_settings

            self._settings = load_settings()
        return self._settings


def state(ctx: typer.Context) -> State:
    """The invocation's State (created by the root callback)."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = State()
    return root.obj


def session_helper(ctx: typer.Context) -> SessionHelper:
    """A SessionHelper for the invocation's settings."""
    from core.helpers.session_helper import SessionHelper

    return SessionHelper(state(ctx).settings)


def console() -> Console:
    """Where commands print tables (wide enough never to wrap names)."""
    from rich.console import Console

    return Console(width=200 if not Console().is_terminal else None, highlight=False)
