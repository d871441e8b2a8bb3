"""Every resource of the REST API: list, get, create, update, delete, and every way to get it wrong.

The generic behaviour is checked once per resource (parametrized over
``resource_cases.CASES``); the rules that only some resources have (names,
schedules, variables, notebooks, versions, the pipeline views, users and tokens)
each have their own tests below.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.api.app import create_app
from core.models import configuration as cfg
from core.plan import load_plan
from core.settings import Settings
from tests.unit.api.conftest import PASSWORD
from tests.unit.api.resource_cases import (
    CASE_IDS,
    CASES,
    TYPED_VARIABLES,
    ResourceCase,
    World,
    count,
    database,
    load_world,
    typo,
)

Headers = dict[str, str]


@pytest.fixture
def world(app: FastAPI) -> World:
    """The sample configuration's ids by name."""
    return load_world(app)


@pytest.fixture
def writer(users: dict[str, Headers]) -> Any:
    """role -> Authorization header, for the role a resource's writes need."""
    return users


def problems(response: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    """A 422's problems by their loc."""
    assert response.status_code == 422, response.text
    return {tuple(p["loc"]): p for p in response.json()["detail"]}


def create(client: TestClient, headers: Headers, path: str, body: dict[str, Any]) -> Any:
    """POST a row that must be accepted; its JSON."""
    response = client.post(f"/api/{path}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def typed_template(client: TestClient, admin: Headers, world: World, **extra: Any) -> Any:
    """A template in the ingest state with TYPED_VARIABLES."""
    body = {
        "name": "typed",
        "variable_structures": TYPED_VARIABLES,
        "pipeline_state_type_id": world.state_type["ingest"],
        **extra,
    }
    return create(client, admin, "templates", body)


# --- lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_list_pages_with_limit_and_offset(
    client: TestClient, admin: Headers, case: ResourceCase
) -> None:
    everything = client.get(f"/api/{case.path}", params={"limit": 500}, headers=admin).json()
    assert everything["total"] == len(everything["items"]) >= 2
    first = client.get(f"/api/{case.path}", params={"limit": 1}, headers=admin).json()
    second = client.get(f"/api/{case.path}", params={"limit": 1, "offset": 1}, headers=admin).json()
    assert (first["limit"], first["offset"], second["offset"]) == (1, 0, 1)
    assert first["total"] == second["total"] == everything["total"]
    assert [first["items"][0], second["items"][0]] == everything["items"][:2]
    beyond = client.get(
        f"/api/{case.path}", params={"offset": everything["total"]}, headers=admin
    ).json()
    assert beyond["items"] == [] and beyond["total"] == everything["total"]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_list_sorts_ascending_and_descending(
    client: TestClient, admin: Headers, case: ResourceCase
) -> None:
    def values(sort: str) -> list[Any]:
        params = {"sort": sort, "limit": 500}
        page = client.get(f"/api/{case.path}", params=params, headers=admin)
        assert page.status_code == 200, page.text
        return [item[case.sort] for item in page.json()["items"]]

    ascending, descending = values(case.sort), values(f"-{case.sort}")
    assert ascending == sorted(ascending) and len(set(ascending)) > 1
    assert descending == sorted(ascending, reverse=True)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_an_unknown_sort_field_is_a_422_naming_sort_with_a_suggestion(
    client: TestClient, admin: Headers, case: ResourceCase
) -> None:
    wrong = typo(case.sort)
    response = client.get(f"/api/{case.path}", params={"sort": wrong}, headers=admin)
    problem = problems(response)[("query", "sort")]
    assert problem["input"] == wrong
    assert "Did you mean" in problem["msg"] and f"'{case.sort}'" in problem["msg"]


@pytest.mark.parametrize("case", [c for c in CASES if c.filter], ids=str)
def test_a_list_filter_keeps_only_matching_rows(
    client: TestClient, admin: Headers, world: World, case: ResourceCase
) -> None:
    assert case.filter is not None
    name, value_of = case.filter
    value = value_of(world)
    params = {name: str(value).lower(), "limit": 500}
    page = client.get(f"/api/{case.path}", params=params, headers=admin).json()
    everything = client.get(f"/api/{case.path}", params={"limit": 500}, headers=admin).json()
    assert page["items"], "the filter should match something"
    assert all(item[name] == value for item in page["items"])
    assert page["total"] == sum(item[name] == value for item in everything["items"])
    assert page["total"] < everything["total"]


def test_a_filter_value_of_the_wrong_type_is_a_422_naming_the_filter(
    client: TestClient, admin: Headers
) -> None:
    response = client.get("/api/brands", params={"pharmaceutical_company_id": "²"}, headers=admin)
    problem = problems(response)[("query", "pharmaceutical_company_id")]
    assert problem["input"] == "²" and "whole number" in problem["msg"]
    response = client.get("/api/users", params={"is_active": "maybe"}, headers=admin)
    assert "true or false" in problems(response)[("query", "is_active")]["msg"]


def test_a_text_search_finds_rows_by_name(client: TestClient, admin: Headers) -> None:
    page = client.get("/api/companies", params={"q": "ACME"}, headers=admin).json()
    assert [item["name"] for item in page["items"]] == ["acme_pharma"]


def test_an_offset_beyond_any_database_is_a_422_not_a_crash(
    client: TestClient, admin: Headers
) -> None:
    response = client.get("/api/companies", params={"offset": 10**20}, headers=admin)
    assert ("query", "offset") in problems(response)


# --- get ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_getting_an_unknown_id_is_a_404_naming_what_was_looked_for(
    client: TestClient, admin: Headers, case: ResourceCase
) -> None:
    response = client.get(f"/api/{case.path}/987654", headers=admin)
    assert response.status_code == 404
    assert response.json()["detail"] == f"no {case.noun} with id 987654"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_an_id_too_large_for_any_row_is_refused_not_a_crash(
    client: TestClient, admin: Headers, case: ResourceCase
) -> None:
    response = client.get(f"/api/{case.path}/{2**70}", headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "path"


# --- create, update, delete --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_create_is_a_201_stamped_with_the_users_email(
    client: TestClient, writer: dict[str, Headers], world: World, case: ResourceCase
) -> None:
    body = case.create(world)
    before = count(client.app, case.model)
    row = create(client, writer[case.role], case.path, body)
    assert row["last_actor"] == f"{case.role}@example.com"
    assert row["created_at"].endswith(("Z", "+00:00"))
    shown = {k: v for k, v in body.items() if k != "password"}
    assert {k: row[k] for k in shown} == shown
    fetched = client.get(f"/api/{case.path}/{row['id']}", headers=writer["admin"]).json()
    assert {k: fetched[k] for k in shown} == shown
    assert count(client.app, case.model) == before + 1


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_patch_changes_only_the_fields_it_names(
    client: TestClient, writer: dict[str, Headers], world: World, case: ResourceCase
) -> None:
    headers = writer[case.role]
    row = create(client, headers, case.path, case.create(world))
    response = client.patch(f"/api/{case.path}/{row['id']}", json=case.patch, headers=headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    changing = {*case.patch, "updated_at", "version"}
    assert {k: updated[k] for k in case.patch} == case.patch
    assert {k: v for k, v in updated.items() if k not in changing} == {
        k: v for k, v in row.items() if k not in changing
    }


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_delete_is_a_204_that_removes_or_deactivates(
    client: TestClient, writer: dict[str, Headers], world: World, case: ResourceCase
) -> None:
    headers = writer[case.role]
    row = create(client, headers, case.path, case.create(world))
    before = count(client.app, case.model)
    response = client.delete(f"/api/{case.path}/{row['id']}", headers=headers)
    assert response.status_code == 204 and response.content == b""
    after = client.get(f"/api/{case.path}/{row['id']}", headers=writer["admin"])
    if case.deactivates:
        assert after.status_code == 200 and after.json()["is_active"] is False
        assert count(client.app, case.model) == before
    else:
        assert after.status_code == 404
        assert count(client.app, case.model) == before - 1


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_deleting_an_unknown_id_is_a_404(
    client: TestClient, writer: dict[str, Headers], case: ResourceCase
) -> None:
    response = client.delete(f"/api/{case.path}/987654", headers=writer[case.role])
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "name", "referrer"),
    [
        ("companies", "acme_pharma", "brands"),
        ("segments", "Specialty", "pipeline_types"),
        ("state-types", "raw", "pipeline_states"),
        ("templates", "initial_ingest", "transformations"),
        ("brands", "zentrix", "pipelines"),
        ("pipeline-types", "sales_data", "pipelines"),
    ],
)
def test_deleting_a_row_others_refer_to_is_a_409_naming_them(
    client: TestClient, admin: Headers, path: str, name: str, referrer: str
) -> None:
    rows = client.get(f"/api/{path}", params={"limit": 500}, headers=admin).json()["items"]
    (row,) = [r for r in rows if r["name"] == name]
    response = client.delete(f"/api/{path}/{row['id']}", headers=admin)
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "cannot be deleted" in detail and f"of {referrer}" in detail
    assert client.get(f"/api/{path}/{row['id']}", headers=admin).status_code == 200


