"""Users and their API tokens (admins): add a user, change a role, deactivate, issue and
revoke tokens — the same service calls as ``/api/users`` and ``core users``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.api.deps import Admin, SessionDep
from core.errors import ConflictError, InvalidInputError
from core.models.administrators import ROLES, Administrator
from core.service import catalog, resources, users
from core.web.forms import Submitted
from core.web.templating import flash, problems_by_field, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/users")
def users_page(request: Request, session: SessionDep, _user: Admin) -> Response:
    """Every user, their role and live tokens, and a form to add one."""
    return _page(request, session, {}, {})


@router.post("/users")
def add(request: Request, session: SessionDep, _user: Admin, form: Submitted) -> Response:
    """Add a user (the password is hashed; it is never shown again)."""
    values = {k: str(form.get(k, "")).strip() for k in ("email_address", "first_name", "role")}
    try:
        row = users.add_user(
            session,
            values["email_address"],
            values["role"],
            str(form.get("password", "")),
            values["first_name"] or None,
        )
    except InvalidInputError as exc:
        return _page(request, session, values, problems_by_field(exc.problems), 422)
    flash(request, f"User {row.email_address} added as {row.role}.")
    return redirect(request, "/users")


@router.post("/users/{user_id}")
def change(
    request: Request, user_id: int, session: SessionDep, me: Admin, form: Submitted
) -> Response:
    """Change a user's role, or deactivate / reactivate them (not yourself)."""
    data: dict[str, Any] = {}
    if form.get("role"):
        data["role"] = str(form.get("role"))
    if form.get("active") in ("true", "false"):
        data["is_active"] = form.get("active") == "true"
    try:
        if user_id == me.id:
            raise ConflictError("you cannot change your own role or deactivate yourself")
        row = resources.update_row(session, catalog.ADMINISTRATORS, user_id, data)
    except (InvalidInputError, ConflictError) as exc:
        flash(request, f"Not changed: {exc}", "error")
        return redirect(request, "/users")
    state = "active" if row.is_active else "deactivated"
    flash(request, f"User {row.email_address}: {row.role}, {state}.")
    return redirect(request, "/users")


@router.get("/users/{user_id}/tokens")
def tokens_page(request: Request, user_id: int, session: SessionDep, _user: Admin) -> Response:
    """A user's API tokens (names, prefixes, dates) and a form to issue one."""
    return _tokens(request, session, user_id, None, {})


@router.post("/users/{user_id}/tokens")
def issue(
    request: Request, user_id: int, session: SessionDep, _user: Admin, form: Submitted
) -> Response:
    """Issue a token and show it once, on this answer only (never stored, never flashed)."""
    read = str(form.get("expires_in_days", "")).strip()
    try:
        if read and not read.isdigit():
            message = f"expected a whole number of days from 1 to 36500, or blank; got {read!r}"
            raise InvalidInputError([("expires_in_days", read, message)])
        days = int(read) if read else None
        issued = users.issue_token(session, user_id, str(form.get("name", "")), days)
    except InvalidInputError as exc:
        return _tokens(request, session, user_id, None, problems_by_field(exc.problems), 422)
    return _tokens(request, session, user_id, issued, {}, 201)


@router.post("/tokens/{token_id}/revoke")
def revoke(request: Request, token_id: int, session: SessionDep, _user: Admin) -> Response:
    """Revoke a token: requests presenting it are refused from now on."""
    row = users.revoke_token(session, token_id)
    flash(request, f"Token {row.name} ({row.prefix}…) revoked.")
    return redirect(request, f"/users/{row.administrator_id}/tokens")


def _page(
    request: Request,
    session: Any,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    context = {"users": users.list_users(session), "roles": ROLES, "values": values}
    context |= {"errors": errors, "fields": ("email_address", "first_name", "role", "password")}
    return render(request, "users/list.html", context, status_code=status)


def _tokens(
    request: Request,
    session: Any,
    user_id: int,
    issued: users.IssuedToken | None,
    errors: dict[str, list[str]],
    status: int = 200,
) -> Response:
    tokens = users.list_tokens(session, user_id)
    person = session.get(Administrator, user_id)
    context = {"person": person, "tokens": tokens, "issued": issued, "errors": errors}
    context["fields"] = ("name", "expires_in_days")
    return render(request, "users/tokens.html", context, status_code=status)
