"""``core users``: the people who may use the configuration application, and their tokens."""

from __future__ import annotations

import secrets
import sys

import typer
from sqlalchemy.orm import Session

from core.cli.common import console, session_helper
from core.errors import NotFoundError
from core.models.administrators import ROLES, Administrator
from core.service import users

app = typer.Typer(help="Add and list users, and issue API tokens.", no_args_is_help=True)


@app.command()
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The user's email address (their login)."),
    role: str = typer.Option("viewer", "--role", help=f"One of {', '.join(ROLES)}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    generate: bool = typer.Option(False, "--generate", help="Generate a password and print it."),
) -> None:
    """Add a user; the password is prompted for (hidden) unless given otherwise."""
    password = _password(password_stdin, generate)
    with session_helper(ctx) as session:
        user = users.add_user(session, email, role, password)
        typer.echo(f"added {user.email_address} ({user.role})")
    if generate:
        typer.echo(f"password: {password}")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the users, their roles and whether they are active."""
    out = console()
    with session_helper(ctx) as session:
        for user in session.query(Administrator).order_by(Administrator.email_address):
            status = "active" if user.is_active else "deactivated"
            out.print(f"{user.email_address:40} {user.role:8} {status}")


@app.command()
def token(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The user the token acts for."),
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. 'ci'."),
    days: int | None = typer.Option(None, "--days", min=1, help="Expire after N days."),
) -> None:
    """Issue an API token for a user; it is printed once and only its hash is kept."""
    with session_helper(ctx) as session:
        issued = users.issue_token(session, _user(session, email).id, name, days)
        typer.echo(issued.token)


def _user(session: Session, email: str) -> Administrator:
    user = session.query(Administrator).filter_by(email_address=email.lower()).one_or_none()
    if user is None:
        raise NotFoundError(f"no user {email!r}; add one with `core users add {email}`")
    return user


def _password(from_stdin: bool, generate: bool) -> str:
    if generate:
        return secrets.token_urlsafe(12)
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)