def test_deleting_a_pipeline_state_deletes_its_transformations(
    client: TestClient, editor: Headers, world: World
) -> None:
    state = world.state[("bluepeak_orvida_sales", "raw")]
    before = count(client.app, cfg.Transformation)
    assert client.delete(f"/api/pipeline-states/{state}", headers=editor).status_code == 204
    assert count(client.app, cfg.Transformation) == before - 1


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_an_unknown_field_is_a_422(
    client: TestClient, writer: dict[str, Headers], world: World, case: ResourceCase
) -> None:
    body = {**case.create(world), "colour": "blue"}
    response = client.post(f"/api/{case.path}", json=body, headers=writer[case.role])
    assert problems(response)[("body", "colour")]["type"] == "extra_forbidden"


# --- names, schedules and orders ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "rule"),
    [
        ("companies", {"name": "Ceres Labs"}, "data-lake path"),
        ("brands", {"name": "No/Vex", "pharmaceutical_company_id": 1}, "data-lake path"),
        ("state-types", {"name": "-archive"}, "data-lake path"),
        ("templates", {"name": "My Template"}, "data-lake path"),
        (
            "pipelines",
            {"name": "claims for zentrix", "pipeline_type_id": 1, "brand_id": 1},
            "Airflow dag id",
        ),
        ("segments", {"name": " Oncology"}, "leading or trailing spaces"),
    ],
)
def test_an_invalid_name_is_a_422_naming_the_field_the_value_and_the_rule(
    client: TestClient, admin: Headers, path: str, body: dict[str, Any], rule: str
) -> None:
    problem = problems(client.post(f"/api/{path}", json=body, headers=admin))[("body", "name")]
    assert problem["input"] == body["name"]
    assert rule in problem["msg"] and repr(body["name"]) in problem["msg"]


def test_an_invalid_path_part_suggests_a_valid_one(client: TestClient, admin: Headers) -> None:
    response = client.post("/api/companies", json={"name": "Ceres Labs"}, headers=admin)
    assert "did you mean 'ceres_labs'?" in problems(response)[("body", "name")]["msg"]


