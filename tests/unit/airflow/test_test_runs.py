"""`airflow tasks test` of RunEvent: the run is marked as a test and never left running."""

from __future__ import annotations

from core.airflow.dagbuilder.run_events import open_run
from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from core.runs import get_run
from tests.support.lineage import WORLD
from tests.support.worlds import load_test_world


def test_a_tasks_test_run_is_marked_and_closed_and_a_real_one_stays_open(core_env) -> None:
    settings = load_test_world(WORLD)
    with SessionHelper(settings) as session:
        plan = load_plan(session, "small")
    tested = open_run(
        settings, plan, dag_run_id="__airflow_temporary_run_2026-12-02T12:00:00+00:00__"
    )
    real = open_run(settings, plan, dag_run_id="manual__2026-12-02T12:00:00+00:00")
    with SessionHelper(settings) as session:
        test_run, real_run = get_run(session, tested), get_run(session, real)
        assert (test_run.triggered_by, test_run.state) == ("airflow tasks test", "success")
        assert test_run.ended_at is not None
        assert (real_run.triggered_by, real_run.state) == ("airflow", "running")
