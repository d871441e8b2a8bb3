"""The runs list's filters, the grid of a pipeline's runs, and a run page that follows its run.

The same filter and grid back the REST API (``/api/runs``, ``/api/pipelines/{id}/grid``):
both are asserted here, side by side.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.errors import InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.models.runs import RunEvent
from core.runs import begin_task, end_task, finish_run, start_run
from core.service.pipelines import pipeline_plan
from core.service.run_filters import RunFilter
from core.service.runs import list_runs
from core.settings import Settings

Headers = dict[str, str]


def _run(settings: Settings, by: str, day: dt.date | None = None, fail: int | None = None) -> int:
    """A run of pipeline 1 started by ``by`` on ``day``; task ``fail`` failed, else all ran."""
    with SessionHelper(settings, actor="test") as session:
        event = start_run(session, pipeline_plan(session, 1), by)
        end_task(session, begin_task(session, event.id, 1), "success")
        if fail is not None:
            end_task(session, begin_task(session, event.id, fail), "failed", error_summary="bad")
            finish_run(session, event.id, failed=True)
        if day is not None:
            moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            session.execute(
                update(RunEvent).where(RunEvent.id == event.id).values(started_at=moment)
            )
            session.commit()
        return event.id


@pytest.fixture
def three_runs(settings: Settings) -> tuple[int, int, int]:
    return (
        _run(settings, "alice@example.com", dt.date(2026, 11, 1)),
        _run(settings, "schedule", dt.date(2026, 11, 15), fail=4),
        _run(settings, "Bob@Example.com", dt.date(2026, 11, 30)),
    )


def test_the_runs_list_filters_by_days_and_starter(
    client: TestClient, as_viewer: str, three_runs: tuple[int, int, int]
) -> None:
    first, second, third = three_runs
    html = client.get("/runs?since=2026-11-15&until=2026-11-30").text
    assert f'data-run="{first}"' not in html
    assert f'data-run="{second}"' in html and f'data-run="{third}"' in html
    by_bob = client.get("/runs?started_by=bob").text  # part of it, any case
    assert f'data-run="{third}"' in by_bob and f'data-run="{first}"' not in by_bob
    one_day = client.get("/runs?since=2026-11-01&until=2026-11-01").text  # both ends included
    assert f'data-run="{first}"' in one_day and f'data-run="{second}"' not in one_day
    percent = client.get("/runs?started_by=%25").text  # a wildcard is a character here
    assert "No runs match these filters." in percent


def test_days_the_wrong_way_round_are_explained_not_a_500(
    client: TestClient, as_viewer: str, three_runs: tuple[int, int, int]
) -> None:
    response = client.get("/runs?since=2026-11-30&until=2026-11-01")
    assert response.status_code == 200
    assert "until 2026-11-01: expected a day on or after since (2026-11-30)" in response.text
    assert client.get("/runs?since=yesterday").status_code == 422


def test_the_api_lists_runs_with_the_same_filters(
    client: TestClient, viewer: Headers, three_runs: tuple[int, int, int]
) -> None:
    second = three_runs[1]
    page = client.get(
        "/api/runs", params={"since": "2026-11-02", "started_by": "SCHED"}, headers=viewer
    ).json()
    assert [item["id"] for item in page["items"]] == [second] and page["total"] == 1
    wrong = client.get(
        "/api/runs", params={"since": "2026-12-01", "until": "2026-11-01"}, headers=viewer
    )
    assert wrong.status_code == 422 and "swap the two days" in wrong.text


def test_the_filter_checks_its_fields_by_meaning(settings: Settings) -> None:
    with SessionHelper(settings) as session, pytest.raises(InvalidInputError) as caught:
        list_runs(session, chosen=RunFilter(state="faild", started_by="x" * 101))
    message = str(caught.value)
    assert "Did you mean 'failed'" in message and "at most 100 characters" in message


def test_the_grid_shows_runs_across_and_tasks_down(
    client: TestClient, as_viewer: str, viewer: Headers, three_runs: tuple[int, int, int]
) -> None:
    first, second, third = three_runs
    html = client.get("/pipelines/1/grid").text
    assert html.index(f">#{first}<") < html.index(f">#{second}<") < html.index(f">#{third}<")
    failed = f'href="/runs/{second}#task-4"'
    assert f'class="grid-square grid-failed" data-state="failed" {failed}' in html
    assert f'href="/runs/{third}#task-12"' in html  # planned, not started: pending
    grid = client.get("/api/pipelines/1/grid", params={"runs": 2}, headers=viewer).json()
    assert [run["id"] for run in grid["runs"]] == [second, third]
    lines = {task["transformation_id"]: task for task in grid["tasks"]}
    assert lines[4]["states"] == ["failed", "pending"] and lines[1]["states"] == ["success"] * 2
    assert lines[3]["label"] == "pharmacy_b_status"  # named by the dataset it writes
    assert client.get("/api/pipelines/999/grid", headers=viewer).status_code == 404
    assert client.get("/pipelines/999/grid").status_code == 404


def test_an_empty_grid_says_so(client: TestClient, as_viewer: str) -> None:
    assert "This pipeline has not run yet." in client.get("/pipelines/1/grid").text


def test_the_run_page_banner_follows_the_run(
    client: TestClient, as_viewer: str, settings: Settings
) -> None:
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, pipeline_plan(session, 1), "test").id
    page = client.get(f"/runs/{run_id}").text
    assert f"Run {run_id} is running: 0 of 12 tasks finished" in page
    assert 'id="flashes" hx-swap-oob' not in page  # a full page keeps its banners
    with SessionHelper(settings, actor="test") as session:
        end_task(session, begin_task(session, run_id, 4), "failed", error_summary="no header")
        finish_run(session, run_id, failed=True)
    headers = {"HX-Request": "true", "HX-Target": "run-body"}
    fragment = client.get(f"/runs/{run_id}", headers=headers).text
    assert f"Run {run_id} failed: column_mapping #4 failed." in fragment
    assert 'data-state="failed"' in fragment
    # the refreshed page drops the stale "Run N started" banner in the same swap
    assert '<div id="flashes" hx-swap-oob="true"></div>' in fragment


def test_a_cancelled_run_refreshes_until_its_workers_have_stopped(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    from core.run_controls import cancel_run

    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, pipeline_plan(session, 1), "test").id
        task = begin_task(session, run_id, 1)
        cancel_run(session, run_id, "ops@example.com")
    page = client.get(f"/runs/{run_id}").text
    assert f"Run {run_id} was cancelled by ops@example.com: 1 running task(s) stopping." in page
    assert f'hx-get="/runs/{run_id}" hx-trigger="every 2s"' in page  # it follows the stop
    assert 'id="resume-form"' not in page and "rerun-form" not in page  # not while stopping
    with SessionHelper(settings, actor="test") as session:
        end_task(session, session.merge(task), "cancelled", error_summary="stopped")
    fragment = client.get(
        f"/runs/{run_id}", headers={"HX-Request": "true", "HX-Target": "run-body"}
    ).text
    assert "every 2s" not in fragment and 'id="resume-form"' in fragment
    assert "Resume it to run what did not finish." in fragment