def test_a_rename_to_an_invalid_name_is_refused_and_the_old_name_kept(
    client: TestClient, admin: Headers, world: World
) -> None:
    pipeline = world.pipeline["bluepeak_orvida_sales"]
    response = client.patch(f"/api/pipelines/{pipeline}", json={"name": "a b"}, headers=admin)
    assert ("body", "name") in problems(response)
    kept = client.get(f"/api/pipelines/{pipeline}", headers=admin).json()
    assert kept["name"] == "bluepeak_orvida_sales"


@pytest.mark.parametrize("schedule", ["every day", "61 * * * *", "* * *"])
def test_a_bad_cron_run_frequency_is_a_422(
    client: TestClient, admin: Headers, world: World, schedule: str
) -> None:
    pipeline = world.pipeline["bluepeak_orvida_sales"]
    response = client.patch(
        f"/api/pipelines/{pipeline}", json={"run_frequency": schedule}, headers=admin
    )
    problem = problems(response)[("body", "run_frequency")]
    assert problem["input"] == schedule and "cron expression" in problem["msg"]


def test_a_preset_or_cron_run_frequency_is_accepted(
    client: TestClient, admin: Headers, world: World
) -> None:
    pipeline = world.pipeline["bluepeak_orvida_sales"]
    for schedule in ("hourly", "*/15 6-18 * * 1-5"):
        response = client.patch(
            f"/api/pipelines/{pipeline}", json={"run_frequency": schedule}, headers=admin
        )
        assert response.json()["run_frequency"] == schedule


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("state-types", {"name": "archive", "graph_order": -1}),
        ("pipeline-states", {"pipeline_id": 1, "pipeline_state_type_id": 4, "graph_order": -1}),
        (
            "transformations",
            {"transformation_template_id": 5, "pipeline_state_id": 1, "graph_order": -1},
        ),
    ],
)
def test_a_negative_graph_order_is_a_422_from_the_schema(
    client: TestClient, admin: Headers, path: str, body: dict[str, Any]
) -> None:
    problem = problems(client.post(f"/api/{path}", json=body, headers=admin))
    assert problem[("body", "graph_order")]["type"] == "greater_than_equal"


def test_a_null_for_a_required_column_is_a_422_not_a_database_error(
    client: TestClient, admin: Headers, world: World
) -> None:
    brand = world.brand["zentrix"]
    response = client.patch(
        f"/api/brands/{brand}", json={"pharmaceutical_company_id": None}, headers=admin
    )
    assert problems(response)[("body", "pharmaceutical_company_id")]["msg"] == "must not be null"


# --- references and duplicates -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "brands",
            {"name": "novex", "pharmaceutical_company_id": 4242},
            "pharmaceutical_company_id",
        ),
        ("pipeline-types", {"name": "claims", "segment_id": 4242}, "segment_id"),
        ("pipelines", {"name": "p", "pipeline_type_id": 1, "brand_id": 4242}, "brand_id"),
        ("pipeline-states", {"pipeline_id": 4242, "pipeline_state_type_id": 1}, "pipeline_id"),
        (
            "transformations",
            {"transformation_template_id": 4242, "pipeline_state_id": 1},
            "transformation_template_id",
        ),
        ("templates", {"name": "t", "pipeline_state_type_id": 4242}, "pipeline_state_type_id"),
    ],
)
def test_a_reference_to_a_missing_row_is_a_422_naming_the_field(
    client: TestClient, admin: Headers, path: str, body: dict[str, Any], field: str
) -> None:
    problem = problems(client.post(f"/api/{path}", json=body, headers=admin))[("body", field)]
    assert problem["input"] == 4242 and "has id 4242" in problem["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("companies", {"name": "acme_pharma"}, "name"),
        ("brands", {"name": "zentrix", "pharmaceutical_company_id": 1}, "name"),
        ("segments", {"name": "Specialty"}, "name"),
        ("pipeline-types", {"name": "sales_data", "segment_id": 1}, "name"),
        ("state-types", {"name": "raw"}, "name"),
        (
            "pipelines",
            {"name": "bluepeak_orvida_sales", "pipeline_type_id": 1, "brand_id": 1},
            "name",
        ),
        (
            "pipeline-states",
            {"pipeline_id": 1, "pipeline_state_type_id": 1},
            "pipeline_state_type_id",
        ),
        ("tags", {"name": "csv"}, "name"),
        ("templates", {"name": "noop"}, "name"),
        ("users", {"email_address": "EDITOR@example.com", "password": PASSWORD}, "email_address"),
    ],
)
def test_a_duplicate_is_a_422_naming_the_field(
    client: TestClient, admin: Headers, path: str, body: dict[str, Any], field: str
) -> None:
    before = client.get(f"/api/{path}", headers=admin).json()["total"]
    problem = problems(client.post(f"/api/{path}", json=body, headers=admin))[("body", field)]
    assert "already has this" in problem["msg"]
    assert client.get(f"/api/{path}", headers=admin).json()["total"] == before


def test_the_same_brand_name_may_exist_under_another_company(
    client: TestClient, admin: Headers, world: World
) -> None:
    body = {"name": "zentrix", "pharmaceutical_company_id": world.company["bluepeak_bio"]}
    assert create(client, admin, "brands", body)["name"] == "zentrix"


def test_every_problem_of_a_body_is_reported_at_once(client: TestClient, admin: Headers) -> None:
    body = {"name": "Bad Name", "run_frequency": "often", "pipeline_type_id": 4242, "brand_id": 1}
    found = problems(client.post("/api/pipelines", json=body, headers=admin))
    assert {("body", "name"), ("body", "run_frequency"), ("body", "pipeline_type_id")} <= set(found)


