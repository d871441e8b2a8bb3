"""Run now: an inactive pipeline asks to confirm; a second run at once is refused by name."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.runs import start_run
from core.service import runs as runs_service
from core.service.pipelines import pipeline_plan
from core.service.runs import RunStarted
from core.settings import Settings


@pytest.fixture
def inactive(settings: Settings) -> int:
    with SessionHelper(settings, actor="test") as session:
        session.get(cfg.Pipeline, 1).is_active = False
        session.commit()
    return 1


def test_an_inactive_pipeline_is_started_only_once_confirmed(
    client: TestClient, as_editor: str, inactive: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def start(settings, session, pipeline_id, user_email) -> RunStarted:
        calls.append(pipeline_id)
        return RunStarted(via="local", run_id=41, dag_run_id=None)

    monkeypatch.setattr(runs_service, "start_pipeline_run", start)
    page = client.get(f"/pipelines/{inactive}").text
    assert 'id="run-now-confirm"' in page and 'id="run-now"' not in page
    refused = client.post(f"/pipelines/{inactive}/runs", data={"csrf_token": as_editor})
    assert refused.url.path == f"/pipelines/{inactive}" and calls == []
    assert "is inactive. Confirm under" in refused.text
    confirmed = client.post(
        f"/pipelines/{inactive}/runs",
        data={"csrf_token": as_editor, "inactive": "run"},
        follow_redirects=False,
    )
    assert confirmed.headers["location"] == "/runs/41" and calls == [inactive]


def test_a_second_run_at_once_is_refused_naming_the_first(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    with SessionHelper(settings, actor="test") as session:
        first = start_run(session, pipeline_plan(session, 1), "alice@example.com").id
    response = client.post("/pipelines/1/runs", data={"csrf_token": as_editor})
    assert response.url.path == "/pipelines/1"
    assert "Not started:" in response.text and f"run {first}" in response.text
    with SessionHelper(settings) as session:
        assert session.query(cfg.RunEvent).count() == 1  # nothing else was started


def test_a_viewer_cannot_run_even_confirmed(client: TestClient, as_viewer: str) -> None:
    response = client.post("/pipelines/1/runs", data={"csrf_token": as_viewer, "inactive": "run"})
    assert response.status_code == 403
