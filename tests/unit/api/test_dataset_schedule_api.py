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
