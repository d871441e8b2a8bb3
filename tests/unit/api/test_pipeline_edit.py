"""A pipeline's schedule in words with its next fire times, and deleting a pipeline, by API."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.runs import start_run
from core.service.pipelines import pipeline_plan
from core.settings import Settings
from tests.support.locking import patch_latest

Headers = dict[str, str]


def _pipeline_id(client: TestClient, headers: Headers, name: str) -> int:
    page = client.get("/api/pipelines", params={"q": name}, headers=headers).json()
    return next(item["id"] for item in page["items"] if item["name"] == name)


def test_a_frequency_is_shown_in_words_with_its_next_three_fire_times(
    client: TestClient, viewer: Headers
) -> None:
    answer = client.get("/api/schedule", params={"run_frequency": "0 6 * * 1-5"}, headers=viewer)
    assert answer.status_code == 200
    body = answer.json()
    assert body["description"] == "At 06:00 AM, Monday through Friday (UTC)"
    fires = [dt.datetime.fromisoformat(t) for t in body["next_fire_times"]]
    assert len(fires) == 3 and fires == sorted(fires) and fires[0] > dt.datetime.now(dt.UTC)
    assert all(t.hour == 6 and t.minute == 0 and t.weekday() < 5 for t in fires)
    none = client.get("/api/schedule", params={"run_frequency": "none"}, headers=viewer).json()
    assert none["next_fire_times"] == [] and none["description"].startswith("not scheduled")
    bad = client.get("/api/schedule", params={"run_frequency": "0 6 31 2 *"}, headers=viewer)
    assert bad.status_code == 422 and "never fires" in bad.text


def test_a_pipeline_s_saved_frequency_is_its_schedule(client: TestClient, editor: Headers) -> None:
    pid = _pipeline_id(client, editor, "bluepeak_orvida_sales")
    saved = patch_latest(client, f"/api/pipelines/{pid}", {"run_frequency": "*/30 * * * *"}, editor)
    assert saved.status_code == 200, saved.text
    schedule = client.get(f"/api/pipelines/{pid}/schedule", headers=editor).json()
    assert schedule["description"] == "Every 30 minutes (UTC)"
    first, second, _ = (dt.datetime.fromisoformat(t) for t in schedule["next_fire_times"])
    assert second - first == dt.timedelta(minutes=30)
    refused = patch_latest(client, f"/api/pipelines/{pid}", {"run_frequency": "sometimes"}, editor)
    assert refused.status_code == 422 and "is not a schedule" in refused.text


def test_a_pipeline_that_never_ran_is_deleted_with_what_goes_with_it(
    settings: Settings, client: TestClient, editor: Headers, viewer: Headers
) -> None:
    pid = _pipeline_id(client, editor, "bluepeak_orvida_sales")
    impact = client.get(f"/api/pipelines/{pid}/deletion", headers=viewer).json()
    assert impact["runs"] == 0 and impact["transformations"] > 0 and impact["states"] > 0
    assert impact["summary"].startswith(f"{impact['states']} state")
    url = f"/api/pipelines/{pid}/delete"
    assert client.post(url, json={"confirm": impact["name"]}, headers=viewer).status_code == 403
    wrong = client.post(url, json={"confirm": "bluepeak"}, headers=editor)
    assert wrong.status_code == 422 and "type the pipeline's name" in wrong.text
    gone = client.post(url, json={"confirm": impact["name"]}, headers=editor)
    assert gone.status_code == 200 and gone.json() == impact
    assert client.get(f"/api/pipelines/{pid}", headers=editor).status_code == 404
    with SessionHelper(settings) as session:
        left = session.scalar(
            select(func.count())
            .select_from(cfg.PipelineState)
            .where(cfg.PipelineState.pipeline_id == pid)
        )
    assert left == 0  # its states (and their transformations) went with it
    assert client.post(url, json={"confirm": "x"}, headers=editor).status_code == 404


def test_a_pipeline_with_runs_cannot_be_deleted_only_deactivated(
    settings: Settings, client: TestClient, editor: Headers
) -> None:
    pid = _pipeline_id(client, editor, "bluepeak_orvida_sales")
    with SessionHelper(settings, actor="test") as session:
        start_run(session, pipeline_plan(session, pid), "test")
    name = client.get(f"/api/pipelines/{pid}", headers=editor).json()["name"]
    refused = client.post(f"/api/pipelines/{pid}/delete", json={"confirm": name}, headers=editor)
    assert refused.status_code == 409
    assert "has 1 run: their history keeps it" in refused.json()["detail"]
    assert "deactivate it instead" in refused.json()["detail"]
    assert client.get(f"/api/pipelines/{pid}", headers=editor).status_code == 200
