"""The process's locked DuckDB database: one per process, a connection per use."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.helpers import duckdb_helper
from core.helpers.duckdb_helper import locked_duckdb, reading


def test_uses_share_the_database_but_not_what_they_registered() -> None:
    with locked_duckdb() as first:
        first.register("data", pa.table({"x": [1, 2]}))
        assert first.execute("SELECT sum(x) FROM data").fetchone() == (3,)
        with locked_duckdb() as second, pytest.raises(duckdb.CatalogException, match="data"):
            second.execute("SELECT * FROM data")
    with locked_duckdb() as later, pytest.raises(duckdb.CatalogException, match="data"):
        later.execute("SELECT * FROM data")
    with duckdb_helper._lock:
        assert duckdb_helper._shared() is duckdb_helper._shared()  # opened once


def test_threads_take_connections_at_once_and_each_answers_its_own_query() -> None:
    def answer(n: int) -> int:
        with locked_duckdb() as con:
            con.register("data", pa.table({"x": [n] * 3}))
            return int(con.execute("SELECT sum(x) FROM data").fetchone()[0])  # type: ignore[index]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(answer, range(64))) == [3 * n for n in range(64)]


def test_every_connection_is_locked_away_from_files_and_settings() -> None:
    with locked_duckdb() as con:
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_csv('/etc/hostname')")
        with pytest.raises(duckdb.Error, match="lock"):
            con.execute("SET enable_external_access = true")


def test_an_interrupt_stops_its_own_query_only() -> None:
    endless = "SELECT count(*) FROM range(1000000000000)"
    ended: list[BaseException | tuple[object, ...] | None] = []
    with locked_duckdb() as stopped, locked_duckdb() as other:
        started = threading.Event()

        def run() -> None:
            started.set()
            try:
                ended.append(stopped.execute(endless).fetchone())
            except BaseException as exc:  # asserted in the test's thread
                ended.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        started.wait()
        while thread.is_alive():  # until it ends: an interrupt before the query is lost
            stopped.interrupt()
            thread.join(0.05)
        assert isinstance(ended[0], duckdb.InterruptException), ended
        assert other.execute("SELECT 42").fetchone() == (42,)


def _child_answer(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with locked_duckdb() as con:
        queue.put((con.execute("SELECT 41 + 1").fetchone(), duckdb_helper._inherited != []))


def test_a_forked_child_opens_its_own_database() -> None:
    with locked_duckdb() as con:
        con.execute("SELECT 1")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_answer, args=(queue,))
    child.start()
    answer = queue.get(timeout=120)
    child.join(120)
    assert answer == ((42,), True)  # answered by a database of its own
    assert child.exitcode == 0


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[str, str]:
    paths = (str(tmp_path / "mine.parquet"), str(tmp_path / "other.parquet"))
    for n, path in enumerate(paths):
        pq.write_table(pa.table({"x": [n, n]}), path)
    return paths


def test_a_reading_database_reads_its_files_and_no_other(two_files: tuple[str, str]) -> None:
    mine, other = two_files
    with reading([mine]) as con:
        assert con.execute(f"SELECT sum(x) FROM read_parquet('{mine}')").fetchall() == [(0,)]
        refused = [
            f"SELECT * FROM read_parquet('{other}')",
            "SELECT * FROM read_csv('/etc/hostname')",
            f"COPY (SELECT 1 AS x) TO '{mine}' (FORMAT parquet)",
            f"ATTACH '{other}.db'",
        ]
        for statement in refused:
            with pytest.raises(duckdb.PermissionException):
                con.execute(statement)
        for setting in ("enable_external_access = true", f"allowed_paths = ['{other}']"):
            with pytest.raises(duckdb.Error, match="lock"):
                con.execute(f"SET {setting}")
    assert pq.read_table(mine)["x"].to_pylist() == [0, 0]  # the COPY wrote nothing


def test_the_database_prepared_ahead_is_the_next_reading_ones_and_only_that(
    two_files: tuple[str, str],
) -> None:
    mine, other = two_files
    duckdb_helper.prepare_reading()
    prepared = duckdb_helper._database["spare"][1]
    with reading([mine]) as con:
        assert con is prepared
    with reading([other]) as con:  # a new one: the prepared one was locked to mine
        assert con is not prepared
        assert con.execute(f"SELECT sum(x) FROM read_parquet('{other}')").fetchall() == [(2,)]


def test_a_database_prepared_in_another_process_is_not_used(
    two_files: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    duckdb_helper.prepare_reading()
    inherited = duckdb_helper._database["spare"][1]
    monkeypatch.setitem(duckdb_helper._database, "spare", (-1, inherited))  # as a child sees it
    with reading([two_files[0]]) as con:
        assert con is not inherited
    assert inherited in duckdb_helper._inherited  # never closed here: its threads are elsewhere
