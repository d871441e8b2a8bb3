"""initial_ingest through the runtime, on real files in a raw folder."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import logging

import pyarrow as pa
import pytest

from core.errors import ContractNotFoundError
from tests.unit.transforms.library.data_world import Pipeline, ingest_step, make_pipeline

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _pipeline(**variables: object) -> Pipeline:
    return make_pipeline([ingest_step(**variables)])


def _published(pipeline: Pipeline) -> bool:
    try:
        return pipeline.contract("ingest", "data").fetch_arrow(run_id=pipeline.run_id).num_rows > 0
    except ContractNotFoundError:
        return False


def test_cumulated_files_are_unioned_by_name_as_text_with_their_source() -> None:
    p = _pipeline(prefix="sales", cumulate_flag=True)
    p.raw.put_file(b"id,amount\n1,10.5\n2,007\n", "sales_1.csv")
    p.raw.put_file(b"amount,id,region\n3,3,east\n", "sales_2.csv")
    p.raw.put_file(b"id\n99\n", "other.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    table = p.output("ingest", "data")
    assert table.column_names == ["id", "amount", "region", "__metadata_source_file"]
    assert {f.type for f in table.schema} == {pa.string()}
    assert sorted(table.to_pylist(), key=lambda r: r["id"]) == [
        {"id": "1", "amount": "10.5", "region": None, "__metadata_source_file": "sales_1.csv"},
        {"id": "2", "amount": "007", "region": None, "__metadata_source_file": "sales_1.csv"},
        {"id": "3", "amount": "3", "region": "east", "__metadata_source_file": "sales_2.csv"},
    ]
    assert (result.rows_in, result.rows_out) == (3, 3)
    assert result.metadata["files_read"] == 2 and result.metadata["files_empty"] == 0
    assert result.metadata["rows_out"] == 3 and result.metadata["version"] == 0


def test_without_cumulate_only_the_latest_file_by_modification_time_is_read() -> None:
    p = _pipeline(prefix="sales")
    p.raw.put_file(b"id\nnewest\n", "sales_a.csv", source_modified_time=T0 + dt.timedelta(days=2))
    p.raw.put_file(b"id\noldest\n", "sales_b.csv", source_modified_time=T0)
    result = p.run(0)
    assert result.state == "success", result.error
    assert p.output("ingest", "data")["id"].to_pylist() == ["newest"]
    assert result.metadata["files_read"] == 1


def test_delimiter_header_false_and_skip_rows() -> None:
    p = _pipeline(suffix=".txt", delimiter="tab", header=False, skip_rows=2)
    p.raw.put_file(b"report of May\ngenerated today\nA1\t 2 \t\nB1\t3\tx\n", "export.txt")
    result = p.run(0)
    assert result.state == "success", result.error
    rows = p.output("ingest", "data").to_pylist()
    assert list(rows[0]) == [
        "column_1",
        "column_2",
        "column_3",
        "__metadata_source_file",
    ]
    assert [(r["column_1"], r["column_2"], r["column_3"]) for r in rows] == [
        ("A1", " 2 ", ""),
        ("B1", "3", "x"),
    ]


def test_pipe_delimited_quoted_values_keep_delimiters_and_line_breaks() -> None:
    p = _pipeline(delimiter="|")
    p.raw.put_file(b'id|note\n1|"a|b"\n2|"two\nlines"\n', "notes.csv")
    assert p.run(0).state == "success"
    assert p.output("ingest", "data")["note"].to_pylist() == ["a|b", "two\nlines"]


@pytest.mark.parametrize(
    ("name", "compress"), [("d.csv.gz", gzip.compress), ("d.csv.bz2", bz2.compress)]
)
def test_compressed_files_are_read_by_their_extension(name: str, compress) -> None:
    p = _pipeline(suffix=name[1:])
    p.store_as_is(compress(b"id,city\n1,Z\xc3\xbcrich\n2,Oslo\n"), name)
    result = p.run(0)
    assert result.state == "success", result.error
    assert p.output("ingest", "data")["city"].to_pylist() == ["Zürich", "Oslo"]


def test_a_gzip_file_stored_with_put_file_is_read() -> None:
    p = _pipeline(suffix=".csv.gz")
    p.raw.put_file(gzip.compress(b"id\n1\n"), "d.csv.gz")
    assert p.run(0).rows_out == 1


def test_a_malformed_row_names_the_file_and_line_and_nothing_is_published() -> None:
    p = _pipeline(cumulate_flag=True)
    p.raw.put_file(b"id,name\n1,ann\n", "a_good.csv")
    p.raw.put_file(b"id,name\n1,ann\n2,bo\n3,cy,extra\n4,di\n", "b_bad.csv")
    result = p.run(0)
    assert result.state == "failed" and result.outcome.exit_code == 1
    assert "raw file 'b_bad.csv' line 4: expected 2 fields" in result.error
    assert "found 3: '3,cy,extra'" in result.error
    assert not _published(p)


def test_line_numbers_count_skipped_rows_and_the_header() -> None:
    p = _pipeline(skip_rows=1)
    p.raw.put_file(b"junk\nid,name\n1,ann\n2\n", "short.csv")
    result = p.run(0)
    assert "raw file 'short.csv' line 4: expected 2 fields" in result.error
    assert "found 1" in result.error


def test_bytes_that_are_not_the_encoding_name_the_file_and_encoding() -> None:
    p = _pipeline()
    p.raw.put_file("id,city\n1,Zürich\n".encode("latin-1"), "latin.csv")
    result = p.run(0)
    assert result.state == "failed"
    assert "raw file 'latin.csv' is not valid 'utf-8' text" in result.error
    assert "set the encoding variable" in result.error
    assert not _published(p)


def test_the_configured_encoding_is_decoded() -> None:
    p = _pipeline(encoding="latin-1")
    p.raw.put_file("id,city\n1,Zürich\n".encode("latin-1"), "latin.csv")
    assert p.run(0).state == "success"
    assert p.output("ingest", "data")["city"].to_pylist() == ["Zürich"]


def test_an_ascii_file_with_other_bytes_fails_naming_the_encoding() -> None:
    p = _pipeline(encoding="ascii")
    p.raw.put_file("id,city\n1,Zürich\n".encode(), "u.csv")
    result = p.run(0)
    assert "raw file 'u.csv' is not valid 'ascii' text" in result.error


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"encoding": "klingon"}, "'encoding'='klingon' is not valid: expected a text encoding"),
        ({"encoding": "base64"}, "'encoding'='base64' is not valid: expected a text encoding"),
        ({"delimiter": ";;"}, "variable 'delimiter'=';;' is not valid"),
        ({"skip_rows": -1}, "variable 'skip_rows'='-1' is not valid: expected a number from 0"),
    ],
)
def test_invalid_variables_are_configuration_errors(variables: dict, expected: str) -> None:
    p = _pipeline(**variables)
    p.raw.put_file(b"id\n1\n", "a.csv")
    result = p.run(0)
    assert (result.state, result.outcome.exit_code) == ("failed", 2)
    assert expected in result.error


def test_empty_files_are_skipped_with_a_warning_and_counted(caplog) -> None:
    p = _pipeline(cumulate_flag=True)
    p.raw.put_file(b"", "a_empty.csv")
    p.raw.put_file(b"id\n1\n", "c_rows.csv")
    p.raw.put_file(b"id\n", "d_header_only.csv")
    with caplog.at_level(logging.WARNING, "core.transforms"):
        result = p.run(0)
    assert result.state == "success", result.error
    assert result.metadata["files_empty"] == 1 and result.metadata["files_read"] == 2
    assert result.metadata["empty_files"] == ["a_empty.csv"]
    assert "raw file 'a_empty.csv' has no rows to read; skipped" in caplog.text
    assert p.output("ingest", "data")["id"].to_pylist() == ["1"]


def test_a_gzip_file_of_nothing_is_empty_too() -> None:
    p = _pipeline(suffix=".gz")
    p.store_as_is(gzip.compress(b""), "nothing.csv.gz")
    result = p.run(0)
    assert result.state == "success", result.error
    assert (result.metadata["files_empty"], result.rows_out) == (1, 0)


def test_when_every_file_is_empty_the_run_has_no_rows_and_keeps_the_columns() -> None:
    p = _pipeline()
    p.raw.put_file(b"id,name\n1,ann\n", "a.csv")
    assert p.run(0).state == "success"
    p.raw.put_file(b"", "a.csv")
    p.new_run()
    result = p.run(0)
    assert (result.state, result.rows_out, result.metadata["files_empty"]) == ("success", 0, 1)
    table = p.output("ingest", "data")
    assert (table.num_rows, table.column_names) == (0, ["id", "name", "__metadata_source_file"])


def test_a_one_megabyte_field_is_read_whole() -> None:
    p = _pipeline()
    big = "x" * (1 << 20)
    p.raw.put_file(f"id,blob,tail\n1,{big},end\n2,small,end\n".encode(), "big.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    table = p.output("ingest", "data")
    assert table["blob"].to_pylist() == [big, "small"]
    assert table["tail"].to_pylist() == ["end", "end"]


def test_a_row_longer_than_the_first_block_grows_the_block() -> None:
    p = _pipeline()
    big = "y" * (17 << 20)
    p.raw.put_file(f"id,blob\n1,{big}\n".encode(), "huge.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    assert len(p.output("ingest", "data")["blob"][0].as_py()) == 17 << 20


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
def test_a_first_line_longer_than_the_header_block_is_read_whole(header: bool) -> None:
    """The names are first looked for in a small block; a longer first line is read too."""
    from core.transforms.library.delimited import HEADER_BLOCK

    names = [f"column_{i:05d}_{'n' * 40}" for i in range(HEADER_BLOCK // 40)]
    p = _pipeline(header=header)
    first = ",".join(names).encode()
    p.raw.put_file(first + b"\n" + ",".join("v" for _ in names).encode() + b"\n", "wide.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    table = p.output("ingest", "data")
    assert len(first) > HEADER_BLOCK and table.num_columns == len(names) + 1
    assert table.column_names[-2] == (names[-1] if header else f"column_{len(names)}")
    assert table.num_rows == (1 if header else 2)


def test_skipped_rows_past_the_header_block_are_skipped_not_taken_for_an_empty_file() -> None:
    from core.transforms.library.delimited import HEADER_BLOCK

    # A quote left open in a skipped line is no unclosed quote: the line is skipped.
    preamble = b'a "note line of a report, skipped\n' * (2 * HEADER_BLOCK // 30)
    lines = preamble.count(b"\n")
    p = _pipeline(skip_rows=lines)
    p.raw.put_file(preamble + b"id,amount\n1,10\n", "report.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    assert p.output("ingest", "data").to_pylist() == [
        {"id": "1", "amount": "10", "__metadata_source_file": "report.csv"}
    ]


def test_no_matching_file_names_prefix_suffix_and_the_files_there() -> None:
    p = _pipeline(prefix="pharmacy_c", suffix=".csv")
    p.raw.put_file(b"id\n1\n", "pharmacy_a_1.csv")
    p.raw.put_file(b"id\n1\n", "pharmacy_b_1.txt")
    result = p.run(0)
    assert result.state == "failed"
    assert "no raw file matches prefix 'pharmacy_c' and suffix '.csv'" in result.error
    assert "files there: pharmacy_a_1.csv, pharmacy_b_1.txt" in result.error


def test_a_header_naming_a_column_twice_is_refused() -> None:
    p = _pipeline()
    p.raw.put_file(b"id,id\n1,2\n", "twice.csv")
    result = p.run(0)
    assert "the header names column(s) 'id' more than once" in result.error


def test_running_again_in_the_same_run_replaces_the_rows() -> None:
    p = _pipeline()
    p.raw.put_file(b"id\n1\n2\n", "a.csv")
    assert p.run(0).state == "success"
    p.raw.put_file(b"id\n1\n2\n3\n", "a.csv")
    assert p.run(0).rows_out == 3
    assert p.output("ingest", "data").num_rows == 3


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_column_name() -> None:
    p = _pipeline()
    p.raw.put_file(b"\xef\xbb\xbfid,name\n1,ann\n", "excel.csv")
    assert p.run(0).state == "success"
    assert p.output("ingest", "data").column_names[:2] == ["id", "name"]


def test_skipped_files_are_recorded_logged_and_summarised(caplog) -> None:
    from rich.console import Console

    from core.cli.run import print_report
    from core.helpers.session_helper import SessionHelper
    from core.plan import load_plan
    from core.runner.report import build_report

    p = _pipeline(prefix="sales")
    for day, name in enumerate(["sales_1.csv", "sales_2.csv", "sales_3.csv"]):
        p.raw.put_file(b"id\n1\n", name, source_modified_time=T0 + dt.timedelta(days=day))
    with caplog.at_level(logging.WARNING):
        result = p.run(0)
    note = "read 1 of 3 matching files (cumulate_flag is false)"
    assert result.state == "success", result.error
    assert result.metadata["notes"] == [note]
    assert result.metadata["files_matched"] == 3
    assert result.metadata["read_files"] == ["sales_3.csv"]
    assert result.metadata["skipped_files"] == ["sales_1.csv", "sales_2.csv"]
    assert note in caplog.text and "'sales_1.csv', 'sales_2.csv'" in caplog.text
    with SessionHelper(p.settings) as session:
        report = build_report(session, load_plan(session, "p"), p.run_id)
    console = Console(record=True, width=200)
    print_report(console, report)
    assert f"note: {report.tasks[1].task_id}: {note}" in console.export_text()


def test_reading_every_matching_file_records_no_note() -> None:
    p = _pipeline(prefix="sales", cumulate_flag=True)
    p.raw.put_file(b"id\n1\n", "sales_1.csv")
    p.raw.put_file(b"id\n2\n", "sales_2.csv")
    result = p.run(0)
    assert result.state == "success", result.error
    assert "notes" not in result.metadata and "skipped_files" not in result.metadata
    assert result.metadata["files_matched"] == 2
