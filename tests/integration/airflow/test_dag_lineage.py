"""Lineage under Airflow 3: asset events with CORE's extras, OpenLineage through the provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from core.airflow.dagbuilder.dag_builder import DagBuilder
from core.helpers.session_helper import SessionHelper
from core.models.runs import RunEvent
from core.settings import Settings
from tests.support.lineage import WORLD, lake_path
from tests.support.worlds import load_test_world

pytestmark = pytest.mark.integration

# Airflow's OpenLineage provider decides at import whether it listens, so the DAG run
# whose events are checked runs in a process started with the transport configured.
RUN_DAG = """
import sys
from core.airflow.dagbuilder.dag_builder import DagBuilder
from core.settings import load_settings
print("DAG RUN STATE:", DagBuilder(load_settings()).do_build_dags()[sys.argv[1]].test().state)
"""


@pytest.fixture
def lineage_world(core_env: Path) -> Settings:
    return load_test_world(WORLD)


def _latest_run_id(settings: Settings) -> int:
    with SessionHelper(settings) as session:
        return session.scalar(select(RunEvent.id).order_by(RunEvent.id.desc()).limit(1))


def test_the_output_asset_event_carries_run_rows_and_delta_version(
    airflow_db, lineage_world
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    dag = DagBuilder(lineage_world).do_build_dags()["small"]
    assert dag.test().state == "success"
    run_id = _latest_run_id(lineage_world)
    uri = "file://" + lake_path(lineage_world, "master", "doubled")
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        extras = [event.extra for event in events]
    assert {"run_id": run_id, "rows": 5, "delta_version": 0}.items() <= extras[-1].items()
    assert extras[-1]["pipeline"] == "small"


@pytest.mark.timeout(1500)  # a whole DAG run in a new process, events sent by forked children
def test_the_openlineage_provider_reports_inputs_and_outputs(
    airflow_db, lineage_world, tmp_path
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "core",
        # the provider gives up on a task's events after 10 s; a loaded test machine needs more
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "600",
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAG, "small"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )
    assert "DAG RUN STATE: success" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line]
    complete = {
        e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"]
    }
    names = [n for n in complete if n.startswith("small.master_doubled_")]
    assert len(names) == 1, sorted(complete)
    (name,) = names
    event = complete[name]
    assert event["job"]["namespace"] == "core"
    (source,) = event["inputs"]
    assert (source["namespace"], source["name"]) == (
        "file",
        lake_path(lineage_world, "ingest", "numbers"),
    )
    assert [(f["name"], f["type"]) for f in source["facets"]["schema"]["fields"]] == [
        ("n", "int64")
    ]
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 5
    (target,) = event["outputs"]
    assert (target["namespace"], target["name"]) == (
        "file",
        lake_path(lineage_world, "master", "doubled"),
    )
    assert [(f["name"], f["type"]) for f in target["facets"]["schema"]["fields"]] == [
        ("n", "int64")
    ]
    assert target["outputFacets"]["outputStatistics"]["rowCount"] == 5
    assert target["facets"]["version"]["datasetVersion"] == "0"


def test_lineage_that_cannot_be_gathered_does_not_fail_a_task_that_succeeded(
    airflow_db, lineage_world, monkeypatch
) -> None:
    import core.airflow.plugins.transform_operator as operator

    def lake_unreachable(*args, **kwargs):
        raise OSError("the lake's delta log cannot be read")

    monkeypatch.setattr(operator, "facts_of", lake_unreachable)
    dag = DagBuilder(lineage_world).do_build_dags()["small"]
    assert dag.test().state == "success"  # the work committed; its lineage is only missing
    with SessionHelper(lineage_world) as session:
        assert session.get(RunEvent, _latest_run_id(lineage_world)).state == "success"
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    uri = "file://" + lake_path(lineage_world, "master", "doubled")
    with create_session() as session:
        [event] = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        assert "run_id" not in (event.extra or {})  # the asset event is plain, but it is sent
