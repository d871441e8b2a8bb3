"""Starting a run through Airflow's REST API (CORE_AIRFLOW_API_URL set).

The API is played by a small HTTP server in this test that checks every request the
way Airflow 3's api-server answers them (``/auth/token``, ``/api/v2/dags/{id}/dagRuns``).
Airflow's api-server itself, and the DAG the run starts, are covered elsewhere by
``dag.test()`` (tests/integration/airflow); here it is CORE's client that is tested.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.api.app import create_app
from core.errors import OrchestratorError, SecretError, SecretNotFoundError
from core.helpers.session_helper import SessionHelper
from core.models.runs import RunEvent
from core.secret import set_secret
from core.service import runs as service
from core.service.airflow_api import trigger_dag_run
from core.settings import Settings
from tests.support.json_http import JsonHandler, serve
from tests.unit.api.worlds import pipeline_id, transformation_ids, users_for

USERNAME, PASSWORD, TOKEN = "core", "s3cret-airflow-password", "jwt-token"
DAGS = ("small", "failing")


class FakeAirflow(JsonHandler):
    """Answers like Airflow 3's api-server and records what it was asked."""

    requests: list[dict[str, Any]]
    all_admins: bool

    def do_GET(self) -> None:
        self._record(None)
        if self.path != "/auth/token" or not self.all_admins:
            self.send_json({"detail": "simple_auth_manager_all_admins is not enabled"}, 403)
            return
        self.send_json({"access_token": TOKEN}, 201)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if self.path == "/auth/token":
            good = body == {"username": USERNAME, "password": PASSWORD}
            self.send_json(*(({"access_token": TOKEN}, 201) if good else (INVALID, 401)))
            return
        if self.path.endswith("/clearTaskInstances"):
            self._clear(self.path.removeprefix("/api/v2/dags/").split("/")[0], body)
            return
        dag = self.path.removeprefix("/api/v2/dags/").removesuffix("/dagRuns")
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json({"detail": "Not authenticated"}, 401)
        elif dag not in DAGS:
            self.send_json({"detail": f"The Dag with ID: `{dag}` was not found"}, 404)
        else:
            self.send_json({"dag_run_id": f"manual__2025-01-01T00:00:00+00:00_{dag}"}, 200)

    def do_PATCH(self) -> None:
        """Airflow marks a DAG run failed (PATCH .../dagRuns/{id} {"state": "failed"})."""
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json({"detail": "Not authenticated"}, 401)
        elif body.get("state") not in ("queued", "success", "failed"):
            self.send_json({"detail": "Input should be 'queued', 'success' or 'failed'"}, 422)
        else:
            run_id = self.path.rsplit("/", 1)[-1]
            self.send_json({"dag_run_id": run_id, "state": body["state"]}, 200)

    def _clear(self, dag: str, body: dict[str, Any]) -> None:
        """Airflow clears the failed tasks of the DAG run of 'failing' (none of 'small'),
        or the tasks named, with their downstream tasks."""
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_json({"detail": "Not authenticated"}, 401)
            return
        if body.get("task_ids"):
            cleared = [*body["task_ids"], "EndRun"]
        else:
            cleared = ["master_broken_3", "EndRun"] if dag == "failing" else []
        tasks = [{"task_id": t, "dag_run_id": body.get("dag_run_id")} for t in cleared]
        self.send_json({"task_instances": tasks, "total_entries": len(tasks)}, 200)

    def _record(self, body: Any) -> None:
        auth = self.headers.get("Authorization")
        self.requests.append(
            {"method": self.command, "path": self.path, "body": body, "auth": auth}
        )


INVALID = {"detail": "Invalid credentials"}


@dataclass
class Server:
    url: str
    requests: list[dict[str, Any]]
    handler: type[FakeAirflow]


@pytest.fixture
def airflow() -> Iterator[Server]:
    """A fake Airflow api-server on loopback."""
    received: list[dict[str, Any]] = []
    handler = type("Handler", (FakeAirflow,), {"requests": received, "all_admins": False})
    with serve(handler) as url:
        yield Server(url, received, handler)


def with_airflow(settings: Settings, url: str, secret: str | None = "airflow") -> Settings:
    return settings.model_copy(update={"airflow_api_url": url, "airflow_secret": secret})


def store_secret(settings: Settings, password: str = PASSWORD) -> None:
    values = {"username": USERNAME, "password": password}
    set_secret(f"{settings.environment}/airflow/airflow/read", values, settings)


def run_events(settings: Settings) -> int:
    with SessionHelper(settings) as session:
        return session.scalar(select(func.count(RunEvent.id))) or 0


