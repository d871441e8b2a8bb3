"""Issue 17 item 4: history is not rewritten, and one PATCH cannot break every pipeline.

Each test sends the change that was accepted before and checks the refusal names what
it would have broken; nothing is written (the audit trail included).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.models import configuration as cfg
from core.plan import load_plan
from core.runs import begin_task, end_task, finish_run, start_run
from tests.unit.api.resource_cases import count, database, load_world

PIPELINE = "acme_zentrix_patient_status"


def test_deleting_a_pipeline_state_with_transformations_is_a_409(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    state = world.state[(PIPELINE, "ingest")]
    client.get("/api/session", headers=users["editor"])  # a token's first use is audited
    before = count(app, cfg.Transformation), count(app, cfg.AuditEvent)
    response = client.delete(f"/api/pipeline-states/{state}", headers=users["editor"])
    assert response.status_code == 409, response.text
    assert (
        f"pipeline state {state} cannot be deleted while it has transformations"
        in (response.json()["detail"])
    )
    assert "(initial_ingest)" in response.text
    assert (count(app, cfg.Transformation), count(app, cfg.AuditEvent)) == before


def test_an_empty_pipeline_state_can_still_be_deleted(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    has = {kind for pipeline, kind in world.state if pipeline == PIPELINE}
    missing = next(kind for kind in cfg.STATE_TYPE_ORDER if kind not in has)
    created = client.post(
        "/api/pipeline-states",
        json={
            "pipeline_id": world.pipeline[PIPELINE],
            "pipeline_state_type_id": world.state_type[missing],
            "graph_order": 99,
        },
        headers=users["editor"],
    )
    assert created.status_code == 201, created.text
    state = created.json()["id"]
    response = client.delete(f"/api/pipeline-states/{state}", headers=users["editor"])
    assert response.status_code == 204, response.text


def finished_run(app: FastAPI) -> tuple[int, list[int]]:
    """A finished run of the sample pipeline, every task succeeded; its id and task ids."""
    with database(app) as session:
        plan = load_plan(session, PIPELINE)
        run_id = start_run(session, plan, "test").id
        ids = [task.transformation_id for task in plan.tasks]
        for transformation_id in ids:
            end_task(session, begin_task(session, run_id, transformation_id), "success")
        finish_run(session, run_id, failed=False)
    return run_id, ids


def test_a_finished_run_keeps_its_record_when_a_transformation_is_deleted(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    run_id, ids = finished_run(app)
    before = client.get(f"/api/runs/{run_id}", headers=users["viewer"]).json()
    listed = client.get("/api/runs", headers=users["viewer"]).json()
    deleted = client.delete(f"/api/transformations/{ids[-1]}", headers=users["editor"])
    assert deleted.status_code == 204, deleted.text
    after = client.get(f"/api/runs/{run_id}", headers=users["viewer"]).json()
    assert after["task_counts"] == before["task_counts"] == {"success": len(ids)}
    assert [t["state"] for t in after["tasks"]] == ["success"] * len(ids)
    assert after["tasks"] == before["tasks"]
    assert client.get("/api/runs", headers=users["viewer"]).json() == listed


def test_built_in_state_types_cannot_be_renamed_or_reordered(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    raw = world.state_type["raw"]
    for change in ({"name": "landing"}, {"graph_order": 9}):
        response = client.patch(f"/api/state-types/{raw}", json=change, headers=users["admin"])
        assert response.status_code == 422, response.text
        assert "pipeline state type 'raw' is built in" in response.text
        assert [p["loc"][-1] for p in response.json()["detail"]] == list(change)
    same = client.patch(f"/api/state-types/{raw}", json={"name": "raw"}, headers=users["admin"])
    assert same.status_code == 200, same.text


def test_a_template_in_use_cannot_be_renamed(client: TestClient, users: dict, app: FastAPI) -> None:
    world = load_world(app)
    template = world.template["initial_ingest"]
    response = client.patch(
        f"/api/templates/{template}", json={"name": "first_ingest"}, headers=users["admin"]
    )
    assert response.status_code == 422, response.text
    assert "transformation template 'initial_ingest' is used by transformation" in response.text
    assert "renaming it would break them" in response.text


def test_a_new_required_variable_or_no_variables_is_refused_naming_the_users(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    template = world.template["initial_ingest"]
    current = client.get(f"/api/templates/{template}", headers=users["viewer"]).json()
    structures = current["variable_structures"]
    for new in ({**structures, "region": {"type": "string"}}, None):
        response = client.patch(
            f"/api/templates/{template}",
            json={"variable_structures": new},
            headers=users["admin"],
        )
        assert response.status_code == 422, response.text
        assert "these variables would no longer fit" in response.text
        assert "transformation(s) that use it" in response.text
        assert "(initial_ingest)" in response.text
    optional = {**structures, "region": {"type": "string", "required": False}}
    response = client.patch(
        f"/api/templates/{template}",
        json={"variable_structures": optional},
        headers=users["admin"],
    )
    assert response.status_code == 200, response.text


def test_a_transformation_cannot_be_moved_into_another_pipeline(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    [first, *_] = world.transformations[PIPELINE]
    other = next(
        state
        for (pipeline, kind), state in world.state.items()
        if pipeline != PIPELINE and kind == "ingest"
    )
    path = f"/api/transformations/{first}"
    version = client.get(path, headers=users["viewer"]).json()["version"]
    response = client.patch(
        path, json={"pipeline_state_id": other, "version": version}, headers=users["editor"]
    )
    assert response.status_code == 422, response.text
    assert "cannot be moved into pipeline" in response.text


def test_the_raw_state_cannot_be_ordered_after_the_others(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    raw = world.state[(PIPELINE, "raw")]
    ingest = world.state[(PIPELINE, "ingest")]
    response = client.patch(
        f"/api/pipeline-states/{raw}", json={"graph_order": 50}, headers=users["editor"]
    )
    assert response.status_code == 422, response.text
    assert "the raw state must come before every other state" in response.text
    response = client.patch(
        f"/api/pipeline-states/{ingest}", json={"graph_order": 0}, headers=users["editor"]
    )
    assert response.status_code == 422, response.text
    assert "must come after its raw state" in response.text


def test_a_cron_that_never_fires_is_refused(client: TestClient, users: dict, app: FastAPI) -> None:
    pipeline = load_world(app).pipeline[PIPELINE]
    path = f"/api/pipelines/{pipeline}"
    version = client.get(path, headers=users["viewer"]).json()["version"]
    response = client.patch(
        path, json={"run_frequency": "0 0 31 2 *", "version": version}, headers=users["editor"]
    )
    assert response.status_code == 422, response.text
    assert "never fires" in response.text
