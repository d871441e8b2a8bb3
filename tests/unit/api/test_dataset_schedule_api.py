"""dataset_schedule through the REST API: saved, shown, and refused with the reason."""

from __future__ import annotations

from fastapi.testclient import TestClient

KEY = "acme_pharma/zentrix/metrics/fill_metrics"


def _pipeline(client: TestClient, viewer: dict, name: str) -> dict:
    listed = client.get(f"/api/pipelines?q={name}", headers=viewer).json()["items"][0]
    return client.get(f"/api/pipelines/{listed['id']}", headers=viewer).json()


def test_a_dataset_schedule_is_saved_and_a_cycle_refused(
    client: TestClient, editor: dict, viewer: dict
) -> None:
    downstream = _pipeline(client, viewer, "bluepeak")
    upstream = _pipeline(client, viewer, "acme_zentrix")
    saved = client.patch(
        f"/api/pipelines/{downstream['id']}",
        json={
            "run_frequency": "none",
            "dataset_schedule": {"any": [KEY]},
            "version": downstream["version"],
        },
        headers=editor,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["dataset_schedule"] == {"any": [KEY]}
    bluepeak_output = "bluepeak_bio/orvida/" + _any_output_of(client, viewer, downstream)
    refused = client.patch(
        f"/api/pipelines/{upstream['id']}",
        json={
            "run_frequency": "none",
            "dataset_schedule": {"all": [bluepeak_output]},
            "version": upstream["version"],
        },
        headers=editor,
    )
    assert refused.status_code == 422, refused.text
    assert f"cycle of pipelines: {upstream['name']} -> {downstream['name']} -> " in refused.text
    after = client.get(f"/api/pipelines/{upstream['id']}", headers=viewer).json()
    assert after["dataset_schedule"] is None and after["run_frequency"] == upstream["run_frequency"]


def _any_output_of(client: TestClient, viewer: dict, pipeline: dict) -> str:
    from core.helpers.session_helper import SessionHelper
    from core.lineage.schedule import output_keys
    from core.plan import load_plan
    from core.settings import load_settings

    with SessionHelper(load_settings()) as session:
        return output_keys(load_plan(session, pipeline["name"]))[-1].split("/", 2)[2]


def test_a_datasets_lineage_is_served_to_viewers_across_pipelines(
    client: TestClient, editor: dict, viewer: dict
) -> None:
    downstream = _pipeline(client, viewer, "bluepeak")
    client.patch(
        f"/api/pipelines/{downstream['id']}",
        json={
            "run_frequency": "none",
            "dataset_schedule": {"all": [KEY]},
            "version": downstream["version"],
        },
        headers=editor,
    ).raise_for_status()
    answer = client.get(f"/api/datasets/{KEY}/lineage", headers=viewer)
    assert answer.status_code == 200, answer.text
    lineage = answer.json()
    assert lineage["key"] == KEY
    assert lineage["writers"] == ["acme_zentrix_patient_status"]
    assert lineage["readers"] == ["acme_zentrix_patient_status"]  # publish_to_s3 reads it
    assert lineage["scheduled"] == [downstream["name"]]
    assert lineage["upstream"][0] == "acme_pharma/zentrix/enrich/patient_journeys"
    assert "acme_pharma/zentrix/raw/extract_from_landing" in lineage["upstream"]
    assert any(key.startswith("bluepeak_bio/orvida/") for key in lineage["downstream"])
    assert client.get(f"/api/datasets/{KEY}/lineage").status_code == 401


def test_an_unknown_datasets_lineage_is_a_404_naming_the_close_one(
    client: TestClient, viewer: dict
) -> None:
    answer = client.get(f"/api/datasets/{KEY}s/lineage", headers=viewer)
    assert answer.status_code == 404
    assert KEY in answer.json()["detail"]
    bad = client.get("/api/datasets/acme/zentrix/metrics/a.b/lineage", headers=viewer)
    assert bad.status_code == 422


HUB = "bluepeak_orvida_hub_services"
ENROLLMENTS = "bluepeak_bio/orvida/metrics/enrollments_per_month"


def _waits_on_enrollments(client: TestClient, editor: dict, viewer: dict) -> dict:
    """acme's pipeline starts when the hub pipeline publishes enrollments_per_month."""
    acme = _pipeline(client, viewer, "acme_zentrix")
    saved = client.patch(
        f"/api/pipelines/{acme['id']}",
        json={
            "run_frequency": "none",
            "dataset_schedule": {"any": [ENROLLMENTS]},
            "version": acme["version"],
        },
        headers=editor,
    )
    assert saved.status_code == 200, saved.text
    return saved.json()


def _writer_of_enrollments(client: TestClient, viewer: dict) -> dict:
    from core.helpers.session_helper import SessionHelper
    from core.plan import load_plan
    from core.settings import load_settings

    with SessionHelper(load_settings()) as session:
        (task,) = [
            t
            for t in load_plan(session, HUB).tasks
            if t.variables.get("dataset") == "enrollments_per_month"
        ]
    return client.get(f"/api/transformations/{task.transformation_id}", headers=viewer).json()


def test_a_change_elsewhere_that_strands_a_dataset_schedule_is_refused(
    client: TestClient, editor: dict, viewer: dict
) -> None:
    acme = _waits_on_enrollments(client, editor, viewer)
    writer = _writer_of_enrollments(client, viewer)
    renamed = client.patch(
        f"/api/transformations/{writer['id']}",
        json={
            "variables": {**writer["variables"], "dataset": "enrollments_monthly"},
            "version": writer["version"],
        },
        headers=editor,
    )
    assert renamed.status_code == 422, renamed.text
    (problem,) = renamed.json()["detail"]
    assert problem["loc"][-1] == "variables"
    assert f"pipeline {acme['name']!r} starts when {ENROLLMENTS!r} is published" in problem["msg"]
    deleted = client.delete(f"/api/transformations/{writer['id']}", headers=editor)
    assert deleted.status_code == 409, deleted.text
    assert ENROLLMENTS in deleted.json()["detail"] and acme["name"] in deleted.json()["detail"]
    kept = client.get(f"/api/transformations/{writer['id']}", headers=viewer).json()
    assert kept["variables"]["dataset"] == "enrollments_per_month"
    assert kept["version"] == writer["version"]
    # once acme no longer waits on it, the same rename is saved
    client.patch(
        f"/api/pipelines/{acme['id']}",
        json={"run_frequency": "@daily", "dataset_schedule": None, "version": acme["version"]},
        headers=editor,
    ).raise_for_status()
    again = client.patch(
        f"/api/transformations/{writer['id']}",
        json={
            "variables": {**writer["variables"], "dataset": "enrollments_monthly"},
            "version": writer["version"],
        },
        headers=editor,
    )
    assert again.status_code == 200, again.text


def test_an_arrangement_that_strands_a_dataset_schedule_is_refused(
    client: TestClient, editor: dict, viewer: dict
) -> None:
    _waits_on_enrollments(client, editor, viewer)
    writer = _writer_of_enrollments(client, viewer)
    hub = _pipeline(client, viewer, HUB)
    types = client.get("/api/state-types?limit=100", headers=viewer).json()["items"]
    enrich = next(t["id"] for t in types if t["name"] == "enrich")
    state = client.post(
        "/api/pipeline-states",
        json={"pipeline_id": hub["id"], "pipeline_state_type_id": enrich, "graph_order": 4},
        headers=editor,
    )
    assert state.status_code == 201, state.text
    moved = client.put(  # metrics -> enrich: the dataset's key would change
        f"/api/pipelines/{hub['id']}/arrangement",
        json={
            "placements": [
                {
                    "transformation_id": writer["id"],
                    "pipeline_state_id": state.json()["id"],
                    "graph_order": 0,
                }
            ]
        },
        headers=editor,
    )
    assert moved.status_code == 422, moved.text
    (problem,) = moved.json()["detail"]
    assert problem["loc"][-1] == "placements" and ENROLLMENTS in problem["msg"]
    kept = client.get(f"/api/transformations/{writer['id']}", headers=viewer).json()
    assert kept["pipeline_state_id"] == writer["pipeline_state_id"]
