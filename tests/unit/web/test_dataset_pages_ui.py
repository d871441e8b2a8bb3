"""Dataset pages by role: a never-published dataset says so; only admins may restore."""

from __future__ import annotations

from fastapi.testclient import TestClient

KEY = "acme_pharma/zentrix/master/patient_status"


def test_a_pipeline_s_datasets_before_any_run_say_they_were_never_published(
    client: TestClient, as_viewer: str
) -> None:
    page = client.get("/pipelines/1/datasets")
    assert page.status_code == 200
    assert f'data-key="{KEY}"' in page.text and "never published: run the pipeline" in page.text
    dataset = client.get(f"/datasets/{KEY}").text
    assert 'id="dataset-unpublished"' in dataset and 'id="versions-table"' not in dataset
    assert client.get("/pipelines/999/datasets").status_code == 404


def test_only_an_admin_may_restore(client: TestClient, as_editor: str) -> None:
    refused = client.post(
        f"/datasets/{KEY}/restore",
        data={"csrf_token": as_editor, "version": "0", "reason": "why not"},
    )
    assert refused.status_code == 403


def test_restoring_a_never_published_dataset_says_why_not(client: TestClient, sign_in) -> None:
    token = sign_in("admin")
    answer = client.post(
        f"/datasets/{KEY}/restore", data={"csrf_token": token, "version": "0", "reason": "x"}
    )
    assert answer.url.path == f"/datasets/{KEY}"
    assert "Not restored: dataset" in answer.text and "has never been published" in answer.text
