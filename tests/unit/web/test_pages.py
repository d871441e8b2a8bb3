"""Every page renders for a viewer; edits are refused to viewers and to forms without CSRF."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings

PAGES = {
    "/pipelines": ["Pipelines", "acme_zentrix_patient_status", "bluepeak_orvida_sales", "inactive"],
    "/pipelines/1": ["acme_zentrix_patient_status", "States and transformations", "<svg"],
    "/runs": ["Runs", "No runs match these filters."],
    "/audit": ["Audit trail", "pipelines", "INSERT"],
}
EDIT_POSTS = [
    ("/pipelines/new", {"name": "x"}),
    ("/pipelines/1/active", {"active": "false"}),
    ("/pipelines/1/runs", {}),
    ("/pipelines/1/states", {"pipeline_state_type_id": "1"}),
    ("/pipelines/1/transformations", {"pipeline_state_id": "1"}),
    ("/pipelines/1/arrange", {}),
    ("/pipelines/1/arrange/preview", {}),
    ("/transformations/1/variables", {}),
    ("/transformations/1/delete", {}),
]
EDIT_PAGES = ["/pipelines/new", "/pipelines/1/arrange", "/transformations/1"]
EDIT_CONTROLS = ["Run now", "Deactivate", "New pipeline", "Add a state", "Edit variables", "Remove"]


@pytest.mark.parametrize("path", sorted(PAGES))
def test_every_page_renders_for_a_viewer(client: TestClient, as_viewer: str, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for text in PAGES[path]:
        assert text in response.text, text
    assert "viewer@example.com" in response.text and "Log out" in response.text


def test_pages_carry_security_headers(client: TestClient, as_viewer: str) -> None:
    headers = client.get("/pipelines").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_htmx_and_the_stylesheet_are_served(client: TestClient) -> None:
    assert client.get("/static/htmx-2.0.11.min.js").status_code == 200
    css = client.get("/static/app.css")
    assert css.status_code == 200 and ".badge-success" in css.text


def test_a_viewer_sees_no_edit_controls(client: TestClient, as_viewer: str) -> None:
    html = client.get("/pipelines").text + client.get("/pipelines/1").text
    for control in EDIT_CONTROLS:
        assert control not in html, control


def test_an_editor_sees_the_edit_controls(client: TestClient, as_editor: str) -> None:
    html = client.get("/pipelines").text + client.get("/pipelines/1").text
    for control in EDIT_CONTROLS:
        assert control in html, control


@pytest.mark.parametrize(("path", "data"), EDIT_POSTS)
def test_a_viewer_gets_403_on_every_edit(
    client: TestClient, as_viewer: str, path: str, data: dict
) -> None:
    response = client.post(path, data={**data, "csrf_token": as_viewer})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert "needs &#39;editor&#39; or above" in response.text


@pytest.mark.parametrize("path", EDIT_PAGES)
def test_a_viewer_gets_403_on_edit_forms(client: TestClient, as_viewer: str, path: str) -> None:
    assert client.get(path).status_code == 403


@pytest.mark.parametrize(("path", "data"), EDIT_POSTS)
def test_an_edit_without_the_csrf_token_is_refused(
    client: TestClient, as_editor: str, path: str, data: dict
) -> None:
    response = client.post(path, data=data)
    assert response.status_code == 403
    assert "CSRF" in response.text
    assert "editor@example.com" in response.text  # the page still says who is signed in


def test_a_wrong_csrf_header_is_refused(client: TestClient, as_editor: str) -> None:
    response = client.post(
        "/pipelines/1/active", data={"active": "false"}, headers={"X-CSRF-Token": "forged"}
    )
    assert response.status_code == 403


def test_the_csrf_header_of_htmx_is_accepted(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    with SessionHelper(settings) as session:
        version = session.get(cfg.Pipeline, 3).version
    response = client.post(
        "/pipelines/3/active",
        data={"active": "true", "version": str(version)},
        headers={"X-CSRF-Token": as_editor, "HX-Request": "true"},
    )
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/pipelines/3"
    with SessionHelper(settings) as session:
        assert session.get(cfg.Pipeline, 3).is_active


def test_the_body_sends_the_csrf_token_with_htmx_requests(
    client: TestClient, as_viewer: str
) -> None:
    assert f'hx-headers=\'{{"X-CSRF-Token": "{as_viewer}"}}\'' in client.get("/runs").text


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/pipelines/999", 404, "no pipeline with id 999"),
        ("/runs/999", 404, "no run with id 999"),
        ("/no/such/page", 404, "Not Found"),
        ("/pipelines/abc", 422, "pipeline_id"),
        ("/audit?table=nope", 422, "is not an audited table"),
    ],
)
def test_errors_are_html_pages(
    client: TestClient, as_viewer: str, path: str, status: int, text: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text and "Back to the pipelines" in response.text


def test_a_refused_htmx_request_shows_its_error_above_the_page(
    client: TestClient, as_editor: str
) -> None:
    response = client.post(
        "/pipelines/1/arrange/preview", headers={"HX-Request": "true", "HX-Target": "plan"}
    )
    assert response.status_code == 403 and "<html" not in response.text
    assert response.headers["HX-Retarget"] == "#htmx-errors" and "CSRF" in response.text
