"""The audit trail through the API: edits made through the API name their author."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from core.service.audit import audited_tables
from tests.support.locking import patch_latest

Headers = dict[str, str]


def test_an_edit_through_the_api_is_audited_with_the_users_email(
    client: TestClient, editor: Headers, viewer: Headers
) -> None:
    pipeline = client.get("/api/pipelines?q=acme_zentrix", headers=viewer).json()["items"][0]
    patched = patch_latest(
        client, f"/api/pipelines/{pipeline['id']}", {"description": "audited change"}, editor
    )
    assert patched.status_code == 200, patched.text
    page = client.get("/api/audit?table=pipelines", headers=viewer).json()
    newest = page["items"][0]
    assert newest["action"] == "UPDATE" and newest["actor"] == "editor@example.com"
    assert newest["before"]["description"] == pipeline["description"]
    assert newest["after"]["description"] == "audited change"
    assert newest["before"]["id"] == newest["after"]["id"] == pipeline["id"]


def test_events_are_newest_first_and_filtered_by_actor_and_action(
    client: TestClient, editor: Headers, viewer: Headers
) -> None:
    created = client.post("/api/segments", json={"name": "Oncology"}, headers=editor).json()
    client.patch(f"/api/segments/{created['id']}", json={"name": "Oncology2"}, headers=editor)
    client.delete(f"/api/segments/{created['id']}", headers=editor)
    query = "/api/audit?table=segments&actor=editor@example.com"
    page = client.get(query, headers=viewer).json()
    assert page["total"] == 3
    assert [e["action"] for e in page["items"]] == ["DELETE", "UPDATE", "INSERT"]
    assert page["items"][0]["before"]["name"] == "Oncology2" and page["items"][0]["after"] is None
    assert page["items"][2]["before"] is None and page["items"][2]["after"]["name"] == "Oncology"
    updates = client.get(f"{query}&action=update", headers=viewer).json()
    assert [e["action"] for e in updates["items"]] == ["UPDATE"]
    second = client.get(f"{query}&limit=1&offset=1", headers=viewer).json()
    assert second["total"] == 3 and [e["action"] for e in second["items"]] == ["UPDATE"]
    nobody = client.get("/api/audit?actor=nobody@example.com", headers=viewer).json()
    assert nobody == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_an_unknown_table_is_422_with_a_suggestion(client: TestClient, viewer: Headers) -> None:
    response = client.get("/api/audit?table=pipeline", headers=viewer)
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"][-1] == "table" and problem["input"] == "pipeline"
    assert "Did you mean 'pipelines'" in problem["msg"] and "segments" in problem["msg"]


@pytest.mark.parametrize("query", ["action=MERGE", "limit=0", "limit=501", "offset=-1"])
def test_bad_parameters_are_422(client: TestClient, viewer: Headers, query: str) -> None:
    assert client.get(f"/api/audit?{query}", headers=viewer).status_code == 422


def test_the_audit_needs_a_login(client: TestClient) -> None:
    assert client.get("/api/audit").status_code == 401


def test_audited_tables_are_the_configuration_not_the_run_records() -> None:
    tables = audited_tables()
    assert {"pipelines", "transformations", "administrators", "api_tokens"} <= set(tables)
    assert not {"run_events", "task_runs", "events"} & set(tables)


def test_password_and_token_hashes_never_leave_through_the_audit(
    client: TestClient, admin: Headers
) -> None:
    user = client.post(
        "/api/users",
        json={"email_address": "hal@example.com", "password": "a long enough password"},
        headers=admin,
    ).json()
    client.patch(
        f"/api/users/{user['id']}", json={"password": "another long password"}, headers=admin
    )
    client.post(f"/api/users/{user['id']}/tokens", json={"name": "ci"}, headers=admin)
    text = client.get("/api/audit?limit=500", headers=admin).text
    assert "$argon2" not in text and '"(redacted, changed)"' in text
    events = client.get("/api/audit?table=api_tokens", headers=admin).json()["items"]
    assert events and all(e["after"]["token_hash"] == "(redacted)" for e in events)


# transformation 2 (initial_ingest of pipeline 1) with ";" for its delimiter ("|")
SEMICOLON = {
    "variables": {"dataset": "pharmacy_a_status", "prefix": "pharmacy_a", "delimiter": ";"}
}


def test_each_event_has_a_summary_a_link_and_its_pipeline(
    client: TestClient, editor: Headers, viewer: Headers
) -> None:
    path = "/api/transformations/2"
    patched = patch_latest(client, path, SEMICOLON, editor)
    assert patched.status_code == 200, patched.text
    page = client.get(
        "/api/audit?actor=editor@example.com&table=transformation_variables", headers=viewer
    ).json()
    summaries = [e["summary"] for e in page["items"]]
    assert "editor@example.com set delimiter of initial_ingest #2 from `|` to `;`" in summaries
    event = next(e for e in page["items"] if "delimiter" in e["summary"])
    assert event["url"] == "/pipelines/1#transformation-2" and event["pipeline_id"] == 1
    assert event["before"]["value"] == "|" and event["after"]["value"] == ";"  # kept as before


def test_bookkeeping_only_updates_are_left_out_unless_asked_for(
    client: TestClient, editor: Headers, viewer: Headers
) -> None:
    patch_latest(client, "/api/transformations/2", SEMICOLON, editor)
    query = "/api/audit?actor=editor@example.com&table=transformations"
    assert client.get(query, headers=viewer).json()["total"] == 0  # its version, nothing else
    everything = client.get(f"{query}&bookkeeping=true", headers=viewer).json()
    assert everything["total"] == 1 and everything["items"][0]["action"] == "UPDATE"


def test_the_pipeline_and_day_filters(client: TestClient, editor: Headers, viewer: Headers) -> None:
    patch_latest(client, "/api/transformations/2", SEMICOLON, editor)
    own = client.get("/api/audit?pipeline_id=1&limit=500", headers=viewer).json()["items"]
    assert own and {e["pipeline_id"] for e in own} == {1}
    assert {e["table_name"] for e in own} >= {"pipelines", "transformations"}
    others = client.get("/api/audit?pipeline_id=2&limit=500", headers=viewer).json()["items"]
    assert not {e["id"] for e in own} & {e["id"] for e in others}
    today = dt.datetime.now(dt.UTC).date()
    later = today + dt.timedelta(days=1)
    assert client.get(f"/api/audit?since={today}&until={today}", headers=viewer).json()["total"]
    assert client.get(f"/api/audit?since={later}", headers=viewer).json()["total"] == 0
    refused = client.get(f"/api/audit?since={later}&until={today}", headers=viewer)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "until"
    for bad in ("since=2024-02-31", "until=yesterday", "pipeline_id=0"):
        assert client.get(f"/api/audit?{bad}", headers=viewer).status_code == 422, bad