def test_a_run_is_triggered_in_airflow_with_a_token(world: Settings, airflow: Server) -> None:
    store_secret(world)
    settings = with_airflow(world, airflow.url + "/")
    editor = users_for(settings)["editor"]
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        response = client.post(f"/api/pipelines/{pipeline_id(world, 'small')}/runs", headers=editor)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "via": "airflow",
        "run_id": None,
        "dag_run_id": "manual__2025-01-01T00:00:00+00:00_small",
    }
    login, trigger = airflow.requests
    assert (login["method"], login["path"]) == ("POST", "/auth/token")
    assert login["body"] == {"username": USERNAME, "password": PASSWORD}
    assert (trigger["method"], trigger["path"]) == ("POST", "/api/v2/dags/small/dagRuns")
    assert trigger["auth"] == f"Bearer {TOKEN}"
    assert trigger["body"] == {"logical_date": None, "conf": {"triggered_by": "editor@example.com"}}
    assert run_events(world) == 0  # the DAG's RunEvent task creates it, not the API


def test_refused_credentials_are_a_502_naming_url_status_and_detail(
    world: Settings, airflow: Server
) -> None:
    store_secret(world, password="wrong-password")
    settings = with_airflow(world, airflow.url)
    editor = users_for(settings)["editor"]
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        response = client.post(f"/api/pipelines/{pipeline_id(world, 'small')}/runs", headers=editor)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert f"POST {airflow.url}/auth/token" in detail and "HTTP 401" in detail
    assert "Invalid credentials" in detail and "wrong-password" not in detail
    assert len(airflow.requests) == 1


def test_an_unknown_dag_is_reported_with_airflows_detail(world: Settings, airflow: Server) -> None:
    store_secret(world)
    with pytest.raises(OrchestratorError) as caught:
        trigger_dag_run(with_airflow(world, airflow.url), "not_in_airflow", "me@example.com")
    message = str(caught.value)
    assert f"{airflow.url}/api/v2/dags/not_in_airflow/dagRuns" in message
    assert "HTTP 404" in message and "The Dag with ID: `not_in_airflow` was not found" in message


def test_an_unreachable_airflow_is_an_orchestrator_error(world: Settings) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    store_secret(world)
    with SessionHelper(world) as session, pytest.raises(OrchestratorError) as caught:
        service.start_pipeline_run(
            with_airflow(world, closed), session, pipeline_id(world, "small"), "me@example.com"
        )
    assert f"cannot reach Airflow's REST API at {closed}/auth/token" in str(caught.value)


def test_without_a_secret_the_all_admins_token_is_used(world: Settings, airflow: Server) -> None:
    settings = with_airflow(world, airflow.url, secret=None)
    with pytest.raises(OrchestratorError, match="HTTP 403.*all_admins is not enabled"):
        trigger_dag_run(settings, "small", "me@example.com")
    airflow.handler.all_admins = True
    assert trigger_dag_run(settings, "small", "me@example.com").endswith("_small")
    assert [(r["method"], r["path"]) for r in airflow.requests] == [
        ("GET", "/auth/token"),
        ("GET", "/auth/token"),
        ("POST", "/api/v2/dags/small/dagRuns"),
    ]


def test_a_missing_airflow_secret_is_named(world: Settings, airflow: Server) -> None:
    with pytest.raises(SecretNotFoundError, match="airflow"):
        trigger_dag_run(with_airflow(world, airflow.url), "small", "me@example.com")
    assert airflow.requests == []


def test_an_incomplete_airflow_secret_names_what_it_lacks(world: Settings, airflow: Server) -> None:
    set_secret("dev/airflow/airflow/read", {"username": USERNAME}, world)
    with pytest.raises(SecretError, match="has no password"):
        trigger_dag_run(with_airflow(world, airflow.url), "small", "me@example.com")


def _failed_run(settings: Settings, pipeline: str, dag_run_id: str | None) -> int:
    """A failed run of ``pipeline``, as if the DAG run ``dag_run_id`` had recorded it."""
    from core.plan import load_plan
    from core.runs import finish_run, start_run

    with SessionHelper(settings, actor="test") as session:
        event = start_run(session, load_plan(session, pipeline), "schedule", dag_run_id)
        finish_run(session, event.id, failed=True)
        return event.id


