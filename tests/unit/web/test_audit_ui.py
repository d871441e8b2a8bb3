"""The audit pages: each change in words and linked, bookkeeping hidden, filters, paging,
and a pipeline's own changes."""

from __future__ import annotations

import datetime as dt
import html as markup
import re

from fastapi.testclient import TestClient

from core.service.audit import redact
from core.service.audit_entries import changes


def _sentences(html: str) -> list[str]:
    """The sentences of a page, as text."""
    found = re.findall(r'<p class="sentence">(.*?)</p>', html, re.S)
    return [markup.unescape(re.sub(r"<[^>]+>", "", s)) for s in found]


def _deactivate_pipeline_1(client: TestClient, token: str) -> None:
    html = client.get("/pipelines/1").text
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    data = {"csrf_token": token, "active": "false", "version": version}
    assert client.post("/pipelines/1/active", data=data).status_code == 200


def _set_delimiter(client: TestClient, token: str, delimiter: str) -> None:
    """Save transformation 2 (initial_ingest of pipeline 1) with a new delimiter."""
    form = client.get("/transformations/2").text
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    data = {
        "csrf_token": token,
        "version": version,
        "variables.dataset": "pharmacy_a_status",
        "variables.prefix": "pharmacy_a",
        "variables.delimiter": delimiter,
    }
    assert client.post("/transformations/2/variables", data=data).status_code == 200


def test_a_change_is_one_sentence_linked_to_its_pipeline(
    client: TestClient, as_editor: str
) -> None:
    _deactivate_pipeline_1(client, as_editor)
    html = client.get("/audit?table=pipelines&actor=editor@example.com").text
    assert html.count('data-event="') == 1
    name = re.search(r'<option value="1">([^<]+)</option>', html).group(1)
    assert _sentences(html) == [f"editor@example.com deactivated pipeline {name}"]
    assert '<a class="object" href="/pipelines/1">' in html
    assert 'href="/audit?actor=editor%40example.com"' in html
    # only the column that matters; bookkeeping (updated_at, last_actor, version) hidden
    changed = re.findall(r'<tr class="changed"><td><code>([a-z_]+)</code></td>', html)
    assert changed == ["is_active"]
    assert "<td>True</td><td>False</td>" in html
    # the time stays on one line, in its own cell
    assert re.search(
        r'<td class="when"><time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time></td>',
        html,
    )


def test_a_variable_change_reads_as_a_sentence(client: TestClient, as_editor: str) -> None:
    _set_delimiter(client, as_editor, ";")
    html = client.get("/audit?actor=editor@example.com&table=transformation_variables").text
    assert "editor@example.com set delimiter of initial_ingest #2 from | to ;" in _sentences(html)
    # the transformation's own row changed its version only: bookkeeping, not shown
    everything = client.get("/audit?actor=editor@example.com").text
    assert 'data-table="transformations"' not in everything
    assert "<code>|</code> to <code>;</code>" in html
    assert '<a class="object" href="/pipelines/1#transformation-2">delimiter</a>' in html
    assert '<td class="pipeline"><a href="/audit?pipeline_id=1">' in html


def test_the_filters_narrow_the_events(client: TestClient, as_editor: str) -> None:
    _deactivate_pipeline_1(client, as_editor)
    assert 'data-event="' not in client.get("/audit?actor=nobody@example.com").text
    inserts = client.get("/audit?action=INSERT&table=brands").text
    assert inserts.count('data-event="') == 2 and 'data-action="UPDATE"' not in inserts
    assert '<option value="pipelines" selected>' in client.get("/audit?table=pipelines").text
    one = client.get("/audit?pipeline_id=1&actor=editor@example.com").text
    assert one.count('data-event="') == 1 and '<option value="1" selected>' in one
    today = dt.datetime.now(dt.UTC).date()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert 'data-event="' in client.get(f"/audit?since={today}&until={today}").text
    assert 'data-event="' not in client.get(f"/audit?since={tomorrow}").text
    assert f'value="{tomorrow}"' in client.get(f"/audit?since={tomorrow}").text
    refused = client.get(f"/audit?since={tomorrow}&until={today}")
    assert refused.status_code == 422 and "on or after" in refused.text
    assert client.get("/audit?since=2024-02-31").status_code == 422


def test_the_audit_pages(client: TestClient, as_viewer: str) -> None:
    first = client.get("/audit").text
    assert first.count('data-event="') == 50 and 'rel="next"' in first
    assert 'rel="prev"' in client.get("/audit?offset=50").text


def test_a_pipelines_own_changes_on_its_page(client: TestClient, as_editor: str) -> None:
    _deactivate_pipeline_1(client, as_editor)
    pipeline = client.get("/pipelines/1").text
    assert 'href="/pipelines/1/audit" id="pipeline-audit"' in pipeline
    html = client.get("/pipelines/1/audit").text
    name = re.search(r'<h1 id="pipeline-name">([^<]+)</h1>', pipeline).group(1)
    assert f"Changes to {name}" in html and 'action="/pipelines/1/audit"' in html
    tables = set(re.findall(r'data-table="([a-z_]+)"', html))
    assert {"pipelines", "pipeline_states", "transformations"} <= tables
    assert not tables & {"brands", "segments", "administrators"}
    assert _sentences(html)[0] == f"editor@example.com deactivated pipeline {name}"
    assert 'id="filter-pipeline"' not in html  # the pipeline is chosen already
    assert client.get("/pipelines/1/audit?action=UPDATE").text.count('data-event="') == 1
    assert client.get("/pipelines/99999/audit").status_code == 404


def test_people_are_hidden_from_viewers(client: TestClient, as_viewer: str) -> None:
    assert "administrators" not in set(
        re.findall(r'data-table="([a-z_]+)"', client.get("/audit?offset=0").text)
    )
    assert client.get("/audit?table=administrators").status_code == 403


def test_people_are_shown_to_admins(client: TestClient, sign_in) -> None:
    sign_in("admin")
    admins = client.get("/audit?table=administrators").text
    assert "created user viewer@example.com" in " ".join(_sentences(admins))


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
