"""The pipeline check: across transformations on every save, and before every run.

On the sample configuration: inputs must be written by an earlier group, SQL reads
only its declared inputs, no dataset is written twice; a save that would break
another transformation is refused naming it. A pipeline whose stored configuration
fails its check is listed by `core pipelines check`, the API and the UI's Check panel,
and refused by `core run`, "Run now" (API and UI) and the Airflow DAG's first task,
before any run or worker starts.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.airflow.dagbuilder.run_events import open_run
from core.errors import InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.models.runs import RunEvent, TaskRun
from core.plan import load_plan
from core.plan.check import PipelineCheckError
from core.runner.local import LocalRunner
from core.service import catalog, resources
from core.service import pipelines as service
from core.settings import Settings
from tests.support.cli import core

ACME = "acme_zentrix_patient_status"


def _find(session: Any, template: str, dataset: str | None = None) -> cfg.Transformation:
    """The sample pipeline's transformation of this template (writing this dataset)."""
    rows = session.scalars(
        select(cfg.Transformation)
        .join(cfg.Transformation.transformation_template)
        .where(cfg.TransformationTemplate.name == template)
    ).all()
    return next(r for r in rows if dataset is None or r.stored_variables.get("dataset") == dataset)


def _state(session: Any, state: str, pipeline: str = ACME) -> int:
    return session.scalar(
        select(cfg.PipelineState.id)
        .join(cfg.PipelineState.pipeline)
        .join(cfg.PipelineState.pipeline_state_type)
        .where(cfg.Pipeline.name == pipeline, cfg.PipelineStateType.name == state)
    )


def _template(session: Any, name: str) -> int:
    query = select(cfg.TransformationTemplate.id).where(cfg.TransformationTemplate.name == name)
    return session.scalar(query)


def _refused(settings: Settings, values: dict[str, Any], row_id: int | None = None) -> list:
    helper = SessionHelper(settings, actor="test")
    with helper as session, pytest.raises(InvalidInputError) as caught:
        if row_id is None:
            resources.create_row(session, catalog.TRANSFORMATIONS, values, settings)
        else:
            version = session.get(cfg.Transformation, row_id).version
            resources.update_row(session, catalog.TRANSFORMATIONS, row_id, values, version)
    return caught.value.problems


def _new(settings: Settings, template: str, state: str, order: int, **variables: Any) -> dict:
    with SessionHelper(settings) as session:
        return {
            "transformation_template_id": _template(session, template),
            "pipeline_state_id": _state(session, state),
            "graph_order": order,
            "variables": variables,
        }


def test_the_sample_configuration_passes_its_check(settings: Settings) -> None:
    with SessionHelper(settings) as session:
        ids = session.scalars(select(cfg.Pipeline.id)).all()
        checks = [service.check_pipeline(session, pipeline_id) for pipeline_id in ids]
    assert len(checks) == 3 and all(c.ok for c in checks), [c.summary() for c in checks]


def test_an_unknown_input_is_refused_with_did_you_mean(settings: Settings) -> None:
    values = _new(
        settings,
        "sql",
        "enrich",
        5,
        inputs=["patient_statuss"],
        dataset="counts",
        query="select count(*) from patient_statuss",
    )
    [(field, value, message)] = _refused(settings, values)
    assert field == "variables.inputs" and value == "patient_statuss"
    assert message.startswith("new transformation (sql): reads dataset 'patient_statuss'")
    assert "Did you mean 'patient_status'" in message
    assert "'publish_to_s3'" not in message  # an export writes no dataset


def test_a_second_writer_of_a_dataset_is_refused_naming_the_first(settings: Settings) -> None:
    values = _new(settings, "initial_ingest", "ingest", 3, dataset="pharmacy_a_status")
    with SessionHelper(settings) as session:
        first = _find(session, "initial_ingest", "pharmacy_a_status").id
    [(field, value, message)] = _refused(settings, values)
    assert (field, value) == ("variables.dataset", "pharmacy_a_status")
    assert f"which transformation {first} (initial_ingest) in state 'ingest' writes too" in message


def test_inputs_must_be_written_by_an_earlier_group_and_not_be_raw(settings: Settings) -> None:
    same_group = _new(
        settings, "column_mapping", "ingest", 0, input="pharmacy_a_status", dataset="x1",
        mapping={"a": "b"},
    )  # fmt: skip
    assert "in the same group" in _refused(settings, same_group)[0][2]
    later = _new(
        settings, "column_mapping", "ingest", 5, input="patient_status", dataset="x2",
        mapping={"a": "b"},
    )  # fmt: skip
    assert "writes later (state 'master'" in _refused(settings, later)[0][2]
    raw = _new(
        settings, "column_mapping", "ingest", 5, input="extract_from_landing", dataset="x3",
        mapping={"a": "b"},
    )  # fmt: skip
    assert "the raw folder of files" in _refused(settings, raw)[0][2]


def test_a_sql_table_missing_from_inputs_is_refused(settings: Settings) -> None:
    values = _new(
        settings, "sql", "enrich", 5, inputs=["patient_status"], dataset="joined",
        query="select * from patient_status join status_clean using (patient_id)",
    )  # fmt: skip
    [(field, _value, message)] = _refused(settings, values)
    assert field == "variables.query"
    assert "reads table(s) 'status_clean' that inputs does not declare" in message


