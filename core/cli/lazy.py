"""Commands imported when they are called, not when ``core`` starts.

``core --version`` and ``core --help`` import none of the commands' modules (and so
neither SQLAlchemy, pyarrow nor Airflow): the root group knows each command by name,
module and one-line help, and imports the module only to run (or show the help of)
that command. A test checks each line of help against the loaded command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:  # Typer's own copy of click: importing the click package too costs 0.1 s
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and what ``core --help`` says about it."""

    module: str
    attribute: str
    help: str

    def load(self, name: str) -> Command:
        """Import the command's module and build its click command under ``name``."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        wrapper = typer.Typer(add_completion=False, rich_markup_mode=None)
        if isinstance(target, typer.Typer):  # as add_typer would have: no completion options
            wrapper.add_typer(target, name=name)
            command = typer.main.get_command(wrapper).commands[name]  # type: ignore[attr-defined]
        else:
            wrapper.command(name)(target)
            command = typer.main.get_command(wrapper)
        command.name = name
        return command


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported on first use.

    Subclasses set ``entries``. While the group formats its own help, ``get_command``
    answers with a summary (name and help) instead of importing the command.
    """

    entries: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False
        self._loaded: set[str] = set()
        for name, entry in self.entries.items():
            self.commands.setdefault(name, TyperCommand(name, help=entry.help))

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        entry = self.entries.get(cmd_name)
        if entry is not None and not self._listing and cmd_name not in self._loaded:
            self.commands[cmd_name] = entry.load(cmd_name)
            self._loaded.add(cmd_name)
        return self.commands.get(cmd_name)