# --- values no database can hold ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("segments", {"name": "Onco\x00logy"}, ("body", "name")),
        ("companies", {"name": "ceres", "display_name": "Ceres\x00"}, ("body", "display_name")),
        (
            "templates",
            {"name": "t", "variable_structures": {"a\x00": {}}},
            ("body", "variable_structures"),
        ),
    ],
)
def test_a_nul_character_is_a_422_before_it_reaches_the_database(
    client: TestClient, admin: Headers, path: str, body: dict[str, Any], loc: tuple[str, ...]
) -> None:
    problem = problems(client.post(f"/api/{path}", json=body, headers=admin))[loc]
    assert "NUL" in problem["msg"]


def test_a_nan_default_is_a_422_not_a_server_error(client: TestClient, admin: Headers) -> None:
    body = b'{"name": "t", "variable_structures": {"a": {"type": "float", "default": NaN}}}'
    response = client.post(
        "/api/templates", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    problem = problems(response)[("body", "variable_structures")]
    assert "finite" in problem["msg"] and problem["input"]["a"]["default"] == "nan"


def test_a_huge_reference_id_is_a_422_not_a_server_error(
    client: TestClient, admin: Headers
) -> None:
    body = {"name": "novex", "pharmaceutical_company_id": 2**70}
    assert ("body", "pharmaceutical_company_id") in problems(
        client.post("/api/brands", json=body, headers=admin)
    )


def test_an_email_longer_than_its_column_once_lower_cased_is_a_422(
    client: TestClient, admin: Headers
) -> None:
    # 'İ' lower-cases to two characters: 300 of them fit the schema, not the column.
    body = {"email_address": "İ" * 300 + "@example.com", "password": PASSWORD}
    problem = problems(client.post("/api/users", json=body, headers=admin))
    assert "expected at most 320" in problem[("body", "email_address")]["msg"]


# --- templates and transformations -------------------------------------------------------


def test_a_templates_tags_are_created_and_shared_by_name(
    client: TestClient, admin: Headers, world: World
) -> None:
    tags_before = count(client.app, cfg.Tag)
    template = typed_template(client, admin, world, tags=["csv", "api-test", "csv"])
    assert template["tags"] == ["api-test", "csv"]
    assert count(client.app, cfg.Tag) == tags_before + 1
    patched = client.patch(
        f"/api/templates/{template['id']}", json={"tags": ["sql"]}, headers=admin
    ).json()
    assert patched["tags"] == ["sql"]


def test_an_invalid_variable_schema_is_a_422_on_variable_structures(
    client: TestClient, admin: Headers
) -> None:
    body = {"name": "t", "variable_structures": {"rows": {"type": "integer"}}}
    problem = problems(client.post("/api/templates", json=body, headers=admin))
    assert "invalid spec" in problem[("body", "variable_structures")]["msg"]


def test_a_transformations_variables_are_checked_against_its_template_all_at_once(
    client: TestClient, admin: Headers, world: World
) -> None:
    template = typed_template(client, admin, world)
    body = {
        "transformation_template_id": template["id"],
        "pipeline_state_id": world.state[("acme_zentrix_patient_status", "ingest")],
        "variables": {"rows": "many", "colour": "blue"},
    }
    found = problems(client.post("/api/transformations", json=body, headers=admin))
    assert set(found) == {
        ("body", "variables", "dataset"),
        ("body", "variables", "rows"),
        ("body", "variables", "colour"),
    }
    assert "required variable 'dataset'" in found[("body", "variables", "dataset")]["msg"]
    assert found[("body", "variables", "rows")]["input"] == "many"
    assert "not a valid int" in found[("body", "variables", "rows")]["msg"]
    assert "not declared" in found[("body", "variables", "colour")]["msg"]


def test_valid_variables_are_stored_as_text_and_defaults_are_not_stored(
    client: TestClient, admin: Headers, world: World
) -> None:
    template = typed_template(client, admin, world)
    row = create(
        client,
        admin,
        "transformations",
        {
            "transformation_template_id": template["id"],
            "pipeline_state_id": world.state[("acme_zentrix_patient_status", "ingest")],
            "variables": {"dataset": "claims", "rows": 12},
        },
    )
    assert row["variables"] == {"dataset": "claims", "rows": "12"}


def test_a_template_placed_in_the_wrong_state_is_a_422_on_pipeline_state_id(
    client: TestClient, admin: Headers, world: World
) -> None:
    body = {
        "transformation_template_id": world.template["extract_from_landing"],  # raw
        "pipeline_state_id": world.state[("acme_zentrix_patient_status", "ingest")],
        "variables": {"source": "landing/x"},
    }
    problem = problems(client.post("/api/transformations", json=body, headers=admin))
    message = problem[("body", "pipeline_state_id")]["msg"]
    assert "belongs in the 'raw' state" in message and "placed in 'ingest'" in message


def test_nothing_partial_is_saved_when_a_transformation_is_refused(
    client: TestClient, admin: Headers, world: World
) -> None:
    client.get("/api/session", headers=admin)  # the token's first use is recorded (audited)
    tables = (cfg.Transformation, cfg.TransformationVariable, cfg.AuditEvent)
    before = [count(client.app, table) for table in tables]
    body = {  # valid variables, wrong state: the variables must not be written either
        "transformation_template_id": world.template["extract_from_landing"],
        "pipeline_state_id": world.state[("acme_zentrix_patient_status", "master")],
        "variables": {"source": "landing/x", "prefix": "a"},
    }
    assert client.post("/api/transformations", json=body, headers=admin).status_code == 422
    assert [count(client.app, table) for table in tables] == before


def test_nothing_partial_is_saved_when_a_template_is_refused(
    client: TestClient, admin: Headers
) -> None:
    client.get("/api/session", headers=admin)  # the token's first use is recorded (audited)
    tables = (cfg.TransformationTemplate, cfg.Tag, cfg.TransformationTemplateTag, cfg.AuditEvent)
    before = [count(client.app, table) for table in tables]
    body = {"name": "noop", "tags": ["brand-new-tag", "another-new-tag"]}  # a duplicate name
    assert client.post("/api/templates", json=body, headers=admin).status_code == 422
    assert [count(client.app, table) for table in tables] == before


def test_a_refused_variables_update_leaves_the_stored_variables_as_they_were(
    client: TestClient, admin: Headers, world: World
) -> None:
    transformation = world.transformations["bluepeak_orvida_hub_services"][0]
    stored = client.get(f"/api/transformations/{transformation}", headers=admin).json()
    response = client.patch(
        f"/api/transformations/{transformation}",
        json={"variables": {"remote_path": "/in"}},  # drops the required secret_name
        headers=admin,
    )
    assert ("body", "variables", "secret_name") in problems(response)
    again = client.get(f"/api/transformations/{transformation}", headers=admin).json()
    assert again == stored


# --- notebook templates ------------------------------------------------------------------


def write_notebook(folder: Path, name: str, parameters: str) -> Path:
    """A notebook whose cell tagged 'parameters' holds this source."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell, nbformat.v4.new_code_cell("print(source)")]
    path = folder / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def notebook_client(settings: Settings, tmp_path: Path, users: Any) -> Any:
    """A client of an app whose CORE_TRANSFORMS_DIR is a folder of the test's own."""
    folder = tmp_path / "transforms"
    folder.mkdir()
    app = create_app(settings.model_copy(update={"transforms_dir": folder}))
    with TestClient(app, base_url="https://testserver") as client:
        yield client, folder


NOTEBOOK_VARIABLES = {"source": {"type": "string"}, "factor": {"type": "int"}}


def test_a_notebook_template_needs_every_variable_in_its_parameters_cell(
    notebook_client: Any, admin: Headers, world: World
) -> None:
    client, folder = notebook_client
    write_notebook(folder, "scale", 'transform_id = None\nrun_id = None\nsource = "numbers"\n')
    body = {"name": "scale", "kind": "notebook", "variable_structures": NOTEBOOK_VARIABLES}
    found = problems(client.post("/api/templates", json=body, headers=admin))
    assert set(found) == {("body", "variable_structures", "factor")}
    assert "does not assign it" in found[("body", "variable_structures", "factor")]["msg"]
    write_notebook(folder, "scale", 'source = "numbers"\nfactor: int = 2\n%matplotlib inline\n')
    assert create(client, admin, "templates", body)["kind"] == "notebook"


def test_a_notebook_template_without_its_notebook_is_a_422_on_name(
    notebook_client: Any, admin: Headers
) -> None:
    client, _ = notebook_client
    body = {"name": "ghost", "kind": "notebook"}
    problem = problems(client.post("/api/templates", json=body, headers=admin))[("body", "name")]
    assert "ghost.ipynb does not exist" in problem["msg"]
    assert "CORE_TRANSFORMS_DIR" in problem["msg"]


def test_a_notebook_without_a_parameters_cell_is_refused(
    notebook_client: Any, admin: Headers
) -> None:
    import nbformat

    client, folder = notebook_client
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("source = 1")]
    nbformat.write(notebook, folder / "untagged.ipynb")
    body = {"name": "untagged", "kind": "notebook", "variable_structures": NOTEBOOK_VARIABLES}
    problem = problems(client.post("/api/templates", json=body, headers=admin))
    assert "no code cell tagged 'parameters'" in problem[("body", "name")]["msg"]


