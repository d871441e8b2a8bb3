"""A sql step's inputs as DuckDB views: read from their files on a local lake, else as Arrow."""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from core import stop
from core.errors import LakeError
from core.helpers.duckdb_helper import reading
from core.lake import METADATA_COLUMNS, DatasetContract
from core.lake.run_files import RunFiles, run_files
from core.models import variable_checks
from core.settings import load_settings
from core.transforms import context
from core.transforms.context import TransformContext
from core.transforms.library.duckdb_inputs import _view_of_files, inputs_in_duckdb
from tests.unit.transforms.library.data_world import Pipeline, make_pipeline

A = [{"id": "1", "v": "x"}, {"id": "2", "v": "y"}]
QUERY = "select id, v from a order by id"


def _pipeline() -> Pipeline:
    given = {"template": "given", "variables": {"dataset": "a", "rows": A}}
    step = {"template": "sql", "variables": {"inputs": ["a"], "dataset": "out", "query": QUERY}}
    return make_pipeline(
        [
            {"state": "ingest", "transformations": [given]},
            {"state": "enrich", "transformations": [step]},
        ]
    )


def test_on_a_local_lake_the_query_reads_the_inputs_files_not_arrow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = _pipeline()
    p.run(0)

    def no_arrow(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the input was read as Arrow")

    monkeypatch.setattr(TransformContext, "input", no_arrow)
    result = p.run(1)
    assert result.state == "success", result.error
    assert (result.rows_in, result.rows_out) == (2, 2)
    assert p.output("enrich", "out").to_pylist() == A


def test_where_the_files_cannot_be_read_directly_the_lake_reads_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = _pipeline()
    p.run(0)
    monkeypatch.setattr(context, "run_files", lambda contract, run: None)  # as on S3
    result = p.run(1)
    assert result.state == "success", result.error
    assert (result.rows_in, result.rows_out) == (2, 2)
    assert p.output("enrich", "out").to_pylist() == A


@pytest.fixture
def published() -> tuple[DatasetContract, RunFiles]:
    """A table of many types, published as run 4; its files without the metadata columns."""
    contract = DatasetContract("acme", "zentrix", "ingest", "typed", settings=load_settings())
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    table = pa.table(
        {
            "text": ["a", None, "ccc"],
            "whole": pa.array([1, None, 3], pa.int64()),
            "small": pa.array([1, 2, None], pa.int16()),
            "real": [1.5, float("nan"), None],
            "flag": [True, None, False],
            "day": pa.array([dt.date(2026, 1, 2), None, dt.date(1999, 12, 31)], pa.date32()),
            "at": pa.array([moment, None, moment], pa.timestamp("us", "UTC")),
            "amount": pa.array([decimal.Decimal("1.25"), None, None], pa.decimal128(10, 2)),
            "__metadata_source_file": ["f.csv"] * 3,
        }
    )
    contract.publish(table, run_id=4)
    found = run_files(contract, 4)
    assert found is not None
    columns = [f for f in found.schema if f.name not in METADATA_COLUMNS]
    return contract, RunFiles(found.paths, pa.schema(columns))


def test_the_files_give_a_query_the_same_rows_and_types_as_the_lake(
    published: tuple[DatasetContract, RunFiles],
) -> None:
    contract, files = published
    with reading(files.paths) as con:
        assert _view_of_files(con, "direct", files)
        con.register("lake", contract.fetch_arrow(run_id=4, metadata=False))
        direct, lake = (con.sql(f"select * from {v} order by text") for v in ("direct", "lake"))
        assert direct.types == lake.types
        assert direct.columns == lake.columns == files.schema.names
        assert repr(direct.fetchall()) == repr(lake.fetchall())  # repr: NaN is not NaN


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s.set(1, pa.field("whole", pa.int32())), id="another type"),
        pytest.param(lambda s: s.append(pa.field("gone", pa.string())), id="a missing column"),
    ],
)
def test_files_that_would_read_otherwise_than_the_lake_make_no_view(
    published: tuple[DatasetContract, RunFiles], change: Any
) -> None:
    _contract, files = published
    with reading(files.paths) as con:
        assert not _view_of_files(con, "direct", RunFiles(files.paths, change(files.schema)))
        assert con.sql(
            "select count(*) from duckdb_views() where view_name = 'direct'"
        ).fetchall() == [(0,)]


class _Context:
    """What inputs_in_duckdb asks of a transformation's context."""

    def __init__(self, files: RunFiles) -> None:
        self.files, self.rows_in = files, 0

    def input_source(self, name: str) -> RunFiles:
        return self.files


def test_a_stop_interrupts_a_query_over_the_files(
    published: tuple[DatasetContract, RunFiles],
) -> None:
    ended: list[BaseException | None] = []
    ctx = _Context(published[1])
    with inputs_in_duckdb(ctx, ["t"]) as con:  # type: ignore[arg-type]
        assert con.sql("select count(*) from t").fetchall() == [(3,)]
        assert ctx.rows_in == 3  # counted as they are made views
        (interrupt,) = stop._interrupts.values()  # what the worker's stop watcher calls

        def run() -> None:
            try:
                con.sql("select count(*) from t, range(1000000000000)").fetchall()
                ended.append(None)
            except BaseException as exc:  # asserted in the test's thread
                ended.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive():  # until it ends: an interrupt before the query is lost
            interrupt()
            thread.join(0.05)
    assert isinstance(ended[0], duckdb.InterruptException), ended
    assert not stop._interrupts  # withdrawn with the connection


def test_a_file_gone_from_under_the_log_fails_naming_the_input(
    published: tuple[DatasetContract, RunFiles],
) -> None:
    files = published[1]
    Path(files.paths[0]).unlink()
    failing = inputs_in_duckdb(_Context(files), ["t"])  # type: ignore[arg-type]
    with pytest.raises(LakeError, match="input 't': its files cannot be read") as raised, failing:
        pass
    assert "re-run the transformation that writes 't'" in str(raised.value)


# --- what an editor's query can reach: its inputs' files, no other -----------------------


def _reaching_for_another_datasets_file() -> tuple[Pipeline, str]:
    """Datasets a and b; a sql step whose inputs are [a] and whose query reads b's file."""
    given = [
        {"template": "given", "variables": {"dataset": name, "rows": A}} for name in ("a", "b")
    ]
    p = make_pipeline(
        [
            {"state": "ingest", "transformations": given},
            {"state": "enrich", "transformations": [{"template": "sql", "variables": {}}]},
        ]
    )
    p.run(0), p.run(1)
    found = run_files(p.contract("ingest", "b"), p.run_id)
    assert found is not None
    query = f"select * from a, read_parquet('{found.paths[0]}')"
    p.set_variables(2, inputs=["a"], dataset="out", query=query)
    return p, found.paths[0]


def test_a_query_reading_another_datasets_file_is_refused_as_configuration() -> None:
    p, _ = _reaching_for_another_datasets_file()
    result = p.run(2)
    assert (result.state, result.outcome.exit_code) == ("failed", 2), result.error
    assert "variable 'query'" in result.error
    assert not p.contract("enrich", "out").exists()


def test_past_the_query_check_duckdb_still_reads_no_file_but_the_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p, path = _reaching_for_another_datasets_file()
    # As if DuckDB's parser missed the table function: every query check finds table a only.
    monkeypatch.setattr(variable_checks, "sql_tables", lambda query: frozenset({"a"}))
    result = p.run(2)
    assert (result.state, result.outcome.exit_code) == ("failed", 1), result.error
    assert "Permission Error" in result.error and path in result.error
    assert not p.contract("enrich", "out").exists()
