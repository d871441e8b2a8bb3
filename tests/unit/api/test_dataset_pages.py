"""A pipeline's datasets, a dataset's versions and rows, and restoring a version, by API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.api.app import create_app
from core.helpers.session_helper import SessionHelper
from core.models.audit import AuditEvent
from core.models.dataset_restores import DatasetRestore
from core.settings import Settings
from tests.support.cli import core
from tests.unit.api.worlds import pipeline_id, users_for

Headers = dict[str, dict[str, str]]
DOUBLED = "acme/zentrix/master/doubled"


@pytest.fixture
def ran(world: Settings) -> Settings:
    """small run twice: numbers and doubled each have two runs' rows (5 each)."""
    assert core("run", "small") == 0
    assert core("run", "small") == 0
    return world


@pytest.fixture
def client(world: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(world), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def users(world: Settings) -> Headers:
    return users_for(world)


def test_a_pipeline_lists_its_datasets_with_versions_rows_and_types(
    ran: Settings, client: TestClient, users: Headers
) -> None:
    listed = client.get(
        f"/api/pipelines/{pipeline_id(ran, 'small')}/datasets", headers=users["viewer"]
    )
    assert listed.status_code == 200
    numbers, doubled = listed.json()
    assert numbers["key"] == "acme/zentrix/ingest/numbers" and doubled["key"] == DOUBLED
    assert doubled["published"] and doubled["rows"] == 10 and doubled["run_ids"] == [1, 2]
    assert doubled["uri"].endswith("/dev/acme/zentrix/master/doubled")
    assert {"name": "n", "type": "int64"} in doubled["columns"]
    assert client.get("/api/pipelines/999/datasets", headers=users["viewer"]).status_code == 404


def test_a_dataset_shows_its_versions_and_pages_its_rows(
    ran: Settings, client: TestClient, users: Headers
) -> None:
    viewer = users["viewer"]
    detail = client.get(f"/api/datasets/{DOUBLED}", headers=viewer).json()
    assert [(v["version"], v["run_id"], v["rows"]) for v in detail["versions"]] == [
        (1, 2, 5),
        (0, 1, 5),
    ]
    first = client.get(f"/api/datasets/{DOUBLED}/rows", params={"limit": 4}, headers=viewer).json()
    assert first["total"] == 10 and len(first["rows"]) == 4 and first["version"] == 1
    assert {"name": "n", "type": "int64"} in first["columns"]
    rest = client.get(
        f"/api/datasets/{DOUBLED}/rows", params={"offset": 8, "limit": 4}, headers=viewer
    ).json()
    assert len(rest["rows"]) == 2  # rows 9 and 10
    old = client.get(f"/api/datasets/{DOUBLED}/rows", params={"version": 0}, headers=viewer)
    assert old.json()["total"] == 5
    beyond = client.get(f"/api/datasets/{DOUBLED}/rows", params={"version": 9}, headers=viewer)
    assert beyond.status_code == 422 and "has versions 0 to 1" in beyond.text
    unknown = client.get("/api/datasets/acme/zentrix/master/doubld", headers=viewer)
    assert unknown.status_code == 404 and "did you mean" in unknown.text.lower()


def test_an_admin_restores_a_version_with_a_reason_and_the_audit_keeps_it(
    ran: Settings, client: TestClient, users: Headers
) -> None:
    url = f"/api/datasets/{DOUBLED}/restore"
    body = {"version": 0, "reason": "run 2 doubled twice"}
    assert client.post(url, json=body, headers=users["editor"]).status_code == 403
    no_reason = client.post(url, json={"version": 0, "reason": " "}, headers=users["admin"])
    assert no_reason.status_code == 422 and "say why" in no_reason.text
    current = client.post(url, json={"version": 1, "reason": "x"}, headers=users["admin"])
    assert current.status_code == 422 and "expected an earlier version" in current.text
    done = client.post(url, json=body, headers=users["admin"])
    assert done.status_code == 200, done.text
    assert done.json()["version"] == 0 and done.json()["new_version"] == 2
    after = client.get(f"/api/datasets/{DOUBLED}", headers=users["viewer"]).json()
    assert after["summary"]["rows"] == 5 and after["summary"]["run_ids"] == [1]
    assert after["versions"][0]["operation"] == "RESTORE"
    assert after["restores"][0]["restored_by"] == "admin@example.com"
    with SessionHelper(ran) as session:
        row = session.scalars(select(DatasetRestore)).one()
        assert row.reason == "run 2 doubled twice" and row.path.endswith("master/doubled")
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.table_name == "dataset_restores")
        ).all()
        assert [e.actor for e in audited] == ["admin@example.com"]
