"""The variables form generated from a template's schema; adding, editing, removing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.service import catalog, resources
from core.settings import Settings
from core.web.forms import variables_from_form

SCHEMA = {
    "label": {"type": "string", "description": "shown <b>as is</b>"},
    "count": {"type": "int", "default": 3},
    "ratio": {"type": "float", "required": False},
    "enabled": {"type": "bool", "default": True},
    "day": {"type": "date", "required": False},
    "at": {"type": "datetime", "required": False},
    "options": {"type": "json", "required": False},
    "names": {"type": "list", "required": False},
    "mode": {"type": "string", "choices": ["fast", "slow"], "default": "fast"},
}


@pytest.fixture
def template_id(settings: Settings) -> int:
    """A template declaring one variable of every type."""
    with SessionHelper(settings, actor="test") as session:
        row = resources.create_row(
            session,
            catalog.TEMPLATES,
            {"name": "every_type", "entrypoint": "tests.x:y", "variable_structures": SCHEMA},
        )
        return row.id


@pytest.fixture
def state_id(settings: Settings) -> int:
    """The ingest state of pipeline 1."""
    with SessionHelper(settings) as session:
        query = (
            select(cfg.PipelineState.id)
            .join(cfg.PipelineState.pipeline_state_type)
            .where(cfg.PipelineState.pipeline_id == 1, cfg.PipelineStateType.name == "ingest")
        )
        return session.scalar(query)


def _field(html: str, name: str) -> str:
    """The HTML of one variable's field."""
    start = html.index(f'data-variable="{name}"')
    end = html.find('<div class="field"', start)
    return html[start : end if end > 0 else len(html)]


def _variables(settings: Settings, transformation_id: int) -> dict[str, str | None]:
    with SessionHelper(settings) as session:
        return session.get(cfg.Transformation, transformation_id).stored_variables


def _new_form(client: TestClient, state_id: int, template_id: int) -> str:
    response = client.get(
        f"/pipelines/1/transformations/new?state_id={state_id}&template_id={template_id}"
    )
    assert response.status_code == 200
    return response.text


def test_the_form_is_generated_from_the_schema(
    client: TestClient, as_editor: str, template_id: int, state_id: int
) -> None:
    html = _new_form(client, state_id, template_id)
    expected = {
        "label": 'type="text"',
        "count": 'type="number"',
        "ratio": 'type="number"',
        "enabled": 'type="checkbox"',
        "day": 'type="date"',
        "at": 'type="datetime-local"',
    }
    for name, kind in expected.items():
        assert kind in _field(html, name), name
    assert 'step="1"' in _field(html, "count") and 'step="any"' in _field(html, "ratio")
    assert " checked" in _field(html, "enabled")  # the default
    assert 'placeholder="3"' in _field(html, "count")
    for name in ("options", "names"):
        assert "<textarea" in _field(html, name)
    mode = _field(html, "mode")
    assert "<select" in mode and '<option value="slow">' in mode and "(default: fast)" in mode
    assert 'class="required"' in _field(html, "label")
    assert 'class="required"' not in _field(html, "count")  # it has a default
    assert "shown &lt;b&gt;as is&lt;/b&gt;" in _field(html, "label")


def test_an_invalid_variable_is_shown_by_its_input_and_nothing_is_saved(
    client: TestClient, as_editor: str, template_id: int, state_id: int, settings: Settings
) -> None:
    data = {
        "csrf_token": as_editor,
        "transformation_template_id": str(template_id),
        "pipeline_state_id": str(state_id),
        "graph_order": "5",
        "variables.label": "ok",
        "variables.count": "three",
        "variables.names": "not a list",
    }
    response = client.post("/pipelines/1/transformations", data=data)
    assert response.status_code == 422
    count, names = _field(response.text, "count"), _field(response.text, "names")
    assert 'aria-invalid="true"' in count and "is not a valid int" in count
    assert 'value="three"' in count  # what was typed stays
    assert "expected a JSON list" in names
    assert "field-error" not in _field(response.text, "label")
    with SessionHelper(settings) as session:
        query = select(cfg.Transformation).filter_by(transformation_template_id=template_id)
        assert session.scalars(query).all() == []


