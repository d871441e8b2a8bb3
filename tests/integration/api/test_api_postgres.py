"""The REST API on PostgreSQL: the CRUD suite, refusals, versions and the triggers' audit trail.

The unit tests run the API on the embedded SQLite database; uat and prod run it on
PostgreSQL, where the audit trail is written by triggers, text cannot hold NUL
characters, and integers are 32 bits. Each test migrates and seeds a fresh
database of the session's cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.api.app import create_app
from core.database import migrate
from core.database.engine import get_engine
from core.database.seed import load_world, sample_world
from core.helpers.session_helper import make_session
from core.models import configuration as cfg
from core.settings import load_settings
from tests.support.locking import patch_latest
from tests.unit.api.resource_cases import CASES, count, database
from tests.unit.api.resource_cases import load_world as world_of
from tests.unit.api.worlds import add_role_users

pytestmark = pytest.mark.integration

Headers = dict[str, str]


@pytest.fixture
def pg(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, Headers]]]:
    """A client of the app on a migrated, seeded PostgreSQL database; role -> headers."""
    migrate.upgrade(postgres_url)
    with make_session(get_engine(postgres_url), actor="seed") as session:
        load_world(session, sample_world())
        session.commit()
        headers = add_role_users(session)
    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("CORE_ENVIRONMENT", "dev")
    app = create_app(load_settings())
    assert app.state.database_url == postgres_url
    with TestClient(app, base_url="https://testserver") as client:
        yield client, headers


def test_every_resource_is_created_listed_updated_and_deleted_on_postgres(pg: Any) -> None:
    client, users = pg
    world = world_of(client.app)
    for case in CASES:
        headers, path = users[case.role], f"/api/{case.path}"
        body = case.create(world)
        created = client.post(path, json=body, headers=headers)
        assert created.status_code == 201, f"{path}: {created.text}"
        row = created.json()
        assert row["last_actor"] == f"{case.role}@example.com"
        assert client.get(f"{path}/{row['id']}", headers=headers).status_code == 200

        def values(sort: str, path: str = path, field: str = case.sort) -> list[Any]:
            page = client.get(path, params={"sort": sort, "limit": 500}, headers=users["admin"])
            assert page.status_code == 200, page.text
            return [item[field] for item in page.json()["items"]]

        assert values(f"-{case.sort}") == list(reversed(values(case.sort))), path
        if case.filter:
            name, value_of = case.filter
            params = {name: str(value_of(world)).lower()}
            page = client.get(path, params=params, headers=users["admin"]).json()
            assert page["items"] and all(i[name] == value_of(world) for i in page["items"])

        patched = patch_latest(client, f"{path}/{row['id']}", case.patch, headers)
        assert patched.status_code == 200, f"{path}: {patched.text}"
        assert {k: patched.json()[k] for k in case.patch} == case.patch

        before = count(client.app, case.model)
        assert client.delete(f"{path}/{row['id']}", headers=headers).status_code == 204, path
        after = client.get(f"{path}/{row['id']}", headers=users["admin"])
        if case.deactivates:
            assert after.json()["is_active"] is False
        else:
            assert after.status_code == 404 and count(client.app, case.model) == before - 1


def test_a_refused_transformation_leaves_nothing_behind_on_postgres(pg: Any) -> None:
    client, users = pg
    world = world_of(client.app)
    client.get("/api/session", headers=users["editor"])  # the token's first use is audited
    tables = (cfg.Transformation, cfg.TransformationVariable, cfg.AuditEvent)
    before = [count(client.app, table) for table in tables]
    body = {
        "transformation_template_id": world.template["extract_from_landing"],  # a raw template
        "pipeline_state_id": world.state[("acme_zentrix_patient_status", "master")],
        "variables": {"source": "landing/acme_pharma/zentrix", "colour": "blue"},
    }
    response = client.post("/api/transformations", json=body, headers=users["editor"])
    assert response.status_code == 422
    locs = {tuple(p["loc"]) for p in response.json()["detail"]}
    assert locs == {("body", "pipeline_state_id"), ("body", "variables", "colour")}
    assert [count(client.app, table) for table in tables] == before


def test_a_stale_version_is_a_409_on_postgres(pg: Any) -> None:
    client, users = pg
    pipeline = world_of(client.app).pipeline["bluepeak_orvida_sales"]
    path = f"/api/pipelines/{pipeline}"
    version = client.get(path, headers=users["viewer"]).json()["version"]
    first = client.patch(
        path, json={"description": "a", "version": version}, headers=users["editor"]
    )
    assert first.json()["version"] == version + 1
    stale = client.patch(
        path, json={"description": "b", "version": version}, headers=users["admin"]
    )
    assert stale.status_code == 409
    assert client.get(path, headers=users["viewer"]).json()["description"] == "a"


def test_the_triggers_audit_trail_names_the_users_email(pg: Any) -> None:
    client, users = pg
    created = client.post("/api/segments", json={"name": "Oncology"}, headers=users["editor"])
    segment = created.json()["id"]
    client.patch(f"/api/segments/{segment}", json={"name": "Oncology EU"}, headers=users["admin"])
    client.delete(f"/api/segments/{segment}", headers=users["editor"])
    with database(client.app) as session:
        events = session.scalars(
            select(cfg.AuditEvent)
            .where(cfg.AuditEvent.table_name == "segments")
            .order_by(cfg.AuditEvent.id)
        ).all()
        trail = [
            (e.action, e.actor, (e.before or {}).get("name"), (e.after or {}).get("name"))
            for e in events
            if (e.after or e.before or {}).get("id") == segment
        ]
    assert trail == [
        ("INSERT", "editor@example.com", None, "Oncology"),
        ("UPDATE", "admin@example.com", "Oncology", "Oncology EU"),
        ("DELETE", "editor@example.com", "Oncology EU", None),
    ]


def test_deleting_a_row_others_refer_to_is_a_409_on_postgres(pg: Any) -> None:
    client, users = pg
    company = world_of(client.app).company["acme_pharma"]
    response = client.delete(f"/api/companies/{company}", headers=users["admin"])
    assert response.status_code == 409 and "of brands" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/api/segments", {"json": {"name": "Onco\x00logy"}}),
        ("POST", "/api/templates", {"json": {"name": "t", "description": "a\x00"}}),
        ("POST", "/api/templates", {"json": {"name": "t", "variable_structures": {"\x00": {}}}}),
        ("POST", "/api/session", {"json": {"email": "a\x00@b.c", "password": "x"}}),
        ("GET", "/api/pipelines", {"params": {"q": "a\x00b"}}),
        ("GET", "/api/pipelines", {"params": {"company": "\x00"}}),
        ("GET", "/api/companies", {"params": {"q": "\x00"}}),
        ("GET", "/api/templates", {"params": {"kind": "\x00"}}),
        ("GET", "/api/brands", {"params": {"pharmaceutical_company_id": "one"}}),
        ("GET", "/api/brands", {"params": {"pharmaceutical_company_id": str(2**40)}}),
        ("GET", f"/api/pipelines/{2**40}", {}),
        ("POST", "/api/brands", {"json": {"name": "b", "pharmaceutical_company_id": 2**40}}),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith(("/", "G", "P")) else "",
)
def test_values_postgres_cannot_store_or_compare_are_refused_not_server_errors(
    pg: Any, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    client, users = pg
    response = client.request(method, path, headers=users["admin"], **kwargs)
    assert response.status_code in (401, 404, 422), response.text
