"""Issue 17 item 5: JSON that Python can parse but no column or response can carry.

A lone surrogate (``"\\ud800"``: valid JSON, not UTF-8) and values nested hundreds of
levels deep were answered with 500; they must get a 422 naming the field.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.unit.api.resource_cases import load_world


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def post(client: TestClient, headers: dict[str, str], path: str, body: bytes) -> object:
    return client.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


def test_a_lone_surrogate_in_a_name_is_a_422(client: TestClient, users: dict, app: FastAPI) -> None:
    world = load_world(app)
    body = b'{"name": "x\\ud800y", "pipeline_type_id": %d, "brand_id": %d}' % (
        world.pipeline_type["sales_data"],
        world.brand["zentrix"],
    )
    response = post(client, users["editor"], "/api/pipelines", body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert "\\\\ud800" in response.text  # echoed escaped, never raw


def test_a_lone_surrogate_in_a_variable_is_a_422(
    client: TestClient, users: dict, app: FastAPI
) -> None:
    world = load_world(app)
    template = world.template["initial_ingest"]
    state = world.state[("acme_zentrix_patient_status", "ingest")]
    body = (
        b'{"transformation_template_id": %d, "pipeline_state_id": %d, '
        b'"variables": {"dataset": "a\\udc00"}}' % (template, state)
    )
    response = post(client, users["editor"], "/api/transformations", body)
    assert response.status_code == 422, response.text
    assert "lone surrogate" in response.text


def test_json_nested_600_deep_is_a_422(client: TestClient, users: dict) -> None:
    for depth in (600, 900):
        body = b'{"name": "deep", "variable_structures": {"a": ' + _nested(depth) + b"}}"
        response = post(client, users["admin"], "/api/templates", body)
        assert response.status_code == 422, response.text
        assert "must not be nested more than 64 levels deep" in response.text


def test_a_refused_deep_value_is_echoed_cut(client: TestClient, users: dict) -> None:
    body = b'{"name": "deep", "description": ' + _nested(700) + b"}"
    response = post(client, users["editor"], "/api/companies", body)
    assert response.status_code == 422, response.text
    assert "nested too deeply to show" in response.text
