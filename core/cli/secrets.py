"""``core secrets``: read, write and list secrets (values masked unless asked for)."""

from __future__ import annotations

import json
from typing import Any

import typer

from core.cli.common import state
from core.errors import SecretError
from core.secret import Secret, list_identifiers, set_secret

app = typer.Typer(
    help="Read, write and list secrets (values are masked unless --show).", no_args_is_help=True
)

MASK = "********"


@app.command()
def get(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="The whole identifier, e.g. dev/FTP/x/read."),
    show: bool = typer.Option(False, "--show", help="Print the values instead of masks."),
) -> None:
    """Print the keys of the secret IDENTIFIER, values masked unless --show."""
    secret = Secret(identifier=identifier, settings=state(ctx).settings)
    for key, value in sorted(secret.to_dict().items()):
        typer.echo(f"{key}: {_render(value) if show else MASK}")


@app.command("set")
def set_(
    ctx: typer.Context,
    identifier: str = typer.Argument(..., help="The whole identifier, e.g. dev/FTP/x/read."),
    pairs: list[str] = typer.Argument(
        ..., metavar="KEY=VALUE...", help="Keys to set; a bare KEY is prompted for, hidden."
    ),
) -> None:
    """Merge KEY=VALUE pairs into the secret IDENTIFIER (local backend only)."""
    values = dict(_parse_pair(pair) for pair in pairs)
    missing = set_secret(identifier, values, settings=state(ctx).settings)
    typer.echo(f"stored {identifier}: set {', '.join(sorted(values))}")
    if missing:
        typer.echo(f"note: {identifier} still lacks {', '.join(missing)}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the identifiers the secrets backend holds (never values)."""
    settings = state(ctx).settings
    identifiers = list_identifiers(settings)
    for identifier in identifiers:
        typer.echo(identifier)
    if not identifiers:
        typer.echo(f"no secrets in the {settings.secrets_backend} backend", err=True)


def _parse_pair(pair: str) -> tuple[str, str]:
    key, separator, value = pair.partition("=")
    key = key.strip()
    if not key:
        # The argument itself is not quoted: its value may be a password.
        raise SecretError("expected KEY=VALUE, got an argument with nothing before '='")
    if not separator:
        # Prompted, so that a password stays out of the shell history and process list.
        value = typer.prompt(key, hide_input=True)
    return key, value


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
