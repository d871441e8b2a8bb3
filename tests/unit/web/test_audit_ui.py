"""The audit page: who changed what and when, only the changed columns, filters, paging."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from core.service.audit import redact
from core.web.routes.audit import changes


def _change_editor_pipeline(client: TestClient, token: str) -> None:
    html = client.get("/pipelines/1").text
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    data = {"csrf_token": token, "active": "false", "version": version}
    assert client.post("/pipelines/1/active", data=data).status_code == 200


def test_a_change_shows_who_and_only_the_changed_columns(
    client: TestClient, as_editor: str
) -> None:
    _change_editor_pipeline(client, as_editor)
    html = client.get("/audit?table=pipelines&actor=editor@example.com").text
    rows = re.findall(r'<tr data-event="\d+">.*?</table>\s*</td>', html, re.S)
    assert len(rows) == 1
    row = rows[0]
    assert "editor@example.com" in row and "UPDATE" in row and "<code>pipelines</code>" in row
    changed = re.findall(r'<tr class="changed"><td><code>([a-z_]+)</code></td>', row)
    assert "is_active" in changed and "last_actor" in changed
    assert "name" not in changed and "description" not in changed
    assert "<td>True</td><td>False</td>" in row


def test_the_filters_narrow_the_events(client: TestClient, as_editor: str) -> None:
    _change_editor_pipeline(client, as_editor)
    assert 'data-event="' not in client.get("/audit?actor=nobody@example.com").text
    inserts = client.get("/audit?action=INSERT&table=brands").text
    assert inserts.count('data-event="') == 2 and "UPDATE</span>" not in inserts
    assert '<option value="pipelines" selected>' in client.get("/audit?table=pipelines").text


def test_the_audit_pages(client: TestClient, as_viewer: str) -> None:
    first = client.get("/audit").text
    assert first.count('data-event="') == 50 and 'rel="next"' in first
    assert 'rel="prev"' in client.get("/audit?offset=50").text


def test_changes_of_inserts_updates_and_deletes() -> None:
    assert [c.key for c in changes("INSERT", None, {"a": 1, "b": None})] == ["a", "b"]
    assert [c.key for c in changes("DELETE", {"a": 1}, None)] == ["a"]
    updated = changes("UPDATE", {"a": 1, "b": 2}, {"a": 1, "b": 3})
    assert [(c.key, c.before, c.after) for c in updated] == [("b", 2, 3)]


def test_hashes_are_never_shown_but_a_change_of_one_is() -> None:
    before, after = redact({"hashed_password": "$argon2id$x"}, {"hashed_password": "$y"})
    shown = changes("UPDATE", before, after)
    assert [(c.before, c.after) for c in shown] == [("(redacted)", "(redacted, changed)")]
    assert redact(None, {"token_hash": "ab", "name": "ci"}) == (
        None,
        {"token_hash": "(redacted)", "name": "ci"},
    )
