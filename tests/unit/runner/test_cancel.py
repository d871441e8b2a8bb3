"""Cancelling a run: its runner stops its workers, each task is recorded cancelled.

Real processes: ``core run`` with three workers in native code (a DuckDB query),
in Python (a sleep) and deaf to signals (a C ``system`` call), cancelled from
another process as the API would. The assertions are about what was recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.run_controls import cancel_run
from core.runs import begin_task, finish_run, get_run, reap, resume_run, start_run, task_runs
from core.service.run_controls import cancel_pipeline_run
from core.settings import Settings
from tests.support.worlds import load_test_world
from tests.unit.runner.test_stopping import BOUND, STARTS, WORLD, _kill_group


@pytest.fixture
def world(core_env: Path) -> Settings:
    return load_test_world(WORLD)


def _all_running(settings, count: int, process: subprocess.Popen) -> int:
    """Wait until the run has ``count`` tasks running; its id."""
    deadline = time.monotonic() + BOUND
    while True:
        assert process.poll() is None, "core run ended before its tasks started"
        assert time.monotonic() < deadline, "the tasks did not start"
        with SessionHelper(settings) as session:
            rows = session.scalars(select(config.TaskRun)).all()
            if len([r for r in rows if r.state == "running"]) == count:
                return rows[0].run_event_id
        time.sleep(0.1)


@pytest.mark.parametrize("start", list(STARTS))
def test_a_cancelled_run_stops_every_worker_and_records_them_cancelled(
    world, tmp_path, monkeypatch, start
) -> None:
    monkeypatch.setenv("SLOW_MARKER", str(tmp_path / "started"))
    env = {**os.environ, **world.to_environment()}
    code = STARTS[start].format(argv=["run", "stoppable", "--workers", "3"])
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        run_id = _all_running(world, 3, process)
        while not (tmp_path / "started").exists():
            time.sleep(0.05)
        with SessionHelper(world, actor="ops@example.com") as session:
            assert cancel_pipeline_run(world, session, run_id, "ops@example.com") is True
        assert process.wait(BOUND) == 1  # a cancelled run is not a success
    finally:
        _kill_group(process)  # the deaf transform's own child, which holds the output pipe
    output = process.stdout.read().decode()
    assert f"run {run_id} of stoppable: cancelled" in output, output
    with SessionHelper(world) as session:
        event, rows = get_run(session, run_id), task_runs(session, run_id)
    assert (event.state, event.cancelled_by) == ("cancelled", "ops@example.com")
    assert event.ended_at is not None
    ended = sorted((row.state, row.error_summary) for row in rows.values())
    assert [state for state, _ in ended] == ["cancelled"] * 3, ended
    assert all(row.ended_at is not None for row in rows.values())
    output = DatasetContract("acme", "zentrix", "ingest", "long_query", settings=world)
    assert not output.exists()  # the lake is as it was


def test_a_cancelled_run_stays_cancelled_and_its_dead_workers_are_reaped_cancelled(
    world,
) -> None:
    with SessionHelper(world, actor="test") as session:
        plan = load_plan(session, "stoppable")
        run_id = start_run(session, plan, "test").id
        first, second = plan.tasks[0].transformation_id, plan.tasks[1].transformation_id
        begin_task(session, run_id, first, worker=f"{os.uname().nodename}:999999999")
        begin_task(session, run_id, second, worker="another-host:1")  # cannot be checked
        cancel_run(session, run_id, "ops@example.com")
        reaped = reap(session)
        assert [(r.run_id, r.transformation_id, r.state, r.run_ended) for r in reaped] == [
            (run_id, first, "cancelled", False)
        ]
        assert "recorded cancelled" in reaped[0].message
        assert finish_run(session, run_id, failed=True).state == "cancelled"  # the runner's end
        rows = task_runs(session, run_id)
        assert (rows[first].state, rows[second].state) == ("cancelled", "running")

        resume_run(session, run_id, "pinned", "ops@example.com")  # a cancelled run resumes
        event = get_run(session, run_id)
        assert (event.state, event.cancelled_by, event.ended_at) == ("running", None, None)
