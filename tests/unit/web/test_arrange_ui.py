"""Reordering: the preview shows the new plan without saving it; Save commits it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings

HTMX = {"HX-Request": "true", "HX-Target": "plan"}


def _form(client: TestClient) -> dict[str, list[str]]:
    """The arrangement form of pipeline 1 as a browser would submit it."""
    html = client.get("/pipelines/1/arrange").text
    data: dict[str, list[str]] = {"csrf_token": [re.search(r'csrf_token" value="([^"]+)', html)[1]]}
    data["transformation_id"] = re.findall(r'name="transformation_id" value="(\d+)"', html)
    for tid in data["transformation_id"]:
        data[f"order_{tid}"] = [re.search(rf'name="order_{tid}"[^>]*value="(\d+)"', html)[1]]
        state = re.search(rf'name="state_{tid}".*?<option value="(\d+)" selected', html, re.S)
        data[f"state_{tid}"] = [state[1]]
    return data


def _order(settings: Settings, transformation_id: int) -> int:
    with SessionHelper(settings) as session:
        return session.get(cfg.Transformation, transformation_id).graph_order


def test_the_page_lists_every_transformation_with_the_current_plan(
    client: TestClient, as_editor: str
) -> None:
    html = client.get("/pipelines/1/arrange").text
    assert len(re.findall(r'name="transformation_id"', html)) == 12
    assert "Plan as saved" in html and 'data-spacer="ingest_group_step_1"' in html


def test_preview_shows_the_new_plan_and_saves_nothing(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    data = _form(client)
    # The second column_mapping gets a step of its own and the sql union moves behind it
    # (moving an initial_ingest behind its mapping would break the mapping: refused).
    data["order_5"] = ["5"]
    data["order_6"] = ["9"]
    response = client.post("/pipelines/1/arrange/preview", data=data, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text and "Preview (not saved)" in response.text
    assert 'id="preview-dag"' in response.text
    assert re.search(r"ingest_group_step_3</code> →\s*<code>ingest_column_mapping_5", response.text)
    assert re.search(r"ingest_group_step_4</code> →\s*<code>ingest_sql_6", response.text)
    assert (_order(settings, 5), _order(settings, 6)) == (1, 2)


def test_save_commits_the_new_order(client: TestClient, as_editor: str, settings: Settings) -> None:
    data = _form(client)
    data["order_6"] = ["9"]  # the sql union, behind everything else in ingest
    response = client.post("/pipelines/1/arrange", data=data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/pipelines/1"
    assert _order(settings, 6) == 9


def test_problems_are_shown_and_nothing_is_saved(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    data = _form(client)
    data["order_2"] = ["x"]
    preview = client.post("/pipelines/1/arrange/preview", data=data, headers=HTMX)
    assert preview.status_code == 422 and "order_2" in preview.text
    with SessionHelper(settings) as session:
        raw = next(s.id for s in session.get(cfg.Pipeline, 1).pipeline_states if s.graph_order == 0)
    data["order_2"] = ["0"]
    data["state_2"] = [str(raw)]  # initial_ingest belongs in the ingest state
    saved = client.post("/pipelines/1/arrange", data=data)
    assert saved.status_code == 422
    assert "belongs in the &#39;ingest&#39; state" in saved.text
    with SessionHelper(settings) as session:
        assert session.get(cfg.Transformation, 2).pipeline_state_id != raw