def test_a_transformation_of_a_notebook_whose_cell_lost_a_variable_is_refused(
    notebook_client: Any, admin: Headers, world: World
) -> None:
    client, folder = notebook_client
    write_notebook(folder, "scale", 'source = "numbers"\nfactor = 2\n')
    body = {"name": "scale", "kind": "notebook", "variable_structures": NOTEBOOK_VARIABLES}
    template = create(client, admin, "templates", body)
    write_notebook(folder, "scale", 'source = "numbers"\n')  # edited after the template
    row = {
        "transformation_template_id": template["id"],
        "pipeline_state_id": world.state[("acme_zentrix_patient_status", "metrics")],
        "variables": {"source": "fill_metrics", "factor": 3},
    }
    found = problems(client.post("/api/transformations", json=row, headers=admin))
    assert "'factor'" in found[("body", "transformation_template_id")]["msg"]


def test_the_shipped_notebook_template_passes_the_parameters_check(
    notebook_client: Any, admin: Headers
) -> None:
    client, folder = notebook_client
    shipped = Path(__file__).resolve().parents[3] / "transforms" / "Template.ipynb"
    (folder / "scale.ipynb").write_bytes(shipped.read_bytes())
    body = {"name": "scale", "kind": "notebook", "variable_structures": NOTEBOOK_VARIABLES}
    assert create(client, admin, "templates", body)["name"] == "scale"


# --- optimistic concurrency --------------------------------------------------------------


