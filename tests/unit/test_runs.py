"""Run events and task runs as every orchestrator records them (core/runs.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.run_controls import claim_run
from core.runs import begin_task, get_run, reap, resume_run, start_run, task_runs
from core.settings import Settings
from core.worker import worker_identity
from tests.support.worlds import load_test_world
from tests.unit.runner.test_stopping import WORLD


@pytest.fixture
def world(core_env: Path) -> Settings:
    return load_test_world(WORLD)


def test_two_workers_of_one_task_count_two_attempts(world) -> None:
    """The attempt is counted in the database: a worker that read the row before another
    worker of the same task began (a retry racing a stale worker, a re-run) counts on."""
    with SessionHelper(world, actor="test") as first, SessionHelper(world, actor="test") as late:
        plan = load_plan(first, "stoppable")
        run_id = start_run(first, plan, "test").id
        tid = plan.tasks[0].transformation_id
        begin_task(first, run_id, tid)
        stale = task_runs(late, run_id)[tid]  # read at attempt 1
        assert stale.attempt == 1
        begin_task(first, run_id, tid)  # attempt 2, committed meanwhile
        assert begin_task(late, run_id, tid).attempt == 3  # not 2 again
    with SessionHelper(world) as session:
        assert task_runs(session, run_id)[tid].attempt == 3


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_a_look_ends_a_run_whose_runner_is_gone_once_none_of_its_tasks_runs(world) -> None:
    """A runner killed without a word leaves its run running; its workers stop by themselves."""
    host = socket.gethostname()
    with SessionHelper(world, actor="test") as session:
        plan = load_plan(session, "stoppable")
        orphan, alive, busy, airflow = (start_run(session, plan, "test").id for _ in range(4))
        claim_run(session, orphan, f"{host}:{_dead_pid()}")
        claim_run(session, alive, worker_identity())  # this process: its runner lives
        claim_run(session, busy, f"{host}:{_dead_pid()}")
        begin_task(session, busy, plan.tasks[0].transformation_id, worker_identity())
        reaped = reap(session)
    assert [(r.run_id, r.transformation_id, r.run_ended) for r in reaped] == [(orphan, None, True)]
    assert f"run {orphan}: its runner ({host}:" in reaped[0].message
    with SessionHelper(world) as session:
        states = {run: get_run(session, run).state for run in (orphan, alive, busy, airflow)}
        assert get_run(session, orphan).ended_at is not None
        assert reap(session) == []  # nothing is ended twice
        resume_run(session, orphan, "pinned", "test")  # until its new runner claims it
        assert reap(session) == [] and get_run(session, orphan).state == "running"
    assert states == {orphan: "failed", alive: "running", busy: "running", airflow: "running"}