def test_a_resume_under_airflow_repins_and_clears_the_failed_tasks_with_downstream(
    world: Settings, airflow: Server
) -> None:
    store_secret(world)
    settings = with_airflow(world, airflow.url)
    editor = users_for(settings)["editor"]
    dag_run = "scheduled__2026-12-01T00:00:00+00:00"
    run_id = _failed_run(world, "failing", dag_run)
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        answer = client.post(f"/api/runs/{run_id}/resume", json={}, headers=editor)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"via": "airflow", "run_id": run_id, "dag_run_id": dag_run}
        shown = client.get(f"/api/runs/{run_id}", headers=editor).json()
    _login, clear = airflow.requests
    assert (clear["method"], clear["path"]) == ("POST", "/api/v2/dags/failing/clearTaskInstances")
    assert clear["body"] == {
        "dry_run": False,
        "dag_run_id": dag_run,
        "only_failed": True,
        "include_downstream": True,
        "reset_dag_runs": True,
    }
    assert clear["auth"] == f"Bearer {TOKEN}"
    # re-pinned before Airflow was asked, so the cleared tasks run with the fix
    assert (shown["state"], shown["resumed_by"], shown["dag_run_id"]) == (
        "running",
        "editor@example.com",
        dag_run,
    )
    assert shown["configuration"] == "current"


def test_a_resume_under_airflow_is_refused_without_a_dag_run_and_undone_if_nothing_cleared(
    world: Settings, airflow: Server
) -> None:
    store_secret(world)
    settings = with_airflow(world, airflow.url)
    users = users_for(settings)
    editor, viewer = users["editor"], users["viewer"]
    local = _failed_run(world, "failing", None)
    nothing = _failed_run(world, "small", "manual__2026-12-02T00:00:00+00:00")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        refused = client.post(f"/api/runs/{local}/resume", json={}, headers=editor)
        assert refused.status_code == 409
        assert "not recorded by an Airflow DAG run" in refused.json()["detail"]
        assert airflow.requests == []
        failed = client.post(f"/api/runs/{nothing}/resume", json={}, headers=editor)
        assert failed.status_code == 502, failed.text
        assert "cleared no task" in failed.json()["detail"]
        assert client.get(f"/api/runs/{nothing}", headers=editor).json()["state"] == "failed"
        as_viewer = client.post(f"/api/runs/{nothing}/resume", json={}, headers=viewer)
        assert as_viewer.status_code == 403


def test_a_cancel_under_airflow_marks_the_dag_run_failed_and_records_who(
    world: Settings, airflow: Server
) -> None:
    from core.plan import load_plan
    from core.runs import start_run

    store_secret(world)
    settings = with_airflow(world, airflow.url)
    editor = users_for(settings)["editor"]
    dag_run = "scheduled__2026-12-03T06:00:00+00:00"
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, load_plan(session, "small"), "schedule", dag_run).id
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        answer = client.post(f"/api/runs/{run_id}/cancel", headers=editor)
        assert answer.status_code == 202, answer.text
        assert answer.json()["stopped"] is True
        shown = client.get(f"/api/runs/{run_id}", headers=editor).json()
    patch = airflow.requests[-1]
    assert (patch["method"], patch["path"]) == (
        "PATCH",
        "/api/v2/dags/small/dagRuns/scheduled__2026-12-03T06%3A00%3A00%2B00%3A00",
    )
    assert patch["body"] == {"state": "failed"} and patch["auth"] == f"Bearer {TOKEN}"
    assert (shown["state"], shown["cancelled_by"]) == ("cancelled", "editor@example.com")


def test_a_task_rerun_under_airflow_clears_that_task_with_its_downstream(
    world: Settings, airflow: Server
) -> None:
    store_secret(world)
    settings = with_airflow(world, airflow.url)
    editor = users_for(settings)["editor"]
    dag_run = "manual__2026-12-03T00:00:00+00:00"
    run_id = _failed_run(world, "failing", dag_run)
    tasks = transformation_ids(world, "failing")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        answer = client.post(
            f"/api/runs/{run_id}/tasks/{tasks['doubled']}/rerun", json={}, headers=editor
        )
        assert answer.status_code == 202, answer.text
        shown = client.get(f"/api/runs/{run_id}", headers=editor).json()
    clear = airflow.requests[-1]
    assert clear["path"] == "/api/v2/dags/failing/clearTaskInstances"
    task_id = next(t["task_id"] for t in shown["tasks"] if t["template"] == "doubled")
    assert clear["body"] == {
        "dry_run": False,
        "dag_run_id": dag_run,
        "include_downstream": True,
        "reset_dag_runs": True,
        "only_failed": False,
        "task_ids": [task_id],
    }
    assert (shown["state"], shown["resumed_by"]) == ("running", "editor@example.com")
