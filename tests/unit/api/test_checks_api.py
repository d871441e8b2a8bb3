"""Data quality checks through the REST API: saved, validated by meaning, and their results."""

from __future__ import annotations

import pyarrow as pa
from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.lake.contracts import contract_from_transformation_id
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings

PIPELINE = "acme_zentrix_patient_status"


def _task(settings: Settings, state: str | None = None, raw: bool = False):
    with SessionHelper(settings) as session:
        tasks = load_plan(session, PIPELINE).tasks
    return next(t for t in tasks if (t.state == "raw") == raw and state in (None, t.state))


def test_an_editor_adds_a_check_that_a_viewer_reads_but_cannot_change(
    client: TestClient, settings: Settings, viewer: dict, editor: dict
) -> None:
    task = _task(settings)
    body = {
        "transformation_id": task.transformation_id,
        "kind": "not_null",
        "arguments": {"columns": ["patient_id"]},
        "severity": "warn",
        "description": "every row names its patient",
    }
    assert client.post("/api/checks", json=body, headers=viewer).status_code == 403
    created = client.post("/api/checks", json=body, headers=editor)
    assert created.status_code == 201, created.text
    check = created.json()
    assert (check["kind"], check["severity"], check["version"]) == ("not_null", "warn", 1)
    listed = client.get(
        f"/api/checks?transformation_id={task.transformation_id}", headers=viewer
    ).json()
    assert check["id"] in [c["id"] for c in listed["items"]]
    path = f"/api/checks/{check['id']}"
    assert client.patch(path, json={"severity": "error"}, headers=editor).status_code == 428
    changed = client.patch(path, json={"severity": "error", "version": 1}, headers=editor)
    assert changed.status_code == 200 and changed.json()["severity"] == "error"
    assert client.delete(path, headers=viewer).status_code == 403
    assert client.delete(path, headers=editor).status_code == 204
    assert client.get(path, headers=viewer).status_code == 404
    trail = client.get("/api/audit?table=dataset_checks", headers=viewer).json()["items"]
    assert {e["action"] for e in trail} >= {"INSERT", "UPDATE", "DELETE"}


def test_bad_checks_are_refused_with_the_field_and_nothing_is_saved(
    client: TestClient, settings: Settings, viewer: dict, editor: dict
) -> None:
    task, raw = _task(settings), _task(settings, raw=True)
    before = client.get("/api/checks", headers=viewer).json()["total"]
    cases = [
        ({"kind": "not_nul", "arguments": {"columns": ["a"]}}, "kind", "did you mean"),
        ({"kind": "range", "arguments": {"column": "a", "min": 3, "max": 1}}, "arguments", "above"),
        ({"kind": "row_count", "arguments": {"min": -1}}, "arguments.min", "greater than"),
        (
            {"kind": "not_null", "arguments": {"columns": ["a"]}, "severity": "fatal"},
            "severity",
            "error, warn",
        ),
        (
            {"kind": "sql", "arguments": {"query": "select * from read_csv('/etc/passwd')"}},
            "arguments",
            "read",
        ),
        (
            {"kind": "relationship", "arguments": {"column": "a", "to": "nowhere.id"}},
            "arguments.to",
            "writes no dataset",
        ),
    ]
    for extra, field, words in cases:
        body = {"transformation_id": task.transformation_id, **extra}
        answer = client.post("/api/checks", json=body, headers=editor)
        assert answer.status_code == 422, (extra, answer.text)
        problems = answer.json()["detail"]
        assert any(".".join(p["loc"][1:]) == field for p in problems), (extra, problems)
        assert words.lower() in answer.text.lower(), (extra, answer.text)
    on_raw = {
        "transformation_id": raw.transformation_id,
        "kind": "row_count",
        "arguments": {"min": 1},
    }
    answer = client.post("/api/checks", json=on_raw, headers=editor)
    assert answer.status_code == 422 and "writes raw files" in answer.text
    assert client.get("/api/checks", headers=viewer).json()["total"] == before


def test_columns_are_checked_against_the_last_published_schema(
    client: TestClient, settings: Settings, editor: dict
) -> None:
    task = _task(settings)
    body = {"transformation_id": task.transformation_id, "kind": "not_null"}
    # never published: the column cannot be known yet, the worker names it if it is missing
    assert (
        client.post(
            "/api/checks", json={**body, "arguments": {"columns": ["patient"]}}, headers=editor
        ).status_code
        == 201
    )
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, load_plan(session, PIPELINE), "test").id
        contract = contract_from_transformation_id(task.transformation_id, session, settings)
        contract.publish(pa.table({"patient_id": ["p1"], "status": ["a"]}), run_id)
    refused = client.post(
        "/api/checks", json={**body, "arguments": {"columns": ["patient"]}}, headers=editor
    )
    assert refused.status_code == 422
    assert "no column 'patient'" in refused.text and "Did you mean 'patient_id'?" in refused.text
    ok = client.post(
        "/api/checks", json={**body, "arguments": {"columns": ["patient_id"]}}, headers=editor
    )
    assert ok.status_code == 201, ok.text


def test_a_runs_check_results_are_served_and_an_unknown_run_is_404(
    client: TestClient, settings: Settings, viewer: dict
) -> None:
    from core.checks.evaluate import Outcome
    from core.checks.results import record

    task = _task(settings)
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, load_plan(session, PIPELINE), "test").id
        failed = Outcome(
            4, "range", "error", "ages", "fail", 2, [{"age": -2}], None, 0.01, "check 4"
        )
        record(session, run_id, task.transformation_id, [failed])
    answer = client.get(f"/api/runs/{run_id}/checks", headers=viewer)
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()
    assert (result["kind"], result["status"], result["failing_rows"]) == ("range", "fail", 2)
    assert (
        result["examples"] == [{"age": -2}]
        and result["transformation_id"] == task.transformation_id
    )
    assert client.get("/api/runs/999999/checks", headers=viewer).status_code == 404
    assert client.get(f"/api/runs/{run_id}/checks").status_code == 401


def test_a_check_saved_without_a_severity_is_an_error_check(settings: Settings) -> None:
    from core.service import resources
    from core.service.checks import DATASET_CHECKS

    task = _task(settings)
    values = {
        "transformation_id": task.transformation_id,
        "kind": "row_count",
        "arguments": {"min": 1},
    }
    with SessionHelper(settings, actor="test") as session:
        row = resources.create_row(session, DATASET_CHECKS, values, settings)
        assert row.severity == "error"
