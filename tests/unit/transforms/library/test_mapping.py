"""column_mapping and value_mapping through the runtime."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ContractNotFoundError
from tests.unit.transforms.library.data_world import Pipeline, given_then, make_pipeline

SOURCE = "__metadata_source_file"
ROWS = [
    {"PatientID": "p1", "StatusCode": "ACT", "Qty": "1", SOURCE: "a.csv"},
    {"PatientID": "p2", "StatusCode": " SHP ", "Qty": "2", SOURCE: "a.csv"},
    {"PatientID": "p3", "StatusCode": "XXX", "Qty": "3", SOURCE: "b.csv"},
    {"PatientID": "p4", "StatusCode": "", "Qty": "4", SOURCE: "b.csv"},
]
STATUS = {"ACT": "active", "SHP": "shipped"}


def _column_mapping(rows: list[dict[str, Any]], **variables: Any) -> Pipeline:
    return make_pipeline(given_then("master", "column_mapping", rows, **variables))


def _value_mapping(rows: list[dict[str, Any]], **variables: Any) -> Pipeline:
    variables = {"column": "StatusCode", "max_rejection_rate": 0.5, **variables}
    return make_pipeline(given_then("master", "value_mapping", rows, **variables))


def test_columns_are_renamed_and_selected_and_the_source_file_kept() -> None:
    p = _column_mapping(ROWS, mapping={"StatusCode": "status_code", "PatientID": "patient_id"})
    assert p.run(0).state == "success"
    result = p.run(1)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table.column_names == ["status_code", "patient_id", SOURCE]
    assert table["patient_id"].to_pylist() == ["p1", "p2", "p3", "p4"]
    assert table[SOURCE].to_pylist() == ["a.csv", "a.csv", "b.csv", "b.csv"]
    assert (result.rows_in, result.rows_out) == (4, 4)


def test_a_mapping_may_name_a_standard_metadata_column_of_its_input() -> None:
    # The standard transforms read without them, unless their configuration names one.
    mapping = {"PatientID": "patient_id", "__metadata_run_id": "loaded_by_run"}
    p = _column_mapping(ROWS, mapping=mapping)
    assert p.run(0).state == "success"
    result = p.run(1)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table.column_names[:2] == ["patient_id", "loaded_by_run"]
    assert len(set(table["loaded_by_run"].to_pylist())) == 1


def test_a_mapping_onto_a_column_core_writes_itself_is_refused_by_name() -> None:
    # Hostile or careless: the run id would otherwise be the patient id's, or (as the
    # publish writes it anew) the patient ids would vanish without a word.
    p = _column_mapping(ROWS, mapping={"PatientID": "__metadata_run_id", "Qty": "quantity"})
    assert p.run(0).state == "success"
    result = p.run(1)
    assert result.state == "failed"
    assert "'PatientID' -> '__metadata_run_id'" in result.error
    assert "map onto another name" in result.error
    with pytest.raises(ContractNotFoundError):
        p.output("master", "out")  # nothing was published


def test_keep_unmapped_keeps_the_other_columns() -> None:
    p = _column_mapping(ROWS, mapping={"Qty": "quantity"}, keep_unmapped=True)
    p.run(0)
    assert p.run(1).state == "success"
    assert p.output("master", "out").column_names == ["quantity", "PatientID", "StatusCode", SOURCE]


def test_keep_unmapped_refuses_a_rename_onto_a_kept_column() -> None:
    p = _column_mapping(ROWS, mapping={"Qty": "PatientID"}, keep_unmapped=True)
    p.run(0)
    result = p.run(1)
    assert result.state == "failed"
    assert "mapping renames onto 'PatientID', which the input already has unmapped" in result.error


def test_missing_source_columns_are_all_named_with_the_columns_present() -> None:
    mapping = {"PatientID": "patient_id", "Status": "status", "Date": "date"}
    p = _column_mapping(ROWS, mapping=mapping)
    p.run(0)
    result = p.run(1)
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert (
        "input 'given' (read from raw file(s) 'a.csv', 'b.csv') lacks column(s) 'Status', 'Date'"
        in result.error
    )
    assert "its columns are 'PatientID', 'StatusCode', 'Qty', '__metadata_source_file'" in (
        result.error
    )
    with pytest.raises(ContractNotFoundError):
        p.contract("master", "out").fetch_arrow()


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"PatientID": "id", "Qty": "id"}, "maps several columns onto 'id'"),
        (["PatientID"], "variable 'mapping'='[\"PatientID\"]' is not valid"),
        ({}, "variable 'mapping'='{}' is not valid: expected a non-empty JSON object"),
    ],
)
def test_invalid_mappings_are_configuration_errors(mapping: Any, expected: str) -> None:
    p = _column_mapping(ROWS, mapping=mapping)
    p.run(0)
    result = p.run(1)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert expected in result.error


def test_values_are_mapped_and_unmapped_rows_go_to_rejects() -> None:
    p = _value_mapping(ROWS, mapping=STATUS)
    p.run(0)
    result = p.run(1)
    assert result.state == "success", result.error
    table = p.output("master", "out")
    assert table["StatusCode"].to_pylist() == ["active", "shipped", None]
    assert table["PatientID"].to_pylist() == ["p1", "p2", "p4"]
    rejects = p.output("master", "out_rejects")
    assert rejects.to_pylist() == [ROWS[2]]
    assert result.metadata["rejected"] == {"StatusCode": 1}
    assert result.metadata["rows_rejected"] == 1
    assert result.metadata["rejects_dataset"].endswith("/dev/acme/zentrix/master/out_rejects")
    assert (result.rows_in, result.rows_out) == (4, 3)


def test_above_the_threshold_neither_the_dataset_nor_its_rejects_are_published() -> None:
    p = _value_mapping(ROWS, mapping={"ACT": "active"}, max_rejection_rate=0.25)
    p.run(0)
    result = p.run(1)
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert "rejected values above max_rejection_rate 0.25 (25.0%)" in result.error
    assert "column 'StatusCode': 2 of 4 rows (50.0%), e.g. ' SHP ', 'XXX'" in result.error
    assert "nothing was published" in result.error
    assert result.metadata["rejected"] == {"StatusCode": 2}
    for dataset in ("out", "out_rejects"):  # a failed task commits none of its outputs
        with pytest.raises(ContractNotFoundError):
            p.contract("master", dataset).fetch_arrow()


def test_a_rerun_of_the_run_replaces_its_rejects() -> None:
    p = _value_mapping(ROWS, mapping=STATUS)
    p.run(0)
    assert p.run(1).metadata["rows_rejected"] == 1
    p.set_variables(1, mapping={**STATUS, "XXX": "other"})
    result = p.run(1)
    assert (result.state, result.metadata["rows_rejected"]) == ("success", 0)
    assert p.output("master", "out_rejects").num_rows == 0
    assert p.output("master", "out")["StatusCode"].to_pylist() == [
        "active",
        "shipped",
        "other",
        None,
    ]


def test_ignore_case_matches_regardless_of_case() -> None:
    p = _value_mapping(ROWS, mapping={"act": "active", "Shp": "shipped"}, ignore_case=True)
    p.run(0)
    assert p.run(1).metadata["rejected"] == {"StatusCode": 1}
    assert p.output("master", "out")["StatusCode"].to_pylist() == ["active", "shipped", None]


def test_reject_blanks_rejects_empty_values_too() -> None:
    p = _value_mapping(ROWS, mapping=STATUS, reject_blanks=True)
    p.run(0)
    assert p.run(1).metadata["rejected"] == {"StatusCode": 2}
    assert p.output("master", "out_rejects")["PatientID"].to_pylist() == ["p3", "p4"]


def _with_bridge(bridge: list[dict[str, str]]) -> Pipeline:
    given = {"template": "given", "variables": {"dataset": "given", "rows": ROWS}}
    codes = {"template": "given", "variables": {"dataset": "codes", "rows": bridge}}
    mapping = {
        "template": "value_mapping",
        "variables": {
            "input": "given",
            "dataset": "out",
            "column": "StatusCode",
            "bridge_dataset": "codes",
            "max_rejection_rate": 0.5,
        },
    }
    return make_pipeline(
        [
            {"state": "ingest", "transformations": [given, codes]},
            {"state": "master", "transformations": [mapping]},
        ]
    )


def test_a_bridge_dataset_gives_the_vocabulary() -> None:
    p = _with_bridge([{"from": "ACT", "to": "active"}, {"from": "XXX", "to": "unknown"}])
    p.run_all()
    result = p.results[2]
    assert result.state == "success", result.error
    assert p.output("master", "out")["StatusCode"].to_pylist() == ["active", "unknown", None]
    assert result.metadata["rejected"] == {"StatusCode": 1}
    assert result.rows_in == 4 + 2


def test_a_bridge_mapping_a_value_two_ways_is_refused() -> None:
    p = _with_bridge([{"from": "ACT", "to": "active"}, {"from": "ACT ", "to": "inactive"}])
    result = p.run_all()[2]
    assert result.state == "failed"
    assert "maps raw value(s) 'ACT' onto more than one controlled value" in result.error


def test_a_bridge_without_from_and_to_is_named() -> None:
    p = _with_bridge([{"raw": "ACT", "to": "active"}])
    result = p.run_all()[2]
    assert "bridge_dataset 'codes' lacks column(s) 'from'" in result.error


@pytest.mark.parametrize("variables", [{}, {"mapping": STATUS, "bridge_dataset": "codes"}])
def test_exactly_one_of_mapping_and_bridge_is_required(variables: dict[str, Any]) -> None:
    p = _value_mapping(ROWS, **variables)
    p.run(0)
    result = p.run(1)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert "set exactly one of the variables 'mapping'" in result.error


def test_a_missing_column_is_named() -> None:
    p = _value_mapping(ROWS, mapping=STATUS, column="status")
    p.run(0)
    result = p.run(1)
    assert (
        "input 'given' (read from raw file(s) 'a.csv', 'b.csv') lacks column(s) 'status'"
        in result.error
    )
