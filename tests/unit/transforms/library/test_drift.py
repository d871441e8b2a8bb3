"""No silent NULLs from a drifting file (issue 17, item 2).

A later file that lacks a column (a renamed header, the wrong delimiter) used to
be merged into the dataset's accumulated schema: the column stayed in the table,
null for every row of this run, and the transforms after ingest "succeeded" with
every mapped column NULL. Required columns are checked against what this run read;
a failing task commits none of its outputs (value_mapping's rejects included).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from core.errors import ContractNotFoundError
from tests.unit.transforms.library.data_world import Pipeline, ingest_step, make_pipeline

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
FIRST = b"id,carrier,qty,status\n1,AA,10,ACT\n2,UA,20,SHP\n"
# The same export a day later: a renamed header, or read with the wrong delimiter.
DRIFTED = {
    "renamed header": (b"id,Carrier Code,qty,status\n3,DL,30,ACT\n", ["id", "Carrier Code"]),
    "wrong delimiter": (b"id;carrier;qty;status\n3;DL;30;ACT\n", ["id;carrier;qty;status"]),
}
DOWNSTREAM = {
    "column_mapping": {"mapping": {"id": "id", "carrier": "carrier_code"}},
    "standardize_numbers": {"columns": {"carrier": "float"}, "max_rejection_rate": 1.0},
    "value_mapping": {
        "column": "carrier",
        "mapping": {"AA": "American", "UA": "United", "DL": "Delta"},
    },
}


def _ingest_then(template: str, **variables: Any) -> Pipeline:
    then = {
        "state": "master",
        "transformations": [
            {"template": template, "variables": {"input": "data", "dataset": "out", **variables}}
        ],
    }
    return make_pipeline([ingest_step(prefix="export"), then])


def _version(p: Pipeline, dataset: str) -> int | None:
    try:
        return p.contract("master", dataset).delta_table().version()
    except ContractNotFoundError:
        return None


@pytest.mark.parametrize("template", list(DOWNSTREAM))
@pytest.mark.parametrize("drift", list(DRIFTED))
def test_a_later_file_lacking_a_required_column_fails_the_reader_naming_the_file(
    template: str, drift: str
) -> None:
    p = _ingest_then(template, **DOWNSTREAM[template])
    p.raw.put_file(FIRST, "export_1.csv", source_modified_time=T0)
    assert [r.state for r in p.run_all()] == ["success", "success"], p.results[1].error
    before = {name: _version(p, name) for name in ("out", "out_rejects")}
    content, has = DRIFTED[drift]
    p.new_run()
    p.raw.put_file(content, "export_2.csv", source_modified_time=T0 + dt.timedelta(days=1))
    assert p.run(0).state == "success"
    result = p.run(1)
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert "raw file(s) 'export_2.csv'" in result.error
    assert "'carrier'" in result.error.split(" lacks column(s) ")[1].split(";")[0]
    listed = result.error.split("its columns are ")[1]
    assert all(repr(column) in listed for column in has) and "'carrier'" not in listed
    assert {name: _version(p, name) for name in before} == before  # nothing published


def test_ingest_required_columns_are_checked_in_every_file_read() -> None:
    p = make_pipeline(
        [ingest_step(prefix="export", cumulate_flag=True, required_columns=["id", "carrier"])]
    )
    p.raw.put_file(FIRST, "export_1.csv")
    p.raw.put_file(DRIFTED["renamed header"][0], "export_2.csv")
    result = p.run(0)
    assert (result.state, result.outcome.exit_code) == ("failed", 1)
    assert (
        "raw file 'export_2.csv' lacks required column(s) 'carrier'; its columns are 'id', "
        "'Carrier Code', 'qty', 'status'" in result.error
    )
    with pytest.raises(ContractNotFoundError):
        p.contract("ingest", "data").fetch_arrow()


def test_ingest_required_columns_pass_when_every_file_has_them() -> None:
    p = make_pipeline([ingest_step(prefix="export", cumulate_flag=True, required_columns=["id"])])
    p.raw.put_file(FIRST, "export_1.csv")
    p.raw.put_file(DRIFTED["renamed header"][0], "export_2.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    assert result.rows_out == 3


def test_ingest_required_columns_must_be_a_list_of_names() -> None:
    p = make_pipeline([ingest_step(required_columns=["id", " "])])
    p.raw.put_file(FIRST, "a.csv")
    result = p.run(0)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert (
        "variable 'required_columns'=['id', ' '] is not valid: expected a JSON list" in result.error
    )


def test_a_run_that_has_the_columns_reads_them_even_after_a_drifted_run() -> None:
    p = _ingest_then("column_mapping", **DOWNSTREAM["column_mapping"])
    p.raw.put_file(DRIFTED["renamed header"][0], "export_1.csv", source_modified_time=T0)
    p.run(0)
    assert p.run(1).state == "failed"
    p.new_run()
    p.raw.put_file(FIRST, "export_2.csv", source_modified_time=T0 + dt.timedelta(days=1))
    assert [r.state for r in p.run_all()] == ["success", "success"], p.results[1].error
    assert p.output("master", "out")["carrier_code"].to_pylist() == ["AA", "UA"]


def test_a_failing_value_mapping_leaves_its_rejects_at_their_previous_version() -> None:
    p = _ingest_then("value_mapping", column="status", mapping={"ACT": "active"})
    p.raw.put_file(FIRST, "export_1.csv", source_modified_time=T0)
    p.set_variables(1, max_rejection_rate=0.5)
    assert [r.state for r in p.run_all()] == ["success", "success"], p.results[1].error
    rejects = p.contract("master", "out_rejects")
    assert rejects.fetch_arrow(run_id=p.run_id)["status"].to_pylist() == ["SHP"]
    before = (rejects.delta_table().version(), _version(p, "out"))
    p.new_run()
    p.set_variables(1, max_rejection_rate=0.1)
    result = p.run(1)  # reads the ingest's latest run: one row of two is rejected
    assert result.state == "failed"
    assert "rejected values above max_rejection_rate 0.1" in result.error
    assert "nothing was published" in result.error
    assert (rejects.delta_table().version(), _version(p, "out")) == before
    assert rejects.fetch_arrow(run_id=p.run_id).num_rows == 0


def test_value_mapping_commits_the_dataset_and_then_its_rejects() -> None:
    p = _ingest_then("value_mapping", column="status", mapping={"ACT": "active"})
    p.set_variables(1, max_rejection_rate=0.5)
    p.raw.put_file(FIRST, "export_1.csv")
    assert [r.state for r in p.run_all()] == ["success", "success"], p.results[1].error
    assert p.output("master", "out")["status"].to_pylist() == ["active"]
    assert p.results[1].metadata["rows_rejected"] == 1
    rejects = p.contract("master", "out_rejects")
    assert p.results[1].metadata["side_outputs"] == {rejects.uri: 0}
    assert rejects.fetch_arrow(run_id=p.run_id)["status"].to_pylist() == ["SHP"]


def test_a_side_output_that_cannot_be_committed_reverts_the_dataset() -> None:
    p = _ingest_then("value_mapping", column="status", mapping={"ACT": "active"})
    p.set_variables(1, max_rejection_rate=0.5)
    p.raw.put_file(FIRST, "export_1.csv")
    # The rejects dataset exists with 'status' as a number: this run's text rejects conflict.
    conflicting = pa.table({"status": pa.array([1], pa.int64())})
    p.contract("master", "out_rejects").publish(conflicting, 999)
    assert p.run(0).state == "success"
    result = p.run(1)
    assert result.state == "failed"
    assert "out_rejects" in result.error and "'status'" in result.error
    out = p.contract("master", "out")
    assert out.fetch_arrow(run_id=p.run_id).num_rows == 0  # published, then reverted
    assert p.contract("master", "out_rejects").run_ids() == [999]
