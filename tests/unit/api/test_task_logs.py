"""A task's log through the API: tail, range, follow, download, masked, by role, 404s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.helpers.session_helper import SessionHelper
from core.runner.report import task_log_path
from core.runs import end_task, task_runs
from core.secret import set_secret
from core.settings import Settings
from tests.unit.api.test_runs import recorded_run
from tests.unit.api.worlds import transformation_ids, users_for

Headers = dict[str, dict[str, str]]
PASSWORD = "hunter2-very-secret"


@pytest.fixture
def client(world: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(world), base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def users(world: Settings) -> Headers:
    return users_for(world)


@pytest.fixture
def logged(world: Settings) -> tuple[int, int, str]:
    """A finished run whose doubled task wrote 1,000 lines, one of them a stored password."""
    set_secret("dev/FTP/acme/read", {"host": "h", "user": "u", "password": PASSWORD}, world)
    run_id = recorded_run(world, "small", {"numbers": "success", "doubled": "failed"})
    doubled = transformation_ids(world, "small")["doubled"]
    path = task_log_path(world, run_id, f"master_doubled_{doubled}")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"line {n}\n" for n in range(1, 1001)]
    lines[997] = f"connecting with password {PASSWORD} to sftp://u:{PASSWORD}@h/in\n"
    path.write_text("".join(lines))
    return run_id, doubled, str(path)


def _url(run_id: int, tid: int) -> str:
    return f"/api/runs/{run_id}/tasks/{tid}/log"


def test_the_tail_of_a_finished_task_is_shown_with_its_secrets_masked(
    client: TestClient, users: Headers, logged: tuple[int, int, str]
) -> None:
    run_id, doubled, path = logged
    answer = client.get(_url(run_id, doubled), params={"tail": 5}, headers=users["viewer"])
    assert answer.status_code == 200, answer.text
    log = answer.json()
    assert log["text"].splitlines() == [
        "line 996",
        "line 997",
        "connecting with password *** to sftp://u:***@h/in",
        "line 999",
        "line 1000",
    ]
    assert PASSWORD not in answer.text
    assert log["state"] == "failed" and log["complete"] is True
    assert log["source"] == "file" and log["where"] == path
    assert log["next_offset"] == Path(path).stat().st_size


def test_a_range_from_an_offset_ends_on_a_whole_line_and_continues_from_there(
    client: TestClient, users: Headers, logged: tuple[int, int, str]
) -> None:
    run_id, doubled, _ = logged
    url, viewer = _url(run_id, doubled), users["viewer"]
    first = client.get(url, params={"offset": 0, "limit": 20}, headers=viewer).json()
    assert first["text"] == "line 1\nline 2\n"  # "line 3\n" would pass 20 bytes: not cut
    assert first["complete"] is False  # more to read
    second = client.get(url, params={"offset": first["next_offset"]}, headers=viewer).json()
    assert second["text"].startswith("line 3\n") and second["text"].endswith("line 1000\n")
    assert second["complete"] is True


def test_the_whole_log_downloads_as_a_masked_text_file(
    client: TestClient, users: Headers, logged: tuple[int, int, str]
) -> None:
    run_id, doubled, _ = logged
    answer = client.get(_url(run_id, doubled), params={"download": True}, headers=users["viewer"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    expected = f'attachment; filename="run_{run_id}_master_doubled_{doubled}.log"'
    assert answer.headers["content-disposition"] == expected
    assert answer.text.count("\n") == 1000 and PASSWORD not in answer.text


def test_a_running_task_is_followed_until_it_ends(
    world: Settings, client: TestClient, users: Headers
) -> None:
    run_id = recorded_run(world, "small", {"numbers": "success"})
    doubled = transformation_ids(world, "small")["doubled"]
    with SessionHelper(world, actor="test") as session:
        from core.runs import begin_task

        begin_task(session, run_id, doubled)
    path = task_log_path(world, run_id, f"master_doubled_{doubled}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("started\n")

    def work_then_end() -> None:
        for n in range(3):
            time.sleep(0.3)
            with path.open("a") as log:
                log.write(f"step {n}\n")
        with SessionHelper(world, actor="test") as session:
            end_task(session, task_runs(session, run_id)[doubled], "success")

    worker = threading.Thread(target=work_then_end)
    worker.start()
    answer = client.get(
        _url(run_id, doubled), params={"follow": True, "tail": 10}, headers=users["viewer"]
    )
    worker.join()
    assert answer.status_code == 200
    assert answer.text == "started\nstep 0\nstep 1\nstep 2\n"


def test_a_task_that_wrote_nothing_yet_has_an_empty_log_not_an_error(
    world: Settings, client: TestClient, users: Headers
) -> None:
    run_id = recorded_run(world, "small", {})
    numbers = transformation_ids(world, "small")["numbers"]
    log = client.get(_url(run_id, numbers), headers=users["viewer"]).json()
    assert log["state"] == "pending" and log["source"] is None and log["text"] == ""
    assert log["complete"] is False


def test_unknown_runs_and_tasks_are_404_and_bad_ranges_422(
    client: TestClient, users: Headers, logged: tuple[int, int, str]
) -> None:
    run_id, doubled, _ = logged
    viewer = users["viewer"]
    missing_run = client.get(_url(999_999, doubled), headers=viewer)
    assert missing_run.status_code == 404 and "999999" in missing_run.json()["detail"]
    missing_task = client.get(_url(run_id, 999_999), headers=viewer)
    assert missing_task.status_code == 404
    assert f"run {run_id} has no task of transformation 999999" in missing_task.json()["detail"]
    assert client.get(_url(run_id, doubled), params={"tail": -1}, headers=viewer).status_code == 422
    too_much = client.get(_url(run_id, doubled), params={"limit": 0}, headers=viewer)
    assert too_much.status_code == 422


def test_a_log_needs_a_signed_in_user(client: TestClient, logged: tuple[int, int, str]) -> None:
    run_id, doubled, _ = logged
    assert client.get(_url(run_id, doubled)).status_code == 401


def test_a_run_airflow_recorded_links_each_task_to_its_try_in_airflow(world: Settings) -> None:
    from sqlalchemy import update

    from core.models.runs import RunEvent, TaskRun

    run_id = recorded_run(world, "small", {"numbers": "success"})
    numbers = transformation_ids(world, "small")["numbers"]
    with SessionHelper(world, actor="test") as session:
        session.execute(update(RunEvent).values(dag_run_id="manual__2026-12-04T01:00:00+00:00"))
        session.execute(update(TaskRun).values(try_number=2))
        session.commit()
    linked = world.model_copy(update={"airflow_api_url": "http://airflow.test:8080/"})
    with TestClient(create_app(linked), base_url="https://testserver") as client:
        viewer = users_for(world)["viewer"]
        detail = client.get(f"/api/runs/{run_id}", headers=viewer).json()
        task = next(t for t in detail["tasks"] if t["transformation_id"] == numbers)
        expected = (
            "http://airflow.test:8080/dags/small/runs/manual__2026-12-04T01%3A00%3A00%2B00%3A00"
            f"/tasks/ingest_numbers_{numbers}?try_number=2"
        )
        assert task["airflow_url"] == expected and task["try_number"] == 2
        assert task["log_url"] == f"/api/runs/{run_id}/tasks/{numbers}/log"
        log = client.get(_url(run_id, numbers), headers=viewer).json()
        assert log["airflow_url"] == expected