def test_renaming_an_output_a_later_sql_reads_is_refused_naming_the_reader(
    settings: Settings,
) -> None:
    with SessionHelper(settings) as session:
        writer = _find(session, "value_mapping")
        reader = next(
            t for t in session.scalars(select(cfg.Transformation))
            if t.stored_variables.get("inputs") == '["patient_status"]'
        )  # fmt: skip
        variables = {**writer.stored_variables, "dataset": "patient_state"}
        variables["mapping"] = writer.variables["mapping"]
        writer_id, reader_id = writer.id, reader.id
    [(field, _value, message)] = _refused(settings, {"variables": variables}, writer_id)
    assert field == "variables.dataset"
    assert message.startswith(
        f"transformation {writer_id} (value_mapping): this change would break "
        f"transformation {reader_id} (sql): "
    )
    assert "reads dataset 'patient_status'" in message


def test_a_reorder_that_reads_before_writing_is_refused(settings: Settings) -> None:
    with SessionHelper(settings) as session:
        pipeline_id = session.scalar(select(cfg.Pipeline.id).where(cfg.Pipeline.name == ACME))
        numbers = _find(session, "standardize_numbers", "status_clean")
        numbers_id = numbers.id
        place = service.Placement(numbers.id, numbers.pipeline_state_id, 0)
        with pytest.raises(InvalidInputError) as caught:
            service.arrange(session, pipeline_id, [place], save=True)
    assert "in the same group" in caught.value.problems[0][2]
    assert f"transformation {numbers_id} (standardize_numbers)" in caught.value.problems[0][2]


def test_several_bad_fields_come_back_in_one_422(
    client: TestClient, editor: dict[str, str], settings: Settings
) -> None:
    body = _new(
        settings, "initial_ingest", "enrich", 1, dataset="Flights 2013", delimiter="||||",
        skip_rows="many", encoding="klingon",
    )  # fmt: skip
    response = client.post("/api/transformations", json=body, headers=editor)
    assert response.status_code == 422
    fields = {tuple(d["loc"][1:]) for d in response.json()["detail"]}
    assert {
        ("pipeline_state_id",),
        ("variables", "dataset"),
        ("variables", "delimiter"),
        ("variables", "skip_rows"),
        ("variables", "encoding"),
    } <= fields


@pytest.fixture
def broken(settings: Settings) -> dict[str, Any]:
    """The sample pipeline with three problems written past the checks (as an old row might)."""
    with SessionHelper(settings, actor="test") as session:
        union = _find(session, "sql", "status_union")
        for variable in union.transformation_variables:
            if variable.name == "query":
                variable.value = "selec carrier from pharmacy_a_mapped"
        dated = _find(session, "standardize_dates", "status_dated")
        for variable in dated.transformation_variables:
            if variable.name == "input":
                variable.value = "nope"
        numbers = _find(session, "standardize_numbers", "status_clean")
        for variable in numbers.transformation_variables:
            if variable.name == "columns":
                variable.value = '{"quantity": "double"}'
        session.commit()
        pipeline_id = session.scalar(select(cfg.Pipeline.id).where(cfg.Pipeline.name == ACME))
        return {"pipeline_id": pipeline_id, "ids": (union.id, dated.id, numbers.id)}


def _runs_and_tasks(settings: Settings) -> tuple[int, int]:
    with SessionHelper(settings) as session:
        return (
            session.scalar(select(func.count(RunEvent.id))) or 0,
            session.scalar(select(func.count(TaskRun.id))) or 0,
        )


def test_every_problem_is_listed_by_the_cli_the_api_and_the_ui(
    settings: Settings,
    broken: dict[str, Any],
    client: TestClient,
    viewer: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    union, dated, numbers = broken["ids"]
    assert core("pipelines", "check", ACME) == 2
    captured = capsys.readouterr()
    assert "fails its check: 3 problems" in captured.err
    assert "syntax error" in captured.out and "'double'" in captured.out
    body = client.get(f"/api/pipelines/{broken['pipeline_id']}/check", headers=viewer).json()
    assert body["ok"] is False
    assert [(p["transformation_id"], p["field"]) for p in body["problems"]] == [
        (union, "variables.query"),
        (numbers, "variables.columns"),
        (dated, "variables.input"),
    ]
    assert body["problems"][2]["transformation"] == f"transformation {dated} (standardize_dates)"
    client.cookies.clear()
    page = client.get(f"/pipelines/{broken['pipeline_id']}", headers=viewer).text
    assert 'id="check-problems"' in page and "3 problems" in page
    assert core("pipelines", "check", "bluepeak_orvida_hub_services") == 0


def test_a_failing_pipeline_is_never_run(
    settings: Settings,
    broken: dict[str, Any],
    client: TestClient,
    editor: dict[str, str],
    as_editor: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _runs_and_tasks(settings)
    with pytest.raises(PipelineCheckError) as caught:
        LocalRunner(settings).run(ACME)
    assert "fails its check (3 problems), so it was not started" in str(caught.value)
    assert not (settings.home / "logs").exists()  # no worker wrote a log
    assert core("run", ACME) == 2
    assert "FAILED: pipeline 'acme_zentrix_patient_status' fails its check" in (
        capsys.readouterr().err
    )
    response = client.post(f"/api/pipelines/{broken['pipeline_id']}/runs", headers=editor)
    assert response.status_code == 409 and "syntax error" in response.json()["detail"]
    confirmed = {"csrf_token": as_editor, "inactive": "run"}  # the pipeline is inactive
    page = client.post(f"/pipelines/{broken['pipeline_id']}/runs", data=confirmed)
    assert page.status_code == 409 and "Not started" in page.text and "check-problems" in page.text
    with SessionHelper(settings) as session:
        plan = load_plan(session, ACME)
    with pytest.raises(PipelineCheckError):
        open_run(settings, plan)  # the Airflow DAG's first task: no run, so no task starts
    assert _runs_and_tasks(settings) == before
