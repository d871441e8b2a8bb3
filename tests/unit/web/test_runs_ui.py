"""The runs list and a run's page: tasks, live refresh, notebook link, output preview and diff."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from core.errors import OrchestratorError
from core.helpers.session_helper import SessionHelper
from core.lake.contracts import contract_from_transformation_id
from core.models.runs import RunEvent
from core.runs import begin_task, end_task, finish_run, start_run
from core.service import run_controls
from core.service import runs as runs_service
from core.service.pipelines import pipeline_plan
from core.service.runs import RunStarted
from core.settings import Settings

# Transformation 3 of pipeline 1 is initial_ingest -> ingest/pharmacy_b_status.
INGEST = 3


@pytest.fixture
def make_run(settings: Settings) -> Callable[..., int]:
    """make_run(finished, rows) records a run of pipeline 1: the raw task succeeded, the
    first ingest task wrote ``rows`` and succeeded, the second failed."""

    def _make(finished: bool = False, rows: list[int] | None = None) -> int:
        with SessionHelper(settings, actor="test") as session:
            event = start_run(session, pipeline_plan(session, 1), "editor@example.com")
            end_task(session, begin_task(session, event.id, 1), "success", rows_out=2)
            task = begin_task(session, event.id, INGEST)
            if rows is not None:
                contract = contract_from_transformation_id(INGEST, session, settings)
                contract.publish(pa.table({"n": rows}), run_id=event.id)
            end_task(
                session,
                task,
                "success",
                rows_in=2,
                rows_out=len(rows or []),
                notebook_location="lake://notebooks/x.ipynb",
            )
            failed = begin_task(session, event.id, 4)
            end_task(session, failed, "failed", error_summary="no header <b>row</b>")
            if finished:
                finish_run(session, event.id, failed=True)
            return event.id

    return _make


def test_the_run_page_shows_each_task(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    run_id = make_run(finished=True)
    html = client.get(f"/runs/{run_id}").text
    assert f"Run {run_id} of acme_zentrix_patient_status" in html
    assert 'id="run-state" data-state="failed"' in html
    assert 'data-task="raw_extract_from_landing_1" data-state="success"' in html
    assert 'data-task="ingest_column_mapping_4" data-state="failed"' in html
    assert 'data-task="metrics_sql_11" data-state="pending"' in html
    assert "no header &lt;b&gt;row&lt;/b&gt;" in html
    link = f'href="/api/runs/{run_id}/tasks/{INGEST}/notebook" target="_blank"'
    assert link in html
    assert 'class="node task" data-task-id="ingest_column_mapping_4" data-state="failed"' in html
    assert 'hx-trigger="every 2s"' not in html  # over: no refresh


def test_a_running_run_refreshes_itself_until_it_ends(
    client: TestClient, as_viewer: str, make_run: Callable[..., int], settings: Settings
) -> None:
    run_id = make_run(finished=False)
    page = client.get(f"/runs/{run_id}").text
    assert f'hx-get="/runs/{run_id}" hx-trigger="every 2s"' in page
    headers = {"HX-Request": "true", "HX-Target": "run-body"}
    fragment = client.get(f"/runs/{run_id}", headers=headers).text
    assert fragment.startswith('<div id="run-body"') and "every 2s" in fragment
    with SessionHelper(settings) as session:
        finish_run(session, run_id, failed=False)
    done = client.get(f"/runs/{run_id}", headers=headers).text
    assert "every 2s" not in done and 'data-state="success"' in done


def test_the_runs_list_filters_and_refreshes_while_one_runs(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    finished, running = make_run(finished=True), make_run(finished=False)
    html = client.get("/runs").text
    assert f'data-run="{finished}"' in html and f'data-run="{running}"' in html
    assert "editor@example.com" in html and "1 failed" in html and "9 pending" in html
    assert 'id="run-results" hx-get="/runs" hx-trigger="every 2s"' in html
    failed = client.get("/runs?state=failed").text
    assert f'data-run="{running}"' not in failed and "every 2s" not in failed
    assert f'data-run="{finished}"' not in client.get("/runs?pipeline_id=2").text
    fragment = client.get(
        "/runs?state=failed", headers={"HX-Request": "true", "HX-Target": "run-results"}
    )
    assert fragment.text.startswith('<div id="run-results"')


def test_the_preview_fragment_shows_the_rows_of_the_run(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    run_id = make_run(finished=True, rows=[1, 2, 3])
    page = client.get(f"/runs/{run_id}").text
    assert f'hx-get="/runs/{run_id}/tasks/{INGEST}/preview"' in page
    html = client.get(f"/runs/{run_id}/tasks/{INGEST}/preview").text
    assert "<th>n</th>" in html and "showing 3 of 3 rows" in html and "<td>2</td>" in html


def test_the_diff_fragment_compares_with_the_previous_run(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    earlier = make_run(finished=True, rows=[1, 2, 3])
    run_id = make_run(finished=True, rows=[2, 3, 4])
    page = client.get(f"/runs/{run_id}").text
    assert f'hx-get="/runs/{run_id}/tasks/{INGEST}/diff?against={earlier}"' in page
    assert f"Diff with run {earlier}" in page
    html = client.get(f"/runs/{run_id}/tasks/{INGEST}/diff").text
    assert "1 added" in html and "1 removed" in html
    added, removed = html.split("<h3>Removed</h3>")
    assert "<td>4</td>" in added and "<td>1</td>" in removed


def test_missing_output_is_explained(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    run_id = make_run(finished=True)
    html = client.get(f"/runs/{run_id}/tasks/{INGEST}/preview").text
    assert "No preview for transformation 3" in html and "has not published" in html
    raw = client.get(f"/runs/{run_id}/tasks/1/preview").text
    assert "not a dataset" in raw


def test_run_now_starts_a_run_and_shows_it(
    client: TestClient, as_editor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def start(settings, session, pipeline_id, user_email) -> RunStarted:
        calls.append((pipeline_id, user_email))
        return RunStarted(via="local", run_id=41, dag_run_id=None)

    monkeypatch.setattr(runs_service, "start_pipeline_run", start)
    response = client.post(
        "/pipelines/1/runs", data={"csrf_token": as_editor}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/runs/41"
    assert calls == [(1, "editor@example.com")]


def test_run_now_through_airflow_shows_the_runs_of_the_pipeline(
    client: TestClient, as_editor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = RunStarted(via="airflow", run_id=None, dag_run_id="manual__x")
    monkeypatch.setattr(runs_service, "start_pipeline_run", lambda *args: started)
    response = client.post("/pipelines/1/runs", data={"csrf_token": as_editor})
    assert response.url.path == "/runs" and "manual__x" in response.text


def test_run_now_of_an_empty_pipeline_is_explained(client: TestClient, as_editor: str) -> None:
    data = {"csrf_token": as_editor, "name": "empty_one", "pipeline_type_id": "1", "brand_id": "1"}
    page = client.post("/pipelines/new", data=data)
    pipeline_id = page.url.path.rsplit("/", 1)[1]
    response = client.post(
        f"/pipelines/{pipeline_id}/runs", data={"csrf_token": as_editor, "inactive": "run"}
    )
    assert response.status_code == 422 and "has no transformations" in response.text


def test_the_run_page_shows_what_changed_and_resumes_with_the_choice(
    client: TestClient,
    as_editor: str,
    settings: Settings,
    make_run: Callable[..., int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.models import configuration as cfg

    first = make_run(finished=True)
    with SessionHelper(settings, actor="editor@example.com") as session:
        transformation = session.get(cfg.Transformation, INGEST)
        before = transformation.stored_variables
        changed = "prefix"  # the files it picks: a change the pipeline's check accepts
        transformation.set_variables({**before, changed: "pharmacy_c"})
        session.commit()
    second = make_run(finished=True)
    html = client.get(f"/runs/{second}").text
    assert f'<a href="/runs/{first}">run {first}</a>' in html
    row = f"<td>variable {changed}</td><td><code>{before[changed]}</code></td>"
    assert row in html and "<code>pharmacy_c</code>" in html
    assert 'id="resume-form"' in html and 'value="current" checked' in html

    spawned: list[int] = []
    monkeypatch.setattr(
        run_controls, "spawn_runner", lambda _s, _p, run_id, *_: spawned.append(run_id)
    )
    response = client.post(
        f"/runs/{second}/resume",
        data={"csrf_token": as_editor, "configuration": "pinned"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and spawned == [second]
    page = client.get(f"/runs/{second}").text
    assert 'data-configuration="pinned"' in page and "as it was" in page
    assert 'id="run-resumed-by">editor@example.com' in page
    refused = client.post(
        f"/runs/{second}/resume", data={"csrf_token": as_editor, "configuration": "latest"}
    )
    assert "expected current" in refused.text

    # Under Airflow a resume clears the DAG run's failed tasks: a run no DAG run
    # recorded cannot be, and the page says so; one that has a DAG run gets the form
    client.app.state.settings = settings.model_copy(update={"airflow_api_url": "http://af:8080"})
    under_airflow = client.get(f"/runs/{first}").text
    assert 'id="resume-form"' not in under_airflow
    assert 'id="resume-in-airflow"' in under_airflow and "start a new run" in under_airflow
    with SessionHelper(settings, actor="test") as session:
        session.get(RunEvent, first).dag_run_id = "manual__2026-12-02T10:00:00+00:00"
        session.commit()
    assert 'id="resume-form"' in client.get(f"/runs/{first}").text

    def airflow_refuses(*_: object) -> list[str]:
        raise OrchestratorError("Airflow cleared no task of DAG run 'manual__…' of 'small'")

    monkeypatch.setattr(run_controls, "clear_failed_tasks", airflow_refuses)
    answer = client.post(f"/runs/{first}/resume", data={"csrf_token": as_editor})
    assert answer.status_code == 200 and "Airflow cleared no task" in answer.text
    assert 'id="run-state" data-state="failed"' in answer.text  # failed again, not running


def test_the_run_page_shows_a_task_note(
    client: TestClient, as_viewer: str, settings: Settings
) -> None:
    note = "read 1 of 3 matching files (cumulate_flag is false)"
    with SessionHelper(settings, actor="test") as session:
        event = start_run(session, pipeline_plan(session, 1), "editor@example.com")
        task = begin_task(session, event.id, INGEST)
        end_task(session, task, "success", rows_out=1, output_references={"notes": [note]})
        run_id = event.id
    html = client.get(f"/runs/{run_id}").text
    assert f'<div class="task-note" data-note>{note}</div>' in html


def test_each_task_of_the_run_s_dag_links_to_its_log_once_it_started(
    client: TestClient, as_viewer: str, make_run: Callable[..., int]
) -> None:
    run_id = make_run(finished=True)
    html = client.get(f"/runs/{run_id}").text
    started = re.findall(rf'<a href="/runs/{run_id}/tasks/(\d+)/log" class="node-link">', html)
    not_started = re.findall(r'<a href="#task-(\d+)" class="node-link">', html)
    assert started and not_started  # a finished, failed run: some ran, some never did
    for tid in not_started:  # a task that never started leads to its row
        assert f'id="task-{tid}"' in html
