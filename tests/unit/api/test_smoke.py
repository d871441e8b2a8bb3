"""The application starts on the sample configuration and answers with each credential."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.api.conftest import PASSWORD


def test_healthz_needs_no_login(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_a_token_reads_the_pipeline_list(client: TestClient, viewer: dict[str, str]) -> None:
    page = client.get("/api/pipelines", headers=viewer).json()
    assert page["total"] == 3
    assert {p["name"] for p in page["items"]} >= {"acme_zentrix_patient_status"}


def test_no_credentials_is_401(client: TestClient) -> None:
    response = client.get("/api/pipelines")
    assert response.status_code == 401
    assert "log in at /login" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_cookie_session_changes_things_only_with_its_csrf_token(
    client: TestClient, editor: dict[str, str]
) -> None:
    login = client.post("/api/session", json={"email": "editor@example.com", "password": PASSWORD})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    refused = client.post("/api/segments", json={"name": "Oncology"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    token = {"X-CSRF-Token": login.json()["csrf_token"]}
    created = client.post("/api/segments", json={"name": "Oncology"}, headers=token)
    assert created.status_code == 201
    assert created.json()["last_actor"] == "editor@example.com"