def test_a_patch_from_a_stale_version_is_a_409_and_changes_nothing(
    client: TestClient, admin: Headers, editor: Headers, world: World
) -> None:
    pipeline = world.pipeline["bluepeak_orvida_sales"]
    read = client.get(f"/api/pipelines/{pipeline}", headers=admin).json()
    first = client.patch(
        f"/api/pipelines/{pipeline}",
        json={"description": "first", "version": read["version"]},
        headers=editor,
    )
    assert first.status_code == 200 and first.json()["version"] == read["version"] + 1
    stale = client.patch(
        f"/api/pipelines/{pipeline}",
        json={"description": "second", "version": read["version"]},
        headers=admin,
    )
    assert stale.status_code == 409
    assert f"you have version {read['version']}" in stale.json()["detail"]
    stored = client.get(f"/api/pipelines/{pipeline}", headers=admin).json()
    assert (stored["description"], stored["version"]) == ("first", read["version"] + 1)
    assert stored["last_actor"] == "editor@example.com"


def test_the_version_increments_on_every_update_including_variables_only(
    client: TestClient, admin: Headers, world: World
) -> None:
    transformation = world.transformations["acme_zentrix_patient_status"][0]
    path = f"/api/transformations/{transformation}"
    versions = [client.get(path, headers=admin).json()["version"]]
    for body in ({"retries": 4}, {"variables": {"source": "landing/elsewhere"}}):
        response = client.patch(path, json={**body, "version": versions[-1]}, headers=admin)
        assert response.status_code == 200, response.text
        versions.append(response.json()["version"])
    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]
    assert client.get(path, headers=admin).json()["variables"] == {"source": "landing/elsewhere"}
    stale = client.patch(path, json={"retries": 1, "version": versions[0]}, headers=admin)
    assert stale.status_code == 409


# --- the pipeline views ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"company": "acme_pharma"}, ["acme_zentrix_patient_status"]),
        ({"brand": "orvida"}, ["bluepeak_orvida_hub_services", "bluepeak_orvida_sales"]),
        ({"type": "sales_data"}, ["bluepeak_orvida_sales"]),
        ({"active": "false"}, ["bluepeak_orvida_sales"]),
        ({"active": "true", "company": "bluepeak_bio"}, ["bluepeak_orvida_hub_services"]),
        ({"q": "HUB"}, ["bluepeak_orvida_hub_services"]),
        ({"q": "distributor"}, ["bluepeak_orvida_sales"]),  # found in the description
        ({"company": "nobody"}, []),
    ],
)
def test_the_pipeline_list_filters_like_the_original_gui(
    client: TestClient, viewer: Headers, params: dict[str, str], names: list[str]
) -> None:
    page = client.get("/api/pipelines", params=params, headers=viewer).json()
    assert [item["name"] for item in page["items"]] == names and page["total"] == len(names)


def test_the_pipeline_list_shows_company_brand_type_and_the_last_run(
    client: TestClient, viewer: Headers
) -> None:
    page = client.get("/api/pipelines", params={"brand": "zentrix"}, headers=viewer).json()
    (item,) = page["items"]
    assert (item["company"], item["brand"], item["segment"], item["pipeline_type"]) == (
        "acme_pharma",
        "zentrix",
        "Specialty",
        "specialty_pharmacy",
    )
    assert {"last_run_id", "last_run_state", "last_run_at"} <= set(item)


def test_filters_lists_the_distinct_values_of_each_filter(
    client: TestClient, viewer: Headers
) -> None:
    assert client.get("/api/filters", headers=viewer).json() == {
        "companies": ["acme_pharma", "bluepeak_bio"],
        "brands": ["orvida", "zentrix"],
        "pipeline_types": ["hub_services", "sales_data", "specialty_pharmacy"],
        "active": [True, False],
    }


def test_a_pipeline_shows_its_states_and_transformations_in_graph_order(
    client: TestClient, viewer: Headers, world: World
) -> None:
    pipeline = world.pipeline["acme_zentrix_patient_status"]
    body = client.get(f"/api/pipelines/{pipeline}", headers=viewer).json()
    assert [state["name"] for state in body["states"]] == [
        "raw",
        "ingest",
        "master",
        "enrich",
        "metrics",
        "dimensional",
    ]
    ingest = body["states"][1]["transformations"]
    assert [t["graph_order"] for t in ingest] == [0, 0, 1, 1, 2]
    assert {t["variables"].get("delimiter") for t in ingest[:2]} == {"|", None}
    assert (body["company"], body["brand"], body["version"]) == ("acme_pharma", "zentrix", 1)


def test_an_unknown_pipeline_is_a_404(client: TestClient, viewer: Headers) -> None:
    for path in ("/api/pipelines/4242", "/api/pipelines/4242/plan"):
        response = client.get(path, headers=viewer)
        assert (
            response.status_code == 404 and response.json()["detail"] == "no pipeline with id 4242"
        )


def test_a_pipelines_plan_has_the_groups_and_task_ids_of_core_plan(
    client: TestClient, viewer: Headers, world: World
) -> None:
    pipeline = world.pipeline["acme_zentrix_patient_status"]
    body = client.get(f"/api/pipelines/{pipeline}/plan", headers=viewer).json()
    with database(client.app) as session:
        plan = load_plan(session, "acme_zentrix_patient_status")
    assert [g["spacer_id"] for g in body["groups"]] == [g.spacer_id for g in plan.groups]
    assert [[t["task_id"] for t in g["tasks"]] for g in body["groups"]] == [
        [t.task_id for t in g.tasks] for g in plan.groups
    ]
    assert body["groups"][0]["spacer_id"] == "raw_group_step_0"
    assert [g["state"] for g in body["groups"]][:4] == ["raw", "ingest", "ingest", "ingest"]


