"""EndRun's close_run: it never closes a run while one of its tasks is still running."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.airflow.dagbuilder.run_events import TasksStillRunningError, close_run
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import begin_task, end_task, get_run, start_run, task_runs
from core.worker import worker_identity


def _running_ingest(world, worker: str):
    with SessionHelper(world) as session:
        plan = load_plan(session, "small")
        run_id = start_run(session, plan, "airflow").id
        ingest = plan.tasks[0]
        begin_task(session, run_id, ingest.transformation_id, worker=worker)
    return plan, run_id, ingest


def _all_success(plan) -> dict[str, str]:
    return {task.task_id: "success" for task in plan.tasks}


def test_end_run_waits_for_a_task_whose_worker_still_runs(world) -> None:
    plan, run_id, ingest = _running_ingest(world, worker_identity())  # alive: this process
    looks: list[float] = []

    def worker_finishes_meanwhile(seconds: float) -> None:
        looks.append(seconds)
        with SessionHelper(world) as session:
            row = task_runs(session, run_id)[ingest.transformation_id]
            assert get_run(session, run_id).state == "running"  # not closed under it
            end_task(session, row, "failed", error_summary="terminated by signal SIGTERM")

    end = close_run(world, plan, run_id, _all_success(plan), sleep=worker_finishes_meanwhile)
    assert looks, "close_run did not wait for the running task"
    assert end.failed_task_ids == [ingest.task_id]
    with SessionHelper(world) as session:
        event = get_run(session, run_id)
        row = task_runs(session, run_id)[ingest.transformation_id]
        assert event.state == "failed" and event.ended_at >= row.ended_at


def test_end_run_does_not_close_a_run_whose_task_outlives_the_wait(world) -> None:
    plan, run_id, ingest = _running_ingest(world, worker_identity())
    with pytest.raises(TasksStillRunningError, match=rf"{ingest.task_id} \(worker .*still ran"):
        close_run(world, plan, run_id, _all_success(plan), wait=0)
    with SessionHelper(world) as session:
        event = get_run(session, run_id)
        assert event.state == "running" and event.ended_at is None


def test_end_run_ends_a_dead_worker_s_task_and_closes_the_run_failed(world) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    host = worker_identity().rpartition(":")[0]
    plan, run_id, ingest = _running_ingest(world, f"{host}:{gone.stdout.strip()}")
    end = close_run(world, plan, run_id, _all_success(plan), sleep=pytest.fail)
    assert end.failed_task_ids == [ingest.task_id]
    with SessionHelper(world) as session:
        row = task_runs(session, run_id)[ingest.transformation_id]
        assert row.state == "failed" and "ended without recording how" in row.error_summary
        assert get_run(session, run_id).state == "failed"
