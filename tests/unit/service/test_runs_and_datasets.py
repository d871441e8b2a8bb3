"""The run, dataset and audit services: bounded queries, trigger choice, JSON-safe values."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from core.errors import OrchestratorError
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runner import detached
from core.runs import begin_task, end_task, start_run
from core.service import audit, runs
from core.service.datasets import json_safe
from core.settings import Settings
from tests.support.queries import counted


def make_runs(settings: Settings, how_many: int) -> list[int]:
    ids = []
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, "failing")
        for _ in range(how_many):
            run_id = start_run(session, plan, "test").id
            for task in plan.tasks:
                end_task(session, begin_task(session, run_id, task.transformation_id), "success")
            ids.append(run_id)
    return ids


def test_the_runs_list_and_a_run_take_a_fixed_number_of_queries(world: Settings) -> None:
    ids = make_runs(world, 12)
    with SessionHelper(world) as session:
        with counted(session) as statements:
            rows, total = runs.list_runs(session, limit=10)
        assert total == 12 and len(rows) == 10 and len(statements) == 3
        assert rows[0].task_counts == {"success": 4}
        session.expire_all()
        with counted(session) as statements:
            detail = runs.run_detail(session, ids[-1])
        assert len(detail.tasks) == 4 and detail.previous_run_id == ids[-2]
        assert detail.changes == [] and len(detail.snapshots) == 1
        # each task's output is compared with the last run in which it succeeded
        assert {task.diff_against for task in detail.tasks} == {ids[-2]}
        # seven, and one more as the run is still running: core.runs.reap looks for dead workers
        assert len(statements) == 8


def test_the_audit_list_takes_two_queries(world: Settings) -> None:
    with SessionHelper(world) as session, counted(session) as statements:
        events, total = audit.list_events(session, table="pipelines", limit=5)
    assert total >= len(events) > 0 and len(statements) == 2


def test_the_trigger_follows_the_settings(world: Settings) -> None:
    assert runs.trigger_name(world) == "local"
    with_airflow = world.model_copy(update={"airflow_api_url": "http://airflow:8080"})
    assert runs.trigger_name(with_airflow) == "airflow"
    assert set(runs.TRIGGERS) == {"local", "airflow"}


def test_values_are_made_json_safe() -> None:
    assert json_safe(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_safe(decimal.Decimal("1.50")) == "1.50"
    assert json_safe(float("-inf")) == "-inf" and json_safe(0.25) == 0.25
    assert json_safe({"a": [b"x", None, True]}) == {"a": ["b'x'", None, True]}
    assert json_safe([("k", dt.time(1, 2))]) == [["k", "01:02:00"]]


def test_a_runner_that_cannot_start_fails_the_run(world: Settings, monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise PermissionError("exec refused")

    with SessionHelper(world, actor="test") as session:
        small = load_plan(session, "small").pipeline_id
        monkeypatch.setattr(detached.subprocess, "Popen", refuse)
        with pytest.raises(OrchestratorError, match="cannot start the local runner for run 1"):
            runs.start_pipeline_run(world, session, small, "editor@example.com")
        monkeypatch.undo()
        session.expire_all()
        assert runs.run_detail(session, 1).state == "failed"