def _ingest_moves(world: World) -> tuple[int, list[dict[str, int]]]:
    """Pipeline 1's ingest SQL (the union) moved behind everything else in ingest (moving
    the initial_ingest tasks there would make the mappings read them before they exist,
    which the pipeline check refuses)."""
    pipeline = world.pipeline["acme_zentrix_patient_status"]
    ingest = world.state[("acme_zentrix_patient_status", "ingest")]
    union = world.transformations["acme_zentrix_patient_status"][5:6]
    return pipeline, [
        {"transformation_id": t, "pipeline_state_id": ingest, "graph_order": 7} for t in union
    ]


def test_an_arrangement_preview_changes_the_plan_but_not_the_database(
    client: TestClient, editor: Headers, world: World
) -> None:
    pipeline, placements = _ingest_moves(world)
    before = client.get(f"/api/pipelines/{pipeline}/plan", headers=editor).json()
    stored = client.get(f"/api/pipelines/{pipeline}", headers=editor).json()
    audit = count(client.app, cfg.AuditEvent)
    response = client.put(
        f"/api/pipelines/{pipeline}/arrangement",
        json={"placements": placements, "save": False},
        headers=editor,
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview != before
    last = preview["groups"][3]  # raw, ingest 0, ingest 1, then the moved union
    assert (last["state"], last["graph_order"]) == ("ingest", 7)
    assert {t["transformation_id"] for t in last["tasks"]} == {
        p["transformation_id"] for p in placements
    }
    assert client.get(f"/api/pipelines/{pipeline}/plan", headers=editor).json() == before
    assert client.get(f"/api/pipelines/{pipeline}", headers=editor).json() == stored
    assert count(client.app, cfg.AuditEvent) == audit


def test_an_arrangement_with_save_is_stored(
    client: TestClient, editor: Headers, world: World
) -> None:
    pipeline, placements = _ingest_moves(world)
    response = client.put(
        f"/api/pipelines/{pipeline}/arrangement",
        json={"placements": placements, "save": True},
        headers=editor,
    )
    assert response.status_code == 200, response.text
    assert client.get(f"/api/pipelines/{pipeline}/plan", headers=editor).json() == response.json()
    moved = client.get(
        f"/api/transformations/{placements[0]['transformation_id']}", headers=editor
    ).json()
    assert (moved["graph_order"], moved["last_actor"]) == (7, "editor@example.com")


def test_an_arrangement_with_another_pipelines_transformation_is_a_422(
    client: TestClient, editor: Headers, world: World
) -> None:
    pipeline = world.pipeline["acme_zentrix_patient_status"]
    foreign = world.transformations["bluepeak_orvida_sales"][0]
    placements = [
        {
            "transformation_id": foreign,
            "pipeline_state_id": world.state[("acme_zentrix_patient_status", "raw")],
            "graph_order": 0,
        }
    ]
    response = client.put(
        f"/api/pipelines/{pipeline}/arrangement", json={"placements": placements}, headers=editor
    )
    problem = problems(response)[("body", "placements", "0", "transformation_id")]
    assert problem["input"] == foreign and "is not part of" in problem["msg"]


def test_an_arrangement_into_the_wrong_state_is_a_422_and_saves_nothing(
    client: TestClient, editor: Headers, world: World
) -> None:
    pipeline = world.pipeline["acme_zentrix_patient_status"]
    extract = world.transformations["acme_zentrix_patient_status"][0]  # a raw template
    placements = [
        {
            "transformation_id": extract,
            "pipeline_state_id": world.state[("acme_zentrix_patient_status", "ingest")],
            "graph_order": 0,
        }
    ]
    stored = client.get(f"/api/pipelines/{pipeline}", headers=editor).json()
    response = client.put(
        f"/api/pipelines/{pipeline}/arrangement", json={"placements": placements}, headers=editor
    )
    assert ("body", "placements", "0", "pipeline_state_id") in problems(response)
    assert client.get(f"/api/pipelines/{pipeline}", headers=editor).json() == stored


# --- users and tokens --------------------------------------------------------------------


def test_no_response_about_users_carries_a_password_or_its_hash(
    client: TestClient, admin: Headers
) -> None:
    secret = "a long and secret passphrase"
    texts = []
    created = client.post(
        "/api/users",
        json={"email_address": "carol@example.com", "role": "viewer", "password": secret},
        headers=admin,
    )
    texts.append(created.text)
    user = created.json()["id"]
    texts.append(client.get(f"/api/users/{user}", headers=admin).text)
    texts.append(client.get("/api/users", headers=admin).text)
    texts.append(
        client.patch(f"/api/users/{user}", json={"password": secret + "!"}, headers=admin).text
    )
    login = client.post(
        "/api/session", json={"email": "carol@example.com", "password": secret + "!"}
    )
    texts.append(login.text)
    assert login.status_code == 200
    for text in texts:
        assert secret not in text and "password" not in text and "argon2" not in text


@pytest.mark.parametrize(
    "password", ["short", "x" * 1001, 12345678901], ids=["short", "too-long", "not-text"]
)
def test_a_refused_password_is_not_echoed_in_the_422(
    client: TestClient, admin: Headers, password: Any
) -> None:
    before = count(client.app, cfg.Administrator)
    body = {"email_address": "dave@example.com", "password": password}
    response = client.post("/api/users", json=body, headers=admin)
    problem = problems(response)[("body", "password")]
    assert problem["input"] == "(redacted)"
    assert str(password) not in response.text
    assert count(client.app, cfg.Administrator) == before


def test_a_login_missing_its_email_does_not_echo_the_password(client: TestClient) -> None:
    response = client.post("/api/session", json={"password": "hunter2hunter2"})
    assert response.status_code == 422 and "hunter2" not in response.text


def test_an_admin_issues_a_token_shown_once_and_listed_without_it(
    client: TestClient, admin: Headers, world: World
) -> None:
    user = client.post(
        "/api/users", json={"email_address": "bot@example.com", "role": "editor"}, headers=admin
    ).json()
    issued = client.post(
        f"/api/users/{user['id']}/tokens", json={"name": "ci", "expires_in_days": 30}, headers=admin
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert token.startswith("core_") and token.startswith(issued.json()["prefix"])
    listed = client.get(f"/api/users/{user['id']}/tokens", headers=admin)
    assert listed.status_code == 200
    (row,) = listed.json()
    assert row["name"] == "ci" and row["expires_at"] and "token" not in row
    assert token not in listed.text and "hash" not in listed.text
    me = client.get("/api/session", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["user"]["email_address"] == "bot@example.com"


def test_tokens_of_an_unknown_user_are_a_404(client: TestClient, admin: Headers) -> None:
    assert client.get("/api/users/4242/tokens", headers=admin).status_code == 404
    response = client.post("/api/users/4242/tokens", json={"name": "ci"}, headers=admin)
    assert response.status_code == 404


def test_a_blank_token_name_is_a_422_naming_it(client: TestClient, admin: Headers) -> None:
    response = client.post("/api/users/1/tokens", json={"name": "   "}, headers=admin)
    assert ("body", "name") in problems(response)


def _issue(client: TestClient, admin: Headers, email: str) -> tuple[int, int, Headers]:
    user = client.get("/api/users", params={"q": email}, headers=admin).json()["items"][0]
    issued = client.post(f"/api/users/{user['id']}/tokens", json={"name": "t2"}, headers=admin)
    token = issued.json()
    return user["id"], token["id"], {"Authorization": f"Bearer {token['token']}"}


def test_a_revoked_token_is_a_401(client: TestClient, admin: Headers) -> None:
    _, token_id, headers = _issue(client, admin, "viewer@example.com")
    assert client.get("/api/pipelines", headers=headers).status_code == 200
    assert client.delete(f"/api/tokens/{token_id}", headers=admin).status_code == 204
    response = client.get("/api/pipelines", headers=headers)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]
    assert client.delete("/api/tokens/4242", headers=admin).status_code == 404


def test_an_expired_token_is_a_401(client: TestClient, admin: Headers) -> None:
    _, token_id, headers = _issue(client, admin, "viewer@example.com")
    with database(client.app) as session:
        token = session.get(cfg.ApiToken, token_id)
        token.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.commit()
    response = client.get("/api/pipelines", headers=headers)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_deactivated_users_token_is_a_401(client: TestClient, admin: Headers) -> None:
    user_id, _, headers = _issue(client, admin, "editor@example.com")
    assert client.delete(f"/api/users/{user_id}", headers=admin).status_code == 204
    response = client.get("/api/pipelines", headers=headers)
    assert response.status_code == 401 and "deactivated" in response.json()["detail"]


def test_an_unknown_token_is_a_401(client: TestClient) -> None:
    response = client.get("/api/pipelines", headers={"Authorization": "Bearer core_nope"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_reading_with_a_token_does_not_write_on_every_request(
    client: TestClient, viewer: Headers
) -> None:
    client.get("/api/pipelines", headers=viewer)  # records the first use
    before = count(client.app, cfg.AuditEvent)
    with database(client.app) as session:
        used = session.scalars(select(cfg.ApiToken.last_used_at)).all()
    for _ in range(3):
        assert client.get("/api/pipelines", headers=viewer).status_code == 200
    with database(client.app) as session:
        assert session.scalars(select(cfg.ApiToken.last_used_at)).all() == used
    assert count(client.app, cfg.AuditEvent) == before


def test_a_null_tag_list_is_a_422_not_a_server_error(
    client: TestClient, admin: Headers, world: World
) -> None:
    path = f"/api/templates/{world.template['noop']}"
    response = client.patch(path, json={"tags": None}, headers=admin)
    assert "expected a list of tag names" in problems(response)[("body", "tags")]["msg"]


def test_the_pipeline_list_shows_each_pipelines_latest_run_and_sorts_by_it(
    client: TestClient, viewer: Headers, world: World
) -> None:
    day = dt.datetime(2024, 5, 1, 6, tzinfo=dt.UTC)
    hub, sales = (
        world.pipeline["bluepeak_orvida_hub_services"],
        world.pipeline["bluepeak_orvida_sales"],
    )
    with database(client.app) as session:
        runs = [
            cfg.RunEvent(pipeline_id=hub, state="success", started_at=day),
            cfg.RunEvent(pipeline_id=sales, state="success", started_at=day + dt.timedelta(days=1)),
            cfg.RunEvent(pipeline_id=hub, state="failed", started_at=day + dt.timedelta(days=2)),
        ]
        session.add_all(runs)
        session.commit()
        latest = runs[2].id
    page = client.get("/api/pipelines", params={"sort": "-last_run_at"}, headers=viewer).json()
    ran = [item for item in page["items"] if item["last_run_id"] is not None]
    assert [item["name"] for item in ran] == [
        "bluepeak_orvida_hub_services",
        "bluepeak_orvida_sales",
    ]
    assert (ran[0]["last_run_id"], ran[0]["last_run_state"]) == (latest, "failed")
    assert ran[0]["last_run_at"].startswith("2024-05-03T06:00:00")
