"""Runs through the API: start one (local runner, or Airflow's REST API), list, show."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import begin_task, end_task, start_run
from core.service import runs as service
from core.settings import Settings
from tests.support.locking import patch_latest
from tests.unit.api.worlds import pipeline_id, transformation_ids, users_for, wait_for_run


@pytest.fixture
def world_app(world: Settings) -> FastAPI:
    """The application over the small world's database."""
    return create_app(world)


@pytest.fixture
def wclient(world_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(world_app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def wusers(world: Settings) -> dict[str, dict[str, str]]:
    return users_for(world)


def recorded_run(settings: Settings, pipeline: str, states: dict[str, str]) -> int:
    """A run of ``pipeline`` recorded without running anything: template -> task state."""
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, pipeline)
        run_id = start_run(session, plan, triggered_by="test").id
        for task in plan.tasks:
            if task.template in states:
                row = begin_task(session, run_id, task.transformation_id)
                end_task(session, row, states[task.template], rows_out=3)
        return run_id


def test_a_started_run_completes_then_its_dataset_is_previewed_and_diffed(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    editor, viewer = wusers["editor"], wusers["viewer"]
    small = pipeline_id(world, "small")
    started = wclient.post(f"/api/pipelines/{small}/runs", headers=editor)
    assert started.status_code == 202, started.text
    assert started.json()["via"] == "local" and started.json()["dag_run_id"] is None
    first = wait_for_run(wclient, viewer, started.json()["run_id"])
    assert first["state"] == "success", first
    assert first["triggered_by"] == "editor@example.com"
    assert [t["template"] for t in first["tasks"]] == ["numbers", "doubled"]
    assert [t["state"] for t in first["tasks"]] == ["success", "success"]
    assert first["tasks"][1]["rows_out"] == 5 and first["previous_run_id"] is None
    # Times carry their UTC offset, like every other output (SQLite stores them naive).
    assert first["started_at"].endswith(("Z", "+00:00"))
    assert first["tasks"][0]["ended_at"].endswith(("Z", "+00:00"))
    assert (world.home / "logs" / f"run_{first['id']}" / "runner.log").is_file()

    doubled = transformation_ids(world, "small")["doubled"]
    shown = wclient.get(f"/api/datasets/{doubled}/preview", headers=viewer).json()
    assert shown["run_id"] == first["id"] and shown["columns"] == ["n"]
    assert shown["rows"] == [[0], [2], [4], [6], [8]] and shown["total_rows"] == 5

    numbers = transformation_ids(world, "small")["numbers"]
    patched = patch_latest(
        wclient, f"/api/transformations/{numbers}", {"variables": {"count": 7}}, editor
    )
    assert patched.status_code == 200, patched.text
    again = wclient.post(f"/api/pipelines/{small}/runs", headers=editor).json()
    second = wait_for_run(wclient, viewer, again["run_id"])
    assert second["state"] == "success" and second["previous_run_id"] == first["id"]
    assert first["changes"] == [] and second["configuration"] == "current"
    assert second["changes"] == [
        {
            "transformation_id": numbers,
            "transformation": f"ingest/numbers ({numbers})",
            "what": "variable count",
            "before": "5",
            "after": "7",
        }
    ]
    assert [s["pinned_by"] for s in second["snapshots"]] == ["editor@example.com"]

    changes = wclient.get(f"/api/datasets/{doubled}/diff", headers=viewer).json()
    assert (changes["run_id"], changes["against"]) == (second["id"], first["id"])
    assert changes["added_count"] == 2 and changes["removed_count"] == 0
    assert sorted(changes["added"]["rows"]) == [[10], [12]]
    listed = wclient.get(f"/api/runs?pipeline_id={small}", headers=viewer).json()
    assert [r["id"] for r in listed["items"]] == [second["id"], first["id"]]
    assert listed["items"][0]["task_counts"] == {"success": 2}


def test_a_viewer_cannot_start_a_run(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    response = wclient.post(
        f"/api/pipelines/{pipeline_id(world, 'small')}/runs", headers=wusers["viewer"]
    )
    assert response.status_code == 403
    assert wclient.get("/api/runs", headers=wusers["viewer"]).json()["total"] == 0


def test_starting_an_unknown_pipeline_is_404(
    wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    response = wclient.post("/api/pipelines/999/runs", headers=wusers["editor"])
    assert response.status_code == 404
    assert "no pipeline with id 999" in response.json()["detail"]


def test_a_pipeline_without_transformations_is_not_started(
    wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    editor = wusers["editor"]
    brand = wclient.get("/api/brands", headers=editor).json()["items"][0]["id"]
    kind = wclient.get("/api/pipeline-types", headers=editor).json()["items"][0]["id"]
    body = {"name": "empty", "brand_id": brand, "pipeline_type_id": kind, "is_active": False}
    created = wclient.post("/api/pipelines", json=body, headers=editor)
    assert created.status_code == 201, created.text
    response = wclient.post(f"/api/pipelines/{created.json()['id']}/runs", headers=editor)
    assert response.status_code == 422
    assert "pipeline 'empty'" in response.json()["detail"]
    assert "has no transformations" in response.json()["detail"]


def test_runs_are_listed_newest_first_with_filters_and_paging(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    viewer = wusers["viewer"]
    first = recorded_run(world, "small", {"numbers": "success"})
    failing = recorded_run(world, "failing", {"numbers": "success", "broken": "failed"})
    page = wclient.get("/api/runs", headers=viewer).json()
    assert page["total"] == 2 and [r["id"] for r in page["items"]] == [failing, first]
    row = page["items"][0]
    assert row["pipeline_name"] == "failing" and row["state"] == "running"
    assert row["task_counts"] == {"success": 1, "failed": 1, "pending": 2}
    assert page["items"][1]["task_counts"] == {"success": 1, "pending": 1}
    small = pipeline_id(world, "small")
    only = wclient.get(f"/api/runs?pipeline_id={small}", headers=viewer).json()
    assert [r["id"] for r in only["items"]] == [first]
    paged = wclient.get("/api/runs?limit=1&offset=1", headers=viewer).json()
    assert paged["total"] == 2 and [r["id"] for r in paged["items"]] == [first]
    assert wclient.get("/api/runs?state=success", headers=viewer).json()["total"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "state=done",
        "limit=0",
        "limit=501",
        "offset=-1",
        "offset=3000000000",
        "pipeline_id=abc",
        "pipeline_id=3000000000",
    ],
)
def test_bad_list_parameters_are_422(
    wclient: TestClient, wusers: dict[str, dict[str, str]], query: str
) -> None:
    assert wclient.get(f"/api/runs?{query}", headers=wusers["viewer"]).status_code == 422


def test_list_runs_refuses_an_unknown_state_with_a_suggestion(world: Settings) -> None:
    with SessionHelper(world) as session, pytest.raises(Exception, match="Did you mean 'failed'"):
        service.list_runs(session, state="faild")


def test_a_run_shows_its_tasks_in_plan_order_pending_until_they_run(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    run_id = recorded_run(world, "failing", {"broken": "failed"})
    body = wclient.get(f"/api/runs/{run_id}", headers=wusers["viewer"]).json()
    assert [t["state_name"] for t in body["tasks"]] == ["ingest", "ingest", "master", "metrics"]
    assert [t["group_step"] for t in body["tasks"]] == [0, 0, 1, 2]
    assert [t["state"] for t in body["tasks"]] == ["pending", "failed", "pending", "pending"]
    broken = body["tasks"][1]
    assert broken["task_id"] == f"ingest_broken_{broken['transformation_id']}"
    assert broken["attempt"] == 1 and broken["duration_seconds"] is not None
    assert broken["notebook_url"] is None and body["previous_run_id"] is None


def test_a_run_keeps_tasks_whose_transformation_was_deleted(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    run_id = recorded_run(world, "failing", {})
    noop = transformation_ids(world, "failing")["noop"]
    deleted = wclient.delete(f"/api/transformations/{noop}", headers=wusers["editor"])
    assert deleted.status_code == 204, deleted.text
    body = wclient.get(f"/api/runs/{run_id}", headers=wusers["viewer"]).json()
    assert body["tasks"][-1]["transformation_id"] == noop
    assert body["tasks"][-1]["template"] == "noop"


def test_ids_beyond_the_database_integer_are_422(
    wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    huge = 10**20
    assert wclient.get(f"/api/runs/{huge}", headers=wusers["viewer"]).status_code == 422
    response = wclient.post(f"/api/pipelines/{huge}/runs", headers=wusers["editor"])
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "pipeline_id"


def test_an_unknown_run_is_404(wclient: TestClient, wusers: dict[str, dict[str, str]]) -> None:
    response = wclient.get("/api/runs/4242", headers=wusers["viewer"])
    assert response.status_code == 404
    assert "no run with id 4242" in response.json()["detail"]


def test_a_runner_that_dies_early_leaves_the_run_failed_and_no_zombie(world: Settings) -> None:
    run_id = recorded_run(world, "small", {})
    # The run is of 'small': `core run failing --resume ID` refuses it and exits 2; only
    # the reaper thread waits for the process, and it marks the run failed.
    process = service.spawn_runner(world, "failing", run_id)
    deadline = time.monotonic() + 60
    with SessionHelper(world) as session:
        while service.run_detail(session, run_id).state != "failed":
            assert time.monotonic() < deadline, "the reaper did not mark the run failed"
            session.expire_all()
            time.sleep(0.05)
    assert process.returncode == 2
    with pytest.raises(ChildProcessError):  # reaped: no zombie is left
        os.waitpid(process.pid, os.WNOHANG)
    log = (world.home / "logs" / f"run_{run_id}" / "runner.log").read_text()
    assert f"run {run_id} is a run of 'small'" in log


def test_a_failed_run_is_resumed_as_it_was_or_with_the_current_configuration(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    editor, viewer = wusers["editor"], wusers["viewer"]
    started = wclient.post(f"/api/pipelines/{pipeline_id(world, 'failing')}/runs", headers=editor)
    run_id = started.json()["run_id"]
    assert wait_for_run(wclient, viewer, run_id)["state"] == "failed"
    broken = transformation_ids(world, "failing")["broken"]
    template = wclient.get(f"/api/transformations/{broken}", headers=viewer).json()
    fixed = wclient.patch(  # the fix: the broken template now runs the numbers function
        f"/api/templates/{template['transformation_template_id']}",
        json={
            "entrypoint": "tests.unit.transforms.sample_transforms:numbers",
            "variable_structures": {"count": {"type": "int", "default": 2}},
        },
        headers=wusers["admin"],
    )
    assert fixed.status_code == 200, fixed.text

    path = f"/api/runs/{run_id}/resume"
    bad = wclient.post(path, json={"configuration": "latest"}, headers=editor)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "configuration"]
    assert wclient.post(path, json={}, headers=viewer).status_code == 403

    as_it_was = wclient.post(path, json={"configuration": "pinned"}, headers=editor)
    assert as_it_was.status_code == 202, as_it_was.text
    again = wait_for_run(wclient, viewer, run_id)
    assert again["state"] == "failed" and again["configuration"] == "pinned"
    assert again["resumed_by"] == "editor@example.com"
    assert (
        "no header row"
        in next(t for t in again["tasks"] if t["template"] == "broken")["error_summary"]
    )

    current = wclient.post(path, json={}, headers=editor)  # current: the default after a fix
    assert current.status_code == 202, current.text
    done = wait_for_run(wclient, viewer, run_id)
    assert done["state"] == "success" and done["configuration"] == "current"
    assert [s["number"] for s in done["snapshots"]] == [1, 2]
    assert [s["pinned_by"] for s in done["snapshots"]] == ["editor@example.com"] * 2
    assert done["duration_seconds"] is not None and done["idle_seconds"] > 0
    trail = wclient.get("/api/audit?table=run_snapshots", headers=wusers["admin"]).json()
    assert {e["actor"] for e in trail["items"]} == {"editor@example.com"}
    finished = wclient.post(path, json={}, headers=editor)
    assert (
        finished.status_code == 409
        and "only a failed or cancelled run" in finished.json()["detail"]
    )


def test_a_resume_with_a_configuration_that_fails_its_check_is_refused(
    world: Settings, wclient: TestClient, wusers: dict[str, dict[str, str]]
) -> None:
    from sqlalchemy import select

    import core.models.configuration as config
    from core.runs import finish_run

    run_id = recorded_run(world, "failing", {"numbers": "success", "broken": "failed"})
    with SessionHelper(world, actor="test") as session:
        finish_run(session, run_id, failed=True)
        count = session.scalars(  # a value written past the checks, as an old row might be
            select(config.TransformationVariable).where(
                config.TransformationVariable.name == "count"
            )
        ).all()
        for variable in count:
            variable.value = "many"
        session.commit()
    answer = wclient.post(f"/api/runs/{run_id}/resume", json={}, headers=wusers["editor"])
    assert answer.status_code == 409, answer.text
    assert "fails its check" in answer.json()["detail"] and "count" in answer.json()["detail"]
    with SessionHelper(world) as session:
        run = service.run_detail(session, run_id)
    assert (run.state, run.resumed_by) == ("failed", None)  # left as it was, nothing spawned
    assert not (world.home / "logs" / f"run_{run_id}").exists()
