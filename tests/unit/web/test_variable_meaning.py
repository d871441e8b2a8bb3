"""Every variable of every standard transform, checked by meaning: spec, API and UI alike.

Driven by tests/unit/transforms/variable_cases.py: each bad value is refused by the
template's spec (unless only the pipeline can tell), by the API (422 naming the
variable, nothing written) and by the UI (the message beside the field, nothing
saved); the good values are accepted.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.models.variables import check_variables, load_schema, to_text
from core.settings import Settings
from core.transforms.library import catalogue
from tests.unit.transforms.variable_cases import (
    CASES,
    CROSS_MESSAGES,
    Case,
    bad_values,
    good_values,
)

SPECS = {builtin.name: builtin.variables for builtin in catalogue()}


def _texts(values: dict[str, Any]) -> dict[str, str]:
    return {name: to_text(value) for name, value in values.items()}


def test_the_table_has_every_variable_of_every_standard_transform() -> None:
    with_variables = {name for name, spec in SPECS.items() if spec}
    assert {case.template for case in CASES} == with_variables
    for case in CASES:
        assert set(case.variables) == set(SPECS[case.template]), case.template


@pytest.mark.parametrize(
    ("case", "name", "bad", "message"),
    [v for v in bad_values() if not any(m in v[3] for m in CROSS_MESSAGES)],
    ids=lambda v: v.template if isinstance(v, Case) else repr(v)[:40],
)
def test_the_spec_refuses_each_bad_value(case: Case, name: str, bad: Any, message: str) -> None:
    schema = load_schema(SPECS[case.template], case.template)
    values = _texts({**case.base, name: bad})
    problems = check_variables(schema, values, f"new transformation ({case.template})")
    mine = [str(p) for p in problems if getattr(p, "variable", None) == name]
    assert mine and message in mine[0], problems
    assert mine[0].startswith(f"new transformation ({case.template}): variable {name!r}=")


@pytest.mark.parametrize(
    ("case", "name", "good"),
    good_values(),
    ids=lambda v: v.template if isinstance(v, Case) else repr(v)[:40],
)
def test_the_spec_accepts_each_good_value(case: Case, name: str, good: Any) -> None:
    schema = load_schema(SPECS[case.template], case.template)
    assert check_variables(schema, _texts({**case.base, name: good}), "t") == []


@pytest.fixture
def places(settings: Settings) -> dict[str, Any]:
    """Template ids by name, state ids by (pipeline, state), pipeline ids by name."""
    with SessionHelper(settings) as session:
        template = cfg.TransformationTemplate
        rows = session.execute(select(template.name, template.id))
        templates = {name: tid for name, tid in rows}  # noqa: C416 - Rows, not pairs
        states = {
            (pipeline, state): sid
            for pipeline, state, sid in session.execute(
                select(cfg.Pipeline.name, cfg.PipelineStateType.name, cfg.PipelineState.id)
                .join(cfg.PipelineState, cfg.PipelineState.pipeline_id == cfg.Pipeline.id)
                .join(cfg.PipelineState.pipeline_state_type)
            )
        }
        rows = session.execute(select(cfg.Pipeline.name, cfg.Pipeline.id))
        pipelines = {name: pid for name, pid in rows}  # noqa: C416 - Rows, not pairs
    return {"templates": templates, "states": states, "pipelines": pipelines}


def _count(settings: Settings) -> int:
    with SessionHelper(settings) as session:
        return session.scalar(select(func.count(cfg.Transformation.id))) or 0


def _body(case: Case, places: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "transformation_template_id": places["templates"][case.template],
        "pipeline_state_id": places["states"][(case.pipeline, case.state)],
        "graph_order": case.graph_order,
        "variables": variables,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.template)
def test_the_api_refuses_each_bad_value_with_422_and_writes_nothing(
    case: Case,
    client: TestClient,
    editor: dict[str, str],
    places: dict[str, Any],
    settings: Settings,
) -> None:
    before = _count(settings)
    for _case, name, bad, message in (v for v in bad_values() if v[0] is case):
        body = _body(case, places, {**case.base, name: bad})
        response = client.post("/api/transformations", json=body, headers=editor)
        assert response.status_code == 422, (name, bad, response.text)
        found = [d for d in response.json()["detail"] if d["loc"] == ["body", "variables", name]]
        assert found and message in found[0]["msg"], (name, bad, response.json())
        assert "transformation None" not in found[0]["msg"]
        assert f"new transformation ({case.template})" in found[0]["msg"]
    assert _count(settings) == before
    goods = {name: good for name, (good, _bads) in case.variables.items()}
    response = client.post(
        "/api/transformations", json=_body(case, places, {**case.base, **goods}), headers=editor
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.template)
def test_the_ui_shows_each_bad_value_beside_its_field_and_saves_nothing(
    case: Case, client: TestClient, as_editor: str, places: dict[str, Any], settings: Settings
) -> None:
    before = _count(settings)
    pipeline_id = places["pipelines"][case.pipeline]
    spec = SPECS[case.template]
    for _case, name, bad, message in (v for v in bad_values() if v[0] is case):
        if spec[name]["type"] == "bool":
            continue  # a checkbox sends true or false only
        variables = {**case.base, name: bad}
        data = {
            "csrf_token": as_editor,
            "transformation_template_id": str(places["templates"][case.template]),
            "pipeline_state_id": str(places["states"][(case.pipeline, case.state)]),
            "graph_order": str(case.graph_order),
            **{
                f"variables.{key}": value if isinstance(value, str) else json.dumps(value)
                for key, value in variables.items()
            },
        }
        response = client.post(f"/pipelines/{pipeline_id}/transformations", data=data)
        assert response.status_code == 422, (name, bad)
        field = html.unescape(_field(response.text, name))
        assert 'aria-invalid="true"' in field and message in field, (name, bad, field[:2000])
    assert _count(settings) == before


def _field(page: str, name: str) -> str:
    """The HTML of one variable's field."""
    start = page.index(f'data-variable="{name}"')
    end = page.find('<div class="field"', start)
    return page[start : end if end > 0 else len(page)]
