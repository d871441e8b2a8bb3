"""Who may change what: every write route of the API, called as each role and as nobody.

The routes are found by walking the application, so a route added later is in the
matrix without anyone listing it: it must declare a role dependency, refuse callers
without credentials (401) and viewers (403), and, for users and tokens, editors too.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.api.app import create_app
from core.database.engine import dispose_engines
from core.models.audit import AuditEvent
from core.settings import load_settings
from tests.unit.api.conftest import PASSWORD
from tests.unit.api.resource_cases import database

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXCLUDED = ("/api/session",)  # signing in and out: for people without a session yet
# Users, tokens and templates (the code a transformation runs) are administrators' to write.
# users, tokens, templates and dataset restores are for admins only
ADMIN_ONLY = re.compile(r"^/api/(users|tokens|templates)\b|/tokens\b|/restore$")
EXISTING_ID = 1  # every table of the sample configuration has a row 1 (users: the viewer)
MISSING_ID = 987654  # so that an allowed call changes nothing


def write_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) of every write under /api, but signing in and out."""
    return [
        (method, route.path, route)
        for route in app.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/api/")
        and not route.path.startswith(EXCLUDED)
        for method in sorted(route.methods & WRITES)
    ]


@functools.cache
def _writes_of_the_app() -> list[Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings({"CORE_HOME": home, "CORE_CONFIG": f"{home}/absent.toml"})
        app = create_app(settings)
        dispose_engines()
    return [pytest.param((m, p), id=f"{m} {p}") for m, p, _ in write_routes(app)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``write`` over the write routes of the app as it is now."""
    if "write" in metafunc.fixturenames:
        metafunc.parametrize("write", _writes_of_the_app())


def roles_required(dependant: Dependant) -> Iterator[str]:
    """The roles a route's dependencies demand (``requires(role)`` names them)."""
    for dependency in dependant.dependencies:
        name = getattr(dependency.call, "__name__", "")
        if name.startswith("requires_"):
            yield name.removeprefix("requires_")
        yield from roles_required(dependency)


def route_of(app: FastAPI, method: str, path: str) -> APIRoute:
    """The app's route for a method and path template."""
    (route,) = [r for m, p, r in write_routes(app) if (m, p) == (method, path)]
    return route


def fill(path: str, value: int) -> str:
    """The path with every parameter set to ``value``."""
    return re.sub(r"\{[^}]+\}", str(value), path)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    """A write with an empty JSON body (bodies are checked after the caller's role)."""
    kwargs: dict[str, Any] = {"headers": headers}
    if method != "DELETE":
        kwargs["json"] = {}
    return client.request(method, path, **kwargs)


def test_the_matrix_covers_every_kind_of_write(app: FastAPI) -> None:
    found = {(m, p) for m, p, _ in write_routes(app)}
    assert ("POST", "/api/companies") in found
    assert ("DELETE", "/api/users/{row_id}") in found
    assert ("POST", "/api/users/{user_id}/tokens") in found
    assert ("DELETE", "/api/tokens/{token_id}") in found
    assert ("PUT", "/api/pipelines/{pipeline_id}/arrangement") in found
    assert len(found) >= 3 * 11 + 3


def test_every_write_declares_a_role_dependency(app: FastAPI, write: Any) -> None:
    method, path = write
    roles = set(roles_required(route_of(app, method, path).dependant))
    assert roles, f"{method} {path} declares no requires(role) dependency"
    expected = {"admin"} if ADMIN_ONLY.search(path) else {"editor", "admin"}
    assert roles <= expected and roles & expected, f"{method} {path} requires {roles}"


def test_every_write_refuses_a_caller_without_credentials(client: TestClient, write: Any) -> None:
    method, path = write
    response = call(client, method, fill(path, EXISTING_ID), {})
    assert response.status_code == 401, f"{method} {path}: {response.status_code}"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_every_write_refuses_a_viewer(
    client: TestClient, viewer: dict[str, str], write: Any
) -> None:
    method, path = write
    response = call(client, method, fill(path, EXISTING_ID), viewer)
    assert response.status_code == 403, f"{method} {path}: {response.status_code}"
    assert "has the role 'viewer'" in response.json()["detail"]


def test_users_and_tokens_refuse_an_editor_and_other_writes_admit_one(
    client: TestClient, users: Any, write: Any
) -> None:
    method, path = write
    refused = call(client, method, fill(path, EXISTING_ID), users["editor"])
    admitted = call(client, method, fill(path, MISSING_ID), users["admin"])
    assert admitted.status_code not in (401, 403), f"admin: {method} {path}"
    if ADMIN_ONLY.search(path):
        assert refused.status_code == 403, f"editor: {method} {path}"
        assert "needs 'admin'" in refused.json()["detail"]
    else:
        editor = call(client, method, fill(path, MISSING_ID), users["editor"])
        assert editor.status_code not in (401, 403), f"editor: {method} {path}"


def test_reads_of_users_and_tokens_refuse_an_editor(
    client: TestClient, editor: dict[str, str], admin: dict[str, str]
) -> None:
    for path in ("/api/users", "/api/users/1", "/api/users/1/tokens"):
        assert client.get(path, headers=editor).status_code == 403, path
        assert client.get(path, headers=admin).status_code == 200, path


def test_a_viewer_reads_everything_else(client: TestClient, viewer: dict[str, str]) -> None:
    for path in ("/api/pipelines", "/api/filters", "/api/companies", "/api/pipelines/1/plan"):
        assert client.get(path, headers=viewer).status_code == 200, path


def test_an_editors_write_is_in_the_audit_trail_under_their_email(
    client: TestClient, editor: dict[str, str]
) -> None:
    created = client.post("/api/segments", json={"name": "Oncology"}, headers=editor).json()
    client.patch(f"/api/segments/{created['id']}", json={"name": "Oncology EU"}, headers=editor)
    client.delete(f"/api/segments/{created['id']}", headers=editor)
    with database(client.app) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.table_name == "segments").order_by(AuditEvent.id)
        ).all()
        trail = [
            (e.action, e.actor, (e.before or {}).get("name"), (e.after or {}).get("name"))
            for e in events
            if (e.after or e.before or {}).get("id") == created["id"]
        ]
    assert trail == [
        ("INSERT", "editor@example.com", None, "Oncology"),
        ("UPDATE", "editor@example.com", "Oncology", "Oncology EU"),
        ("DELETE", "editor@example.com", "Oncology EU", None),
    ]


def test_a_cookie_session_of_a_viewer_is_refused_a_write_even_with_its_csrf_token(
    client: TestClient, viewer: dict[str, str]
) -> None:
    login = client.post("/api/session", json={"email": "viewer@example.com", "password": PASSWORD})
    token = {"X-CSRF-Token": login.json()["csrf_token"]}
    response = client.post("/api/segments", json={"name": "Oncology"}, headers=token)
    assert response.status_code == 403 and "viewer" in response.json()["detail"]
