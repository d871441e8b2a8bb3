"""OpenLineage from `core run`: the client's file transport, events checked field by field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import SettingsError
from core.runner.local import LocalRunner
from core.settings import load_settings
from tests.support.lineage import WORLD, lake_path
from tests.support.worlds import load_test_world


@pytest.fixture
def lineage_file(core_env: Path, tmp_path: Path, monkeypatch) -> Path:
    events = tmp_path / "lineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    monkeypatch.setenv("CORE_OPENLINEAGE_TRANSPORT", json.dumps(transport))
    monkeypatch.setenv("CORE_OPENLINEAGE_NAMESPACE", "core-tests")
    load_test_world(WORLD)
    return events


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_core_run_sends_start_and_complete_with_inputs_and_outputs(lineage_file) -> None:
    settings = load_settings()
    report = LocalRunner(settings).run("small")
    events = _events(lineage_file)
    ingest, master = (t.task_id for t in report.tasks)
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", f"small.{ingest}"),
        ("COMPLETE", f"small.{ingest}"),
        ("START", f"small.{master}"),
        ("COMPLETE", f"small.{master}"),
    ]
    assert {e["job"]["namespace"] for e in events} == {"core-tests"}
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"] != events[2]["run"]["runId"]
    assert events[1]["job"]["facets"]["jobType"]["integration"] == "CORE"

    start = events[2]
    assert start["inputs"] == [
        {
            "namespace": "file",
            "name": lake_path(settings, "ingest", "numbers"),
            "facets": {},
            "inputFacets": {},
        }
    ]

    complete = events[3]
    (source,) = complete["inputs"]
    assert (source["namespace"], source["name"]) == (
        "file",
        lake_path(settings, "ingest", "numbers"),
    )
    assert [(f["name"], f["type"]) for f in source["facets"]["schema"]["fields"]] == [
        ("n", "int64")
    ]
    assert source["facets"]["version"]["datasetVersion"] == "0"
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 5

    (target,) = complete["outputs"]
    assert (target["namespace"], target["name"]) == (
        "file",
        lake_path(settings, "master", "doubled"),
    )
    assert [(f["name"], f["type"]) for f in target["facets"]["schema"]["fields"]] == [
        ("n", "int64")
    ]
    assert target["facets"]["version"]["datasetVersion"] == "0"
    assert target["outputFacets"]["outputStatistics"]["rowCount"] == 5

    first = events[1]
    assert first["inputs"] == []  # an ingest task of a pipeline without a raw state
    assert first["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 5


def test_a_failed_task_sends_fail_with_its_error(lineage_file) -> None:
    LocalRunner(load_settings()).run("failing")
    events = _events(lineage_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "FAIL"]
    fail = events[-1]
    assert "the source had no header row" in fail["run"]["facets"]["errorMessage"]["message"]
    assert fail["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 3
    assert "outputStatistics" not in fail["outputs"][0].get("outputFacets", {})


def test_no_transport_no_events(core_env, monkeypatch) -> None:
    from openlineage.client import OpenLineageClient

    built = []
    monkeypatch.setattr(OpenLineageClient, "__init__", lambda *a, **k: built.append(a))
    settings = load_test_world(WORLD)
    assert LocalRunner(settings).run("small").state == "success"
    assert built == []  # no client, so nothing is gathered or sent


def test_lineage_that_cannot_be_gathered_does_not_fail_the_run(
    lineage_file, monkeypatch, caplog
) -> None:
    import core.lineage.openlineage as openlineage

    def database_gone(*args, **kwargs):
        raise OSError("the configuration database went away")

    monkeypatch.setattr(openlineage, "task_facts", database_gone)
    assert LocalRunner(load_settings()).run("small").state == "success"
    assert [e["eventType"] for e in _events(lineage_file)] == ["START", "START"]
    assert "could not send the end of" in caplog.text
    assert "the configuration database went away" in caplog.text


def test_a_transport_that_is_not_a_json_object_is_refused(core_env, monkeypatch) -> None:
    monkeypatch.setenv("CORE_OPENLINEAGE_TRANSPORT", "http://marquez:5000")
    with pytest.raises(SettingsError, match="OPENLINEAGE_TRANSPORT.*JSON object with a type"):
        load_settings()


RUN_PROBE = """
import json, sys
from core.cli import main
try:
    main(["run", "small"])
except SystemExit as exc:
    print(json.dumps({"code": exc.code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_without_a_transport_the_run_process_imports_no_lake(core_env) -> None:
    """Lineage reads contracts (pyarrow, 0.3 s): `core run` loads it only to send events.

    The run's own process then imports no lake library at all; its workers do.
    """
    load_test_world(WORLD)
    done = subprocess.run(
        [sys.executable, "-c", RUN_PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, done.stdout + done.stderr
    assert {"pyarrow", "deltalake", "pandas"}.isdisjoint(result["modules"])
