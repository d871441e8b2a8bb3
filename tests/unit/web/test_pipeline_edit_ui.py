"""Edit a pipeline in the UI: its fields through the API's validation, the schedule shown as
typed, delete confirmed by name; viewers cannot."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.runs import start_run
from core.service.pipelines import load_pipeline, pipeline_plan
from core.settings import Settings


def _form(client: TestClient, pid: int) -> dict[str, str]:
    page = client.get(f"/pipelines/{pid}/edit").text
    version = page.split('name="version" value="')[1].split('"')[0]
    name = page.split('id="name" name="name" value="')[1].split('"')[0]
    return {"version": version, "name": name, "run_frequency": "none", "owners": ""}


def test_an_editor_saves_frequency_owners_and_runs_at_once(
    settings: Settings, client: TestClient, as_editor: str
) -> None:
    form = _form(client, 1) | {
        "csrf_token": as_editor,
        "run_frequency": "0 6 * * 1-5",
        "owners": "ana@example.com\nbo@example.com",
        "max_active_runs": "2",
        "is_active": "true",
        "description": "sales, weekdays",
    }
    saved = client.post("/pipelines/1/edit", data=form)
    assert saved.status_code == 200 and saved.url.path == "/pipelines/1"
    assert "saved." in saved.text and "At 06:00 AM, Monday through Friday (UTC)" in saved.text
    with SessionHelper(settings) as session:
        pipeline = load_pipeline(session, 1)
        assert pipeline.run_frequency == "0 6 * * 1-5" and pipeline.max_active_runs == 2
        assert pipeline.owners == ["ana@example.com", "bo@example.com"]
        assert pipeline.description == "sales, weekdays" and pipeline.is_active


def test_bad_fields_are_shown_by_their_inputs_and_nothing_is_saved(
    settings: Settings, client: TestClient, as_editor: str
) -> None:
    form = _form(client, 1) | {
        "csrf_token": as_editor,
        "run_frequency": "0 6 31 2 *",
        "owners": "ana@example.com\nnot an address",
    }
    refused = client.post("/pipelines/1/edit", data=form)
    assert refused.status_code == 422
    assert 'id="run_frequency" name="run_frequency" value="0 6 31 2 *"' in refused.text
    assert "never fires" in refused.text and 'aria-invalid="true"' in refused.text
    with SessionHelper(settings) as session:
        assert load_pipeline(session, 1).run_frequency != "0 6 31 2 *"


def test_the_schedule_is_explained_as_it_is_typed(client: TestClient, as_editor: str) -> None:
    shown = client.get("/pipelines/1/edit/schedule", params={"run_frequency": "*/15 * * * *"})
    assert "Every 15 minutes (UTC)" in shown.text and shown.text.count("<time ") == 3
    bad = client.get("/pipelines/1/edit/schedule", params={"run_frequency": "often"})
    assert 'id="schedule-problem"' in bad.text and "is not a schedule" in bad.text


def test_a_stale_form_is_not_saved_over_a_newer_edit(client: TestClient, as_editor: str) -> None:
    stale = _form(client, 1) | {"csrf_token": as_editor, "run_frequency": "daily"}
    first = dict(stale, run_frequency="hourly")
    assert client.post("/pipelines/1/edit", data=first).url.path == "/pipelines/1"
    second = client.post("/pipelines/1/edit", data=stale)
    assert second.url.path == "/pipelines/1/edit" and "Not saved" in second.text


def test_delete_names_what_goes_and_needs_the_name(
    settings: Settings, client: TestClient, as_editor: str
) -> None:
    page = client.get("/pipelines/1/edit").text
    assert 'id="delete-impact"' in page and "transformation" in page
    name = _form(client, 1)["name"]
    wrong = client.post("/pipelines/1/delete", data={"csrf_token": as_editor, "confirm": "no"})
    assert wrong.url.path == "/pipelines/1/edit" and "Not deleted" in wrong.text
    gone = client.post("/pipelines/1/delete", data={"csrf_token": as_editor, "confirm": name})
    assert gone.url.path == "/pipelines" and f"Pipeline {name} deleted with its" in gone.text


def test_a_pipeline_with_runs_offers_deactivation_not_delete(
    settings: Settings, client: TestClient, as_editor: str
) -> None:
    with SessionHelper(settings, actor="test") as session:
        start_run(session, pipeline_plan(session, 1), "test")
    page = client.get("/pipelines/1/edit").text
    assert 'id="delete-refused"' in page and 'id="delete-form"' not in page


def test_viewers_cannot_edit(client: TestClient, as_viewer: str) -> None:
    assert client.get("/pipelines/1/edit").status_code == 403
    refused = client.post("/pipelines/1/edit", data={"csrf_token": as_viewer, "name": "x"})
    assert refused.status_code == 403
    assert 'id="edit-pipeline"' not in client.get("/pipelines/1").text
