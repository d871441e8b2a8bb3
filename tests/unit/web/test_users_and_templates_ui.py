"""Users and tokens pages (admins only), and the templates pages (everyone signed in)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models.administrators import Administrator
from core.settings import Settings


def _user_id(settings: Settings, email: str) -> int:
    with SessionHelper(settings) as session:
        return session.scalar(select(Administrator.id).where(Administrator.email_address == email))


def test_an_admin_adds_a_user_and_changes_their_role(
    settings: Settings, client: TestClient, sign_in
) -> None:
    token = sign_in("admin")
    page = client.get("/users")
    assert page.status_code == 200 and 'data-user="viewer@example.com"' in page.text
    refused = client.post(
        "/users",
        data={
            "csrf_token": token,
            "email_address": "not-an-email",
            "role": "editor",
            "password": "x",
        },
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text
    added = client.post(
        "/users",
        data={
            "csrf_token": token,
            "email_address": "cleo@example.com",
            "role": "viewer",
            "password": "a long enough password",
        },
    )
    assert "User cleo@example.com added as viewer." in added.text
    cleo = _user_id(settings, "cleo@example.com")
    changed = client.post(f"/users/{cleo}", data={"csrf_token": token, "role": "editor"})
    assert "User cleo@example.com: editor, active." in changed.text
    gone = client.post(f"/users/{cleo}", data={"csrf_token": token, "active": "false"})
    assert "User cleo@example.com: editor, deactivated." in gone.text
    me = _user_id(settings, "admin@example.com")
    mine = client.post(f"/users/{me}", data={"csrf_token": token, "role": "viewer"})
    assert "Not changed: you cannot change your own role" in mine.text


def test_a_token_is_shown_once_listed_by_prefix_and_revoked(
    settings: Settings, client: TestClient, sign_in
) -> None:
    token = sign_in("admin")
    viewer = _user_id(settings, "viewer@example.com")
    issued = client.post(f"/users/{viewer}/tokens", data={"csrf_token": token, "name": "ci"})
    assert issued.status_code == 201
    plain = re.search(r'id="issued-token">(core_[^<]+)<', issued.text).group(1)
    assert client.get("/api/pipelines", headers={"Authorization": f"Bearer {plain}"}).is_success
    listed = client.get(f"/users/{viewer}/tokens").text
    assert plain not in listed and f"{plain[:12]}…" in listed  # never shown again
    token_id = re.search(r'action="/tokens/(\d+)/revoke"', listed).group(1)
    revoked = client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert "Token ci (" in revoked.text and "revoked" in revoked.text
    assert (
        client.get("/api/pipelines", headers={"Authorization": f"Bearer {plain}"}).status_code
        == 401
    )
    bad = client.post(f"/users/{viewer}/tokens", data={"csrf_token": token, "name": " "})
    assert bad.status_code == 422 and "not a valid token name" in bad.text


def test_users_pages_are_for_admins_only(client: TestClient, as_editor: str) -> None:
    assert client.get("/users").status_code == 403
    assert client.get("/users/1/tokens").status_code == 403
    assert 'href="/users"' not in client.get("/pipelines").text


def test_templates_list_their_variables_and_uses(client: TestClient, as_viewer: str) -> None:
    page = client.get("/templates").text
    row = re.search(r'<tr data-template="column_mapping">(.*?)</tr>', page, re.S).group(1)
    assert "<code>mapping</code>" in row and "(optional)" in row  # keep_unmapped
    assert re.search(r'data-label="used by">2<', row)  # two column_mapping transformations
    template_id = re.search(r'href="/templates/(\d+)">column_mapping<', page).group(1)
    detail = client.get(f"/templates/{template_id}").text
    assert "Used by 2 transformations" in detail and "acme_zentrix_patient_status" in detail
    uses = client.get(f"/api/templates/{template_id}/uses").json()
    assert len(uses) == 2 and {u["state"] for u in uses} == {"ingest"}
    assert client.get("/templates/99999").status_code == 404


def test_a_token_lifetime_that_is_not_a_number_is_refused_by_its_field(
    settings: Settings, client: TestClient, sign_in
) -> None:
    token = sign_in("admin")
    viewer = _user_id(settings, "viewer@example.com")
    refused = client.post(
        f"/users/{viewer}/tokens",
        data={"csrf_token": token, "name": "ci", "expires_in_days": "soon"},
    )
    assert refused.status_code == 422
    assert "expected a whole number of days from 1 to 36500, or blank; got &#39;soon&#39;" in (
        refused.text
    )