def test_a_valid_form_adds_the_transformation(
    client: TestClient, as_editor: str, template_id: int, state_id: int, settings: Settings
) -> None:
    data = {
        "csrf_token": as_editor,
        "transformation_template_id": str(template_id),
        "pipeline_state_id": str(state_id),
        "graph_order": "5",
        "variables.label": "first <run>",
        "variables.count": "7",
        "variables.day": "2024-01-31",
        "variables.names": '["a", "b"]',
    }
    response = client.post("/pipelines/1/transformations", data=data, follow_redirects=False)
    assert response.status_code == 303
    new_id = int(re.search(r"#transformation-(\d+)", response.headers["location"]).group(1))
    assert _variables(settings, new_id) == {
        "label": "first <run>",
        "count": "7",
        "day": "2024-01-31",
        "names": '["a", "b"]',
        "enabled": "false",  # an unchecked box
    }
    page = client.get("/pipelines/1").text
    assert "first &lt;run&gt;" in page and "every_type" in page


def test_a_state_of_another_pipeline_is_refused(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    with SessionHelper(settings) as session:
        other = session.scalars(select(cfg.PipelineState).filter_by(pipeline_id=2)).first()
        template = session.scalars(select(cfg.TransformationTemplate).filter_by(name="noop")).one()
    data = {
        "csrf_token": as_editor,
        "transformation_template_id": str(template.id),
        "pipeline_state_id": str(other.id),
    }
    response = client.post("/pipelines/1/transformations", data=data)
    assert response.status_code == 422 and "choose a state of this pipeline" in response.text


def test_editing_variables_shows_problems_inline_then_saves(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    form = client.get("/transformations/2").text  # initial_ingest of pipeline 1
    assert 'name="variables.delimiter"' in form and 'value="|"' in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    data = {
        "csrf_token": as_editor,
        "version": version,
        "variables.dataset": "pharmacy_a_status",
        "variables.prefix": "pharmacy_a",
        "variables.delimiter": "|",
        "variables.skip_rows": "-x",
    }
    refused = client.post("/transformations/2/variables", data=data)
    assert refused.status_code == 422
    assert "is not a valid int" in _field(refused.text, "skip_rows")
    assert _variables(settings, 2).get("skip_rows") is None
    data["variables.delimiter"] = ";"
    data.pop("variables.skip_rows")
    saved = client.post("/transformations/2/variables", data=data, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/pipelines/1#transformation-2"
    assert _variables(settings, 2)["delimiter"] == ";"


def test_a_stale_version_is_a_conflict_with_a_reload_banner(
    client: TestClient, as_editor: str, settings: Settings
) -> None:
    form = client.get("/transformations/2").text
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))
    data = {
        "csrf_token": as_editor,
        "version": str(version - 1 if version > 1 else version + 5),
        "variables.dataset": "changed",
        "variables.prefix": "pharmacy_a",
    }
    response = client.post("/transformations/2/variables", data=data)
    assert response.status_code == 409
    assert 'id="conflict"' in response.text and "Reload the transformation" in response.text
    assert _variables(settings, 2)["dataset"] == "pharmacy_a_status"


def test_removing_a_transformation(client: TestClient, as_editor: str, settings: Settings) -> None:
    page = client.get("/pipelines/1").text
    assert 'hx-confirm="Remove transformation 2 (initial_ingest)' in page
    response = client.post("/transformations/2/delete", data={"csrf_token": as_editor})
    assert response.status_code == 200 and "Transformation 2 removed." in response.text
    with SessionHelper(settings) as session:
        assert session.get(cfg.Transformation, 2) is None


def test_a_template_for_another_state_is_not_offered(client: TestClient, as_editor: str) -> None:
    html = client.get("/pipelines/1").text
    sections = html[html.index('<section class="state card"') :]  # past the DAG's bands
    raw = sections[sections.index('data-state="raw"') : sections.index('data-state="ingest"')]
    assert ">extract_from_landing<" in raw and ">initial_ingest<" not in raw


def test_reading_a_submitted_form() -> None:
    structures = {
        "flag": {"type": "bool", "default": True},
        "other": {"type": "bool", "required": False},
        "n": {"type": "int", "required": False},
        "text": {"type": "string", "required": False},
    }
    form = {
        "variables.flag": "true",
        "variables.other": "true",
        "variables.n": " 4 ",
        "variables.text": " kept ",
    }
    assert variables_from_form(structures, "t", form) == {
        "other": "true",  # flag is checked, its default: no value needed
        "n": "4",
        "text": " kept ",  # text is taken as typed
    }
    assert variables_from_form(structures, "t", {}) == {"flag": "false", "other": "false"}
