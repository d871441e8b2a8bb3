"""Run events and task runs as every orchestrator records them (core/runs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import begin_task, start_run, task_runs
from core.settings import Settings
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
