"""Steering runs through the API: cancel, re-run one task, one run of a pipeline at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.helpers.session_helper import SessionHelper
from core.runs import get_run, task_runs
from core.service import run_controls
from core.service import runs as runs_service
from core.settings import Settings
from tests.support.locking import patch_latest
from tests.unit.api.test_runs import recorded_run
from tests.unit.api.worlds import pipeline_id, transformation_ids, users_for, wait_for_run

Headers = dict[str, dict[str, str]]


@pytest.fixture
def app(world: Settings) -> FastAPI:
    return create_app(world)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def users(world: Settings) -> Headers:
    return users_for(world)


@pytest.fixture
def no_runner(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs are recorded but no runner process starts: the ids it would have run."""
    spawned: list[int] = []
    for module in (runs_service, run_controls):
        monkeypatch.setattr(
            module, "spawn_runner", lambda _s, _p, run_id, *_: spawned.append(run_id)
        )
    return spawned


def test_a_second_run_of_a_pipeline_is_refused_naming_the_running_one(
    world: Settings, client: TestClient, users: Headers, no_runner: list[int]
) -> None:
    small = pipeline_id(world, "small")
    first = client.post(f"/api/pipelines/{small}/runs", headers=users["editor"])
    assert first.status_code == 202, first.text
    second = client.post(f"/api/pipelines/{small}/runs", headers=users["editor"])
    assert second.status_code == 409
    detail = second.json()["detail"]
    assert f"run {first.json()['run_id']}" in detail and "'small'" in detail
    assert "max_active_runs" in detail
    other = client.post(
        f"/api/pipelines/{pipeline_id(world, 'failing')}/runs", headers=users["editor"]
    )
    assert other.status_code == 202  # the limit is per pipeline

    allowed = patch_latest(
        client, f"/api/pipelines/{small}", {"max_active_runs": 2}, users["editor"]
    )
    assert allowed.status_code == 200 and allowed.json()["max_active_runs"] == 2
    assert client.post(f"/api/pipelines/{small}/runs", headers=users["editor"]).status_code == 202
    third = client.post(f"/api/pipelines/{small}/runs", headers=users["editor"])
    assert third.status_code == 409 and "allows 2 at a time" in third.json()["detail"]
    assert len(no_runner) == 3


@pytest.mark.parametrize("value", [0, -1, True, "two"])
def test_max_active_runs_must_be_a_whole_number_of_at_least_one(
    world: Settings, client: TestClient, users: Headers, value: object
) -> None:
    small = pipeline_id(world, "small")
    answer = patch_latest(
        client, f"/api/pipelines/{small}", {"max_active_runs": value}, users["editor"]
    )
    assert answer.status_code == 422, answer.text
    assert "max_active_runs" in answer.text


def test_cancel_records_who_and_refuses_what_is_not_running(
    world: Settings, client: TestClient, users: Headers
) -> None:
    run_id = recorded_run(world, "small", {"numbers": "success"})  # running, no runner
    assert client.post(f"/api/runs/{run_id}/cancel", headers=users["viewer"]).status_code == 403
    assert client.post("/api/runs/999/cancel", headers=users["editor"]).status_code == 404
    answer = client.post(f"/api/runs/{run_id}/cancel", headers=users["editor"])
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"run_id": run_id, "state": "cancelled", "stopped": False}
    shown = client.get(f"/api/runs/{run_id}", headers=users["viewer"]).json()
    assert shown["state"] == "cancelled" and shown["cancelled_by"] == "editor@example.com"
    assert shown["ended_at"] is not None
    again = client.post(f"/api/runs/{run_id}/cancel", headers=users["editor"])
    assert again.status_code == 409 and "only a running run can be cancelled" in again.text
    listed = client.get("/api/runs?state=cancelled", headers=users["viewer"]).json()
    assert [r["id"] for r in listed["items"]] == [run_id]


def test_rerun_resets_the_task_and_what_follows_and_resumes_the_run(
    world: Settings, client: TestClient, users: Headers, no_runner: list[int]
) -> None:
    run_id = recorded_run(world, "failing", {"numbers": "success", "broken": "failed"})
    ids = transformation_ids(world, "failing")
    url = f"/api/runs/{run_id}/tasks/{ids['broken']}/rerun"
    running = client.post(url, headers=users["editor"], json={})
    assert running.status_code == 409 and "once the run has ended" in running.text
    with SessionHelper(world) as session:
        get_run(session, run_id).state = "failed"
        session.commit()
    assert client.post(url, headers=users["viewer"], json={}).status_code == 403
    unknown = client.post(
        f"/api/runs/{run_id}/tasks/424242/rerun", headers=users["editor"], json={}
    )
    assert unknown.status_code == 404 and str(ids["numbers"]) in unknown.json()["detail"]
    bad = client.post(url, headers=users["editor"], json={"configuration": "latest"})
    assert bad.status_code == 422

    answer = client.post(url, headers=users["editor"], json={"configuration": "pinned"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"via": "local", "run_id": run_id, "dag_run_id": None}
    assert no_runner == [run_id]
    with SessionHelper(world) as session:
        event, rows = get_run(session, run_id), task_runs(session, run_id)
        assert event.state == "running" and event.resumed_by == "editor@example.com"
        assert rows[ids["numbers"]].state == "success"  # same group: not downstream
        assert rows[ids["broken"]].state == "pending"


def test_rerun_of_a_successful_run_runs_the_task_and_its_downstream_again(
    world: Settings, client: TestClient, users: Headers
) -> None:
    small = pipeline_id(world, "small")
    started = client.post(f"/api/pipelines/{small}/runs", headers=users["editor"]).json()
    first = wait_for_run(client, users["viewer"], started["run_id"])
    assert first["state"] == "success"
    numbers = transformation_ids(world, "small")["numbers"]
    answer = client.post(
        f"/api/runs/{first['id']}/tasks/{numbers}/rerun", headers=users["editor"], json={}
    )
    assert answer.status_code == 202, answer.text
    again = wait_for_run(client, users["viewer"], first["id"])
    assert again["state"] == "success", again
    assert [t["attempt"] for t in again["tasks"]] == [2, 2]  # both ran again, same run id
