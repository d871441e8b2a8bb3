"""docs/airflow.md's laptop set-up, followed step by step with the real Airflow processes.

Slow (minutes: every task is a process that parses the DAG file and starts a worker),
so it runs once per suite, in one test, within a generous timeout.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.database.seed import PipelineSpec, load_world, sample_world
from core.demo.run import LANDING, PIPELINE
from core.demo.source import generate
from core.helpers.session_helper import SessionHelper
from core.models.configuration import (
    Pipeline,
    PipelineState,
    Transformation,
    TransformationVariable,
)
from core.models.runs import RunEvent
from core.runs import task_runs
from core.service.airflow_api import trigger_dag_run
from core.service.run_controls import resume_pipeline_run
from core.settings import load_settings
from tests.support.airflow import REPOSITORY
from tests.support.airflow_services import services

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3000)]
RUN_TIMEOUT = 1200  # the stages' timeouts sum to less than the test's (3000 s)
# Starts when the demo pipeline publishes its metrics (an asset event in Airflow). Its
# query fails until the test fixes it; then the runbook's Resume (CORE re-pins the run and
# clears its failed tasks in Airflow, downstream and EndRun included) finishes the same run.
DEPENDANT = "acme_zentrix_fill_report"
BROKEN = "select error('held back on purpose until the test fixes this query')"
FIXED = "select 1 as report_ready"
DEPENDANT_SPEC = {
    "name": DEPENDANT,
    "company": "acme_pharma",
    "brand": "zentrix",
    "type": "specialty_pharmacy",
    "dataset_schedule": {"any": ["acme_pharma/zentrix/metrics/fill_metrics"]},
    "states": [
        {
            "state": "enrich",
            "transformations": [
                {
                    "template": "sql",
                    "variables": {"inputs": [], "dataset": "fill_report", "query": BROKEN},
                }
            ],
        },
        {"state": "dimensional", "transformations": [{"template": "noop"}]},
    ],
}


def _runs(settings) -> list[RunEvent]:
    with SessionHelper(settings) as session:
        runs = session.scalars(
            select(RunEvent).options(joinedload(RunEvent.pipeline)).order_by(RunEvent.id)
        ).all()
        session.expunge_all()
        return list(runs)


def _fix_and_resume(airflow, settings) -> int:
    """docs/runbook.md: fix the variable, then Resume the failed run in CORE.

    CORE re-pins the run to the current configuration and asks Airflow to clear the failed
    tasks with their downstream tasks (EndRun included); a raw clear in Airflow would
    re-run the run's pinned snapshot, the broken query with it. Returns the run's id.
    """
    runs = airflow.api("GET", f"/api/v2/dags/{DEPENDANT}/dagRuns").json()["dag_runs"]
    failed = [r["dag_run_id"] for r in runs if r["state"] == "failed"]
    with SessionHelper(settings, actor="test") as session:
        query = session.scalars(
            select(TransformationVariable)
            .join(Transformation)
            .join(PipelineState)
            .join(Pipeline)
            .where(Pipeline.name == DEPENDANT, TransformationVariable.name == "query")
        ).one()
        query.value = FIXED
        session.commit()
        (run_id,) = session.scalars(
            select(RunEvent.id).where(RunEvent.dag_run_id == failed[0], RunEvent.state == "failed")
        ).all()
        started = resume_pipeline_run(settings, session, run_id, "current", "test@example.com")
    assert (started.via, started.dag_run_id) == ("airflow", failed[0]), started

    def rerun() -> str | None:
        path = f"/api/v2/dags/{DEPENDANT}/dagRuns/{failed[0]}"
        state = airflow.api("GET", path).json()["state"]
        return state if state in ("success", "failed") else None

    assert airflow.wait_for(f"the resumed run {failed[0]}", rerun, 600) == "success", airflow.logs()
    return run_id


def test_the_laptop_setup_runs_the_demo_dag_and_core_records_it(
    core_env: Path, tmp_path: Path, monkeypatch
) -> None:
    # CORE's settings, as for any CORE process.
    monkeypatch.setenv("CORE_DAG_START_DATE", dt.datetime.now(dt.UTC).date().isoformat())
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(REPOSITORY / "transforms"))
    airflow = services(tmp_path / "airflow", {})
    monkeypatch.setenv("CORE_AIRFLOW_API_URL", airflow.url)
    settings = load_settings()
    airflow.env.update(settings.to_environment())
    world = sample_world()
    world.pipelines.append(PipelineSpec.model_validate(DEPENDANT_SPEC))
    with SessionHelper(settings, actor="test") as session:
        load_world(session, world)
        # Run now only: unpausing the @daily DAG would also start today's scheduled run,
        # the whole demo a second time before ours (one run at a time).
        session.execute(
            update(Pipeline).where(Pipeline.name == PIPELINE).values(run_frequency="none")
        )
        session.commit()
    generate(settings.home / LANDING, rows=1000)  # (fewer can give a pharmacy no bad date)

    migrated = airflow.airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    airflow.start()
    try:
        airflow.wait_for(
            f"the DAG {PIPELINE}",
            lambda: airflow.api("GET", f"/api/v2/dags/{PIPELINE}").status_code == 200,
            timeout=300,
        )
        for dag_id in (PIPELINE, DEPENDANT):
            unpaused = airflow.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
            assert unpaused.status_code == 200, unpaused.text
        dag_run_id = trigger_dag_run(settings, PIPELINE, "test")  # CORE's "run now" client

        def finished() -> str | None:
            answer = airflow.api("GET", f"/api/v2/dags/{PIPELINE}/dagRuns/{dag_run_id}").json()
            return answer["state"] if answer["state"] in ("success", "failed") else None

        state = airflow.wait_for(f"DAG run {dag_run_id}", finished, timeout=RUN_TIMEOUT)
        assert state == "success", airflow.logs()
        events = airflow.api("GET", "/api/v2/assets/events", params={"limit": 100}).json()

        def dependant_finished() -> str | None:
            runs = airflow.api("GET", f"/api/v2/dags/{DEPENDANT}/dagRuns").json()["dag_runs"]
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return done[0]["run_type"] + ":" + done[0]["state"] if done else None

        dependant = airflow.wait_for(f"a run of {DEPENDANT}", dependant_finished, 600)
        assert dependant == "asset_triggered:failed", airflow.logs()
        resumed = _fix_and_resume(airflow, settings)
    finally:
        airflow.stop()

    runs = _runs(settings)
    described = [(r.id, r.pipeline.name, r.state, r.triggered_by) for r in runs]
    # the run "Run now" started names its person (and the Airflow account that sent it);
    # it is the demo's only run (the DAG has no schedule here)
    ours = [r for r in runs if r.pipeline.name == PIPELINE]
    assert len(ours) == 1, described
    assert (ours[0].triggered_by or "")[:4] == "test", described
    run = ours[0]
    assert run.state == "success", described
    (again,) = [r for r in runs if r.id == resumed]
    assert (again.state, again.resumed_by) == ("success", "test@example.com"), described
    assert again.ended_at is not None
    with SessionHelper(settings) as session:
        cleared = [(r.state, r.attempt) for r in task_runs(session, resumed).values()]
    # the query's task failed once and succeeded on its second attempt, the noop after it
    assert sorted(cleared) == [("success", 1), ("success", 2)], cleared
    with SessionHelper(settings) as session:
        rows = task_runs(session, run.id)
        planned = [t for g in run.configuration_snapshot["groups"] for t in g["tasks"]]
        assert len(rows) == len(planned) > 5
        assert {row.state for row in rows.values()} == {"success"}
    # every transformation's output got an asset event carrying this run
    extras = [e["extra"] for e in events["asset_events"] if e["extra"].get("run_id") == run.id]
    assert len(extras) == len(rows), events
    assert {e["pipeline"] for e in extras} == {PIPELINE}
    assert all(e["rows"] is None or e["rows"] >= 0 for e in extras)

    # `airflow tasks test` of RunEvent records a test run, closed at once
    tested = airflow.airflow("tasks", "test", PIPELINE, "RunEvent")
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-3000:]
    last = _runs(settings)[-1]
    assert (last.triggered_by, last.state) == ("airflow tasks test", "success")
    assert last.ended_at is not None
