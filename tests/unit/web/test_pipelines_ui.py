"""The pipeline list and its filters, creating a pipeline, adding states, activating."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings

HTMX = {"HX-Request": "true", "HX-Target": "pipeline-results"}


def _names(html: str) -> set[str]:
    return set(re.findall(r'data-pipeline="([^"]+)"', html))


def test_filters_and_search_narrow_the_list(client: TestClient, as_viewer: str) -> None:
    every = {"acme_zentrix_patient_status", "bluepeak_orvida_hub_services", "bluepeak_orvida_sales"}
    assert _names(client.get("/pipelines").text) == every
    assert _names(client.get("/pipelines?company=acme_pharma").text) == {
        "acme_zentrix_patient_status"
    }
    assert _names(client.get("/pipelines?active=false").text) == {"bluepeak_orvida_sales"}
    assert _names(client.get("/pipelines?type=hub_services&brand=orvida").text) == {
        "bluepeak_orvida_hub_services"
    }
    assert _names(client.get("/pipelines?q=SFTP").text) == {"bluepeak_orvida_hub_services"}
    empty = client.get("/pipelines?company=&brand=&type=&active=&q=")  # the plain GET form
    assert _names(empty.text) == every


def test_the_list_shows_filter_choices_badges_and_last_runs(
    client: TestClient, as_viewer: str
) -> None:
    html = client.get("/pipelines").text
    for choice in ("acme_pharma", "bluepeak_bio", "zentrix", "orvida", "hub_services"):
        assert f'<option value="{choice}">' in html
    assert 'class="badge badge-active"' in html and 'class="badge badge-inactive"' in html
    assert "never run" in html


def test_htmx_gets_only_the_table(client: TestClient, as_viewer: str) -> None:
    fragment = client.get("/pipelines?q=orvida", headers=HTMX).text
    assert "<html" not in fragment and "<table" in fragment
    assert _names(fragment) == {"bluepeak_orvida_hub_services", "bluepeak_orvida_sales"}
    history = client.get("/pipelines", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in history.text


def test_an_unknown_active_value_is_refused(client: TestClient, as_viewer: str) -> None:
    assert client.get("/pipelines?active=maybe").status_code == 422


def test_the_list_pages(client: TestClient, as_viewer: str, settings: Settings) -> None:
    with SessionHelper(settings, actor="test") as session:
        brand, kind = session.get(cfg.Brand, 1), session.get(cfg.PipelineType, 1)
        for i in range(60):
            session.add(cfg.Pipeline(name=f"zz_bulk_{i:02d}", brand=brand, pipeline_type=kind))
        session.commit()
    first = client.get("/pipelines").text
    assert len(_names(first)) == 50 and "1\N{EN DASH}50 of 63" in first
    second = client.get("/pipelines?offset=50").text
    assert len(_names(second)) == 13 and 'rel="prev"' in second and 'rel="next"' not in second


def test_an_invalid_name_is_shown_by_its_field_and_nothing_is_saved(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    data = {
        "csrf_token": as_editor,
        "name": "bad name!",
        "pipeline_type_id": "1",
        "brand_id": "1",
        "run_frequency": "every now and then",
        "description": "kept",
    }
    response = client.post("/pipelines/new", data=data)
    assert response.status_code == 422
    html = response.text
    name_field = html[html.index('id="name"') : html.index('for="pipeline_type_id"')]
    assert 'aria-invalid="true"' in name_field and 'class="field-error"' in name_field
    assert "bad name!" in name_field
    frequency = html[html.index('id="run_frequency"') : html.index('for="description"')]
    assert "field-error" in frequency
    assert ">kept</textarea>" in html
    with SessionHelper(settings) as session:
        assert session.scalar(select(func.count(cfg.Pipeline.id))) == 3


def test_a_missing_type_and_brand_are_required(client: TestClient, as_editor: str) -> None:
    response = client.post("/pipelines/new", data={"csrf_token": as_editor, "name": "fine_name"})
    assert response.status_code == 422
    assert response.text.count('class="field-error"') == 2


def test_creating_a_pipeline_leads_to_its_page(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    data = {
        "csrf_token": as_editor,
        "name": "acme_zentrix_new",
        "pipeline_type_id": "1",
        "brand_id": "1",
        "run_frequency": "daily",
        "is_active": "true",
    }
    response = client.post("/pipelines/new", data=data, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "Pipeline acme_zentrix_new created" in page and "No states yet." in page
    with SessionHelper(settings) as session:
        row = session.scalars(select(cfg.Pipeline).filter_by(name="acme_zentrix_new")).one()
        assert row.is_active and row.last_actor == "editor@example.com"


def test_adding_a_state(client: TestClient, as_editor: str, settings: Settings) -> None:
    with SessionHelper(settings) as session:
        enhance = session.scalars(select(cfg.PipelineStateType).filter_by(name="enhance")).one()
    data = {"csrf_token": as_editor, "pipeline_state_type_id": str(enhance.id), "graph_order": "9"}
    response = client.post("/pipelines/1/states", data=data)
    assert response.status_code == 200 and "State added." in response.text
    assert 'data-state="enhance"' in response.text


def test_a_bad_state_order_is_shown_by_the_add_state_form(
    client: TestClient, as_editor: str
) -> None:
    data = {"csrf_token": as_editor, "pipeline_state_type_id": "4", "graph_order": "-1"}
    response = client.post("/pipelines/1/states", data=data)
    assert response.status_code == 422
    form = response.text[response.text.index('id="add-state"') :]
    assert "graph_order -1 is not valid" in form


def test_deactivating_and_a_stale_version(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    with SessionHelper(settings) as session:
        version = session.get(cfg.Pipeline, 1).version
    data = {"csrf_token": as_editor, "active": "false", "version": str(version)}
    page = client.post("/pipelines/1/active", data=data).text
    assert "is now inactive" in page and ">Activate</button>" in page
    stale = client.post("/pipelines/1/active", data={**data, "active": "true"}).text
    assert "changed since you read it" in stale and ">Activate</button>" in stale


def test_the_name_help_allows_exactly_what_the_check_allows(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    form = client.get("/pipelines/new").text
    help_text = re.search(r'<p class="help" id="name-help">([^<]+)</p>', form).group(1)
    assert "letters, digits, &#39;_&#39;, &#39;.&#39; or &#39;-&#39; (no spaces)" in help_text
    data = {"csrf_token": as_editor, "pipeline_type_id": "1", "brand_id": "1"}
    accepted = client.post(
        "/pipelines/new", data={**data, "name": "acme.zentrix-v2_new"}, follow_redirects=False
    )
    assert accepted.status_code == 303  # '.', '-' and '_' as the help says
    refused = client.post("/pipelines/new", data={**data, "name": "acme zentrix"})
    assert refused.status_code == 422 and "(no spaces)" in refused.text
