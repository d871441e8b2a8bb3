"""Publish's own writer (core.lake.partition_writer): what it writes, when, and how it fails."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

import core
import core.lake.dataset_contract as dataset_contract
from core.errors import LakeError
from core.lake import DatasetContract, partition_writer
from core.lake.metadata_columns import Stamp, stamped
from core.lake.partition_writer import Partition
from core.lake.storage import S3
from core.settings import Settings

RUN_ID = "__metadata_run_id"


@pytest.fixture
def contract(lake_settings: Settings) -> DatasetContract:
    return DatasetContract("acme", "zentrix", "ingest", "visits", settings=lake_settings)


def _uris_given_to(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """The URIs ``dataset_contract.<name>`` is called with from now on (it still runs)."""
    calls: list[str] = []
    original = getattr(dataset_contract, name)

    def counted(uri: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(uri)
        return original(uri, *args, **kwargs)

    monkeypatch.setattr(dataset_contract, name, counted)
    return calls


@pytest.fixture
def delta_rs_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs delta-rs's write_deltalake was called for (it still writes them)."""
    return _uris_given_to(monkeypatch, "write_deltalake")


def visits(rows: int, start: int = 0) -> pa.Table:
    """Rows of plain types with nulls, NaN and a timestamp."""
    ids = range(start, start + rows)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "clinic": pa.array([None if i % 7 == 0 else f"c{i % 5}" for i in ids], pa.string()),
            "score": pa.array([float("nan") if i % 11 == 0 else i / 2 for i in ids], pa.float64()),
            "day": pa.array(
                [dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in ids], pa.date32()
            ),
            "seen": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * rows, pa.timestamp("us", "UTC")
            ),
            "flag": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
        }
    )


def data_of(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c.startswith("__metadata_")])


def same_rows(fetched: pa.Table, published: pa.Table) -> bool:
    """Every value equal, in order (NaN equal to NaN, null to null), and the same types."""
    data = data_of(fetched)
    return data.schema == published.schema and data.to_pandas().equals(published.to_pandas())


def log_entries(contract: DatasetContract, version: int) -> list[dict[str, Any]]:
    path = Path(contract.uri) / "_delta_log" / f"{version:020d}.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_local_plain_publish_is_written_here_and_reads_back_in_order(
    contract: DatasetContract, delta_rs_writes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partition_writer, "MIN_PART_ROWS", 100)  # several parts, threads
    monkeypatch.setattr(partition_writer.os, "cpu_count", lambda: 3)
    table = visits(1_000)
    summary = contract.publish(table, run_id=4)
    assert delta_rs_writes == []
    assert (summary.rows, summary.files, summary.version) == (1_000, 3, 0)
    fetched = contract.fetch_arrow(run_id=4)
    assert same_rows(fetched, table)  # every value, nulls and NaN, in publish order
    files = sorted((Path(contract.uri) / f"{RUN_ID}=4").iterdir())
    assert len(files) == 3 and RUN_ID not in pq.read_schema(files[0]).names
    [info] = [e["commitInfo"] for e in log_entries(contract, 0) if "commitInfo" in e]
    assert info["operationParameters"]["predicate"] == f"{RUN_ID} = 4"
    assert info["operationMetrics"] == {"num_added_files": 3, "num_added_rows": 1_000}
    assert contract.history()[0]["rows"] == 1_000


def test_republishing_replaces_the_run_in_one_commit_and_keeps_the_others(
    contract: DatasetContract, delta_rs_writes: list[str]
) -> None:
    contract.publish(visits(50), run_id=1)
    contract.publish(visits(30, start=100), run_id=2)
    summary = contract.publish(visits(20, start=500), run_id=1)
    assert delta_rs_writes == [] and summary.version == 2
    assert same_rows(contract.fetch_arrow(run_id=1), visits(20, start=500))
    assert same_rows(contract.fetch_arrow(run_id=2), visits(30, start=100))
    actions = log_entries(contract, 2)
    removed = [a["remove"]["path"] for a in actions if "remove" in a]
    assert removed and all(p.startswith(f"{RUN_ID}=1/") for p in removed)
    assert contract.history()[0]["predicate"] == f"{RUN_ID} = 1"


def test_each_file_carries_exact_statistics(contract: DatasetContract) -> None:
    contract.publish(visits(100), run_id=3)
    [add] = [e["add"] for e in log_entries(contract, 0) if "add" in e]
    assert add["partitionValues"] == {RUN_ID: "3"}
    stats = json.loads(add["stats"])
    assert stats["numRecords"] == 100
    assert stats["nullCount"]["clinic"] == 15 and stats["nullCount"]["id"] == 0
    low, high = stats["minValues"], stats["maxValues"]
    assert (low["id"], high["id"]) == (0, 99)
    assert (low["clinic"], high["clinic"]) == ("c0", "c4")
    assert (low["day"], high["day"]) == ("2024-01-01", "2024-01-30")
    assert (low["seen"], high["seen"]) == ("2024-01-01T00:00:00.000000Z",) * 2
    assert (low["flag"], high["flag"]) == (False, True)
    assert set(low) == set(high) == set(stats["nullCount"])  # every column has its bounds


def test_the_metadata_columns_are_stored_as_dictionaries_and_read_as_their_types(
    contract: DatasetContract,
) -> None:
    # Each is one value for the whole publish: written as a one-entry dictionary, which
    # the Parquet writer stores as it is (hashing a million copies cost a third of a write).
    contract.publish(visits(300), run_id=5)
    [file] = (Path(contract.uri) / f"{RUN_ID}=5").iterdir()
    columns = pq.ParquetFile(file).metadata.row_group(0)
    encodings = {
        columns.column(i).path_in_schema: columns.column(i).encodings
        for i in range(columns.num_columns)
    }
    for name in ("__metadata_app_version", "__metadata_run_timestamp"):
        assert "RLE_DICTIONARY" in encodings[name] or "PLAIN_DICTIONARY" in encodings[name]
    fetched = contract.fetch_arrow(run_id=5)
    assert fetched.schema.field("__metadata_app_version").type == pa.string()
    assert fetched.schema.field("__metadata_run_timestamp").type == pa.timestamp("us", "UTC")
    assert fetched["__metadata_output_contract"].unique().to_pylist() == [contract.key]
    [(rows, contracts)] = duckdb.sql(
        f"select count(*), count(distinct __metadata_output_contract) from '{file}'"
    ).fetchall()
    assert (rows, contracts) == (300, 1)
    [add] = [e["add"] for e in log_entries(contract, 0) if "add" in e]
    stats = json.loads(add["stats"])
    assert stats["minValues"]["__metadata_output_contract"] == contract.key
    assert stats["maxValues"]["__metadata_app_version"] == core.__version__


FILTERS = [
    [("id", ">", 99)],
    [("id", "=", 42)],
    [("clinic", "=", "c4")],
    [("score", "<", 3.0)],
    [("day", ">=", dt.date(2024, 1, 30))],
    [("seen", ">=", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))],
    [("seen", ">", dt.datetime(2024, 1, 1, tzinfo=dt.UTC))],
    [("flag", "=", True)],
    [("__metadata_run_timestamp", ">", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))],
]


@pytest.mark.parametrize("where", FILTERS, ids=[f[0][0] + f[0][1] for f in FILTERS])
def test_a_filtered_fetch_finds_every_matching_row(
    contract: DatasetContract, where: list[tuple[str, str, Any]]
) -> None:
    """Readers skip files by their bounds: a wrong or missing bound loses rows silently."""
    contract.publish(visits(100), run_id=3)
    everything = contract.fetch_arrow()
    expected = everything.filter(pq.filters_to_expression(where)).num_rows
    assert contract.fetch_arrow(filters=where).num_rows == expected


@pytest.mark.parametrize(
    "column",
    [
        pa.array([1.0, float("inf")]),  # no exact bound in JSON
        pa.array(["a", "z" * 5_000]),  # too long for Parquet's statistics
    ],
    ids=["infinity", "long text"],
)
def test_a_column_without_exact_bounds_leaves_the_file_unbounded_and_read(
    contract: DatasetContract, column: pa.Array
) -> None:
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "x": column})
    contract.publish(table, run_id=1)
    [add] = [e["add"] for e in log_entries(contract, 0) if "add" in e]
    stats = json.loads(add["stats"])
    assert "minValues" not in stats and "maxValues" not in stats
    assert stats["numRecords"] == 2
    assert contract.fetch_arrow(filters=[("id", "=", 1)]).num_rows == 1
    assert contract.fetch_arrow(filters=[("x", "=", column[0].as_py())]).num_rows == 1


def test_a_date_beyond_pythons_range_is_published(contract: DatasetContract) -> None:
    """date32 holds years Python's datetime cannot: the statistics must not fail on them."""
    table = pa.table({"d": pa.array([-800_000, 3_000_000], pa.date32())})
    contract.publish(table, run_id=1)
    [add] = [e["add"] for e in log_entries(contract, 0) if "add" in e]
    stats = json.loads(add["stats"])
    assert "minValues" not in stats and stats["numRecords"] == 2
    assert contract.fetch_arrow(run_id=1).num_rows == 2


def test_bounds_skip_row_groups_of_nulls_only() -> None:
    table = pa.table({"n": pa.array([1, 5, None, None, 3, 9], pa.int64())})
    collected: list[Any] = []
    pq.write_table(table, "/dev/null", row_group_size=2, metadata_collector=collected)
    stats = json.loads(partition_writer.file_stats(collected[0]))
    assert stats["nullCount"] == {"n": 2}
    assert (stats["minValues"], stats["maxValues"]) == ({"n": 1}, {"n": 9})


@pytest.mark.parametrize(
    ("column", "why"),
    [
        (pa.array(["a"], pa.large_string()), "delta-rs stores it as string"),
        (pa.array([1], pa.uint32()), "delta-rs casts unsigned integers"),
        (pa.array([1], pa.timestamp("ns", "UTC")), "Delta keeps microseconds"),
        (pa.array([1], pa.timestamp("us")), "a naive timestamp needs a table feature"),
        (pa.array(["a"]).dictionary_encode(), "delta-rs decodes dictionaries"),
        (pa.array([[1]]), "nested types"),
    ],
)
def test_types_delta_rs_converts_are_left_to_delta_rs(
    contract: DatasetContract, delta_rs_writes: list[str], column: pa.Array, why: str
) -> None:
    contract.publish(pa.table({"id": [1], "x": column}), run_id=1)
    assert delta_rs_writes == [contract.uri], why
    assert contract.fetch_arrow(run_id=1).num_rows == 1


def test_other_partitions_new_columns_and_s3_are_left_to_delta_rs(
    contract: DatasetContract, delta_rs_writes: list[str]
) -> None:
    contract.publish(visits(10), run_id=1, partitions=["clinic"])
    assert delta_rs_writes == [contract.uri]
    other = contract.sibling(dataset="merged")
    other.publish(visits(10), run_id=1)
    other.publish(visits(10).append_column("extra", pa.array(range(10))), run_id=2)
    assert delta_rs_writes == [contract.uri, other.uri]  # only the publish that adds a column
    schema = pa.schema([(RUN_ID, pa.int64()), ("n", pa.int64())])
    partition = Partition(RUN_ID, 1)
    assert partition_writer.applies(True, None, schema, [RUN_ID], partition)
    assert not partition_writer.applies(S3.direct_data_files, None, schema, [RUN_ID], partition)


def test_a_table_with_constraints_is_left_to_delta_rs(
    contract: DatasetContract, delta_rs_writes: list[str]
) -> None:
    contract.publish(visits(10), run_id=1)
    contract.delta_table().alter.add_constraint({"positive_id": "id >= 0"})
    with pytest.raises(LakeError, match="publishing run 2 failed"):
        contract.publish(visits(3, start=-5), run_id=2)  # delta-rs enforces the constraint
    assert delta_rs_writes == [contract.uri]
    assert contract.run_ids() == [1]


def test_two_writers_of_one_new_run_leave_it_once(
    contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other writer commits run 5 between this one's files and its commit."""
    contract.publish(visits(3), run_id=1)
    commit = partition_writer.commit
    raced: list[int] = []

    def another_writer_first(uri: str, options: Any, table: Any, *args: Any) -> None:
        if not raced:
            raced.append(1)
            monkeypatch.setattr(partition_writer, "commit", commit)
            contract.sibling().publish(visits(7, start=900), run_id=5)
            monkeypatch.setattr(partition_writer, "commit", another_writer_first)
        commit(uri, options, table, *args)  # the first time with the table it read before

    monkeypatch.setattr(partition_writer, "commit", another_writer_first)
    contract.publish(visits(4, start=50), run_id=5)
    assert raced == [1]
    assert same_rows(contract.fetch_arrow(run_id=5), visits(4, start=50))  # once, the last
    assert contract.delta_table().version() == 2  # run 1, the other writer, the retried commit


def test_a_failed_write_deletes_its_files_and_commits_nothing(
    contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract.publish(visits(10), run_id=1)
    monkeypatch.setattr(partition_writer, "MIN_PART_ROWS", 100)
    monkeypatch.setattr(partition_writer.os, "cpu_count", lambda: 2)
    stream = DatasetContract._stream

    def failing_second_part(
        self: Any, source: pa.Table, *args: Any, **kwargs: Any
    ) -> pa.RecordBatchReader:
        data = stream(self, source, *args, **kwargs)

        def batches() -> Any:
            yield from data
            if source["id"][0].as_py() >= 100:  # the second part, after its rows were written
                raise OSError("[Errno 28] No space left on device")

        return pa.RecordBatchReader.from_batches(data.schema, batches())

    monkeypatch.setattr(DatasetContract, "_stream", failing_second_part)
    with pytest.raises(LakeError) as failure:
        contract.publish(visits(200), run_id=2)
    assert "publishing run 2 failed and nothing was committed" in str(failure.value)
    assert "the lake's disk is full" in str(failure.value)
    assert list((Path(contract.uri) / f"{RUN_ID}=2").iterdir()) == []
    assert contract.delta_table().version() == 0 and contract.run_ids() == [1]


def test_a_commit_that_keeps_failing_deletes_the_files_it_would_have_added(
    contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract.publish(visits(10), run_id=1)
    monkeypatch.setattr(dataset_contract.time, "sleep", lambda _seconds: None)

    def lost_race(*_args: Any) -> None:
        raise CommitFailedError("Failed to commit transaction: Concurrent transaction failed.")

    monkeypatch.setattr(partition_writer, "commit", lost_race)
    with pytest.raises(LakeError, match="publishing run 2 failed and nothing was committed"):
        contract.publish(visits(10), run_id=2)
    assert list((Path(contract.uri) / f"{RUN_ID}=2").iterdir()) == []
    assert DeltaTable(contract.uri).version() == 0


def test_an_empty_publish_creates_the_table_or_empties_the_run(contract: DatasetContract) -> None:
    contract.publish(visits(0), run_id=1)
    assert contract.exists() and contract.fetch_arrow().num_rows == 0
    assert data_of(contract.fetch_arrow()).schema == visits(0).schema
    contract.publish(visits(5), run_id=2)
    contract.publish(visits(0), run_id=2)
    assert contract.fetch_arrow(run_id=2).num_rows == 0


def test_parts_are_contiguous_and_cover_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(partition_writer.os, "cpu_count", lambda: 2)
    assert partition_writer.parts(0) == [(0, 0)]
    assert partition_writer.parts(1_000) == [(0, 1_000)]  # too few rows to split
    rows = 3 * partition_writer.MIN_PART_ROWS + 1
    parts = partition_writer.parts(rows)
    assert len(parts) == 2 and parts[0][0] == 0
    assert parts[0][0] + parts[0][1] == parts[1][0] and sum(n for _, n in parts) == rows


def test_a_stop_mid_write_ends_the_writers_deletes_their_files_and_commits_nothing(
    contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the parts are written (Batch, Kubernetes, Airflow stopping a worker)."""
    import os
    import signal
    import threading

    from core.stop import Terminated, stop_guard

    contract.publish(visits(10), run_id=1)
    monkeypatch.setattr(partition_writer, "MIN_PART_ROWS", 100)
    monkeypatch.setattr(partition_writer.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(dataset_contract, "STREAM_BATCH_ROWS", 10)
    stream = DatasetContract._stream
    writing = threading.Event()  # set once a part is inside its stream, writing
    stopped = threading.Event()  # set once the SIGTERM has been sent

    def slow(self: Any, *args: Any, **kwargs: Any) -> pa.RecordBatchReader:
        data = stream(self, *args, **kwargs)

        def batches() -> Any:
            for index, batch in enumerate(data):
                writing.set()
                yield batch
                if index == 0:  # no part gets past its first batch before the stop is sent
                    stopped.wait(60)
                threading.Event().wait(0.05)  # then a long publish (tens of seconds)

        return pa.RecordBatchReader.from_batches(data.schema, batches())

    def stop() -> None:
        if writing.wait(60):
            os.kill(os.getpid(), signal.SIGTERM)
            stopped.set()

    monkeypatch.setattr(DatasetContract, "_stream", slow)
    stopper = threading.Thread(target=stop)
    stopper.start()
    with pytest.raises(Terminated), stop_guard(grace=60):
        contract.publish(visits(4_000), run_id=2)
    stopper.join(60)
    writers = [t for t in threading.enumerate() if t.name.startswith("core-publish")]
    deadline = time.monotonic() + 60
    for writer in writers:  # a stop can land while a writer thread is still starting:
        while writer.ident is None and time.monotonic() < deadline:  # listed, not yet begun
            time.sleep(0.05)
        writer.join(60)
    assert not [t for t in writers if t.is_alive()]
    assert list((Path(contract.uri) / f"{RUN_ID}=2").iterdir()) == []
    assert contract.delta_table().version() == 0 and contract.run_ids() == [1]


def test_a_column_that_refuses_nulls_is_left_to_delta_rs(
    contract: DatasetContract, delta_rs_writes: list[str]
) -> None:
    required = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    contract.publish(pa.table({"id": [1, 2]}, schema=required), run_id=1)
    with pytest.raises(LakeError, match="publishing run 2 failed"):
        contract.publish(pa.table({"id": pa.array([3, None], pa.int64())}), run_id=2)
    assert delta_rs_writes == [contract.uri, contract.uri]  # it checks the nulls
    assert contract.run_ids() == [1]


def test_a_commit_that_landed_before_its_call_failed_keeps_its_files(
    contract: DatasetContract, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. the store failing right after the commit: the run is published, not deleted."""
    contract.publish(visits(10), run_id=1)
    commit = partition_writer.commit

    def landed_then_failed(*args: Any) -> None:
        commit(*args)
        raise OSError("Input/output error after the commit")

    monkeypatch.setattr(partition_writer, "commit", landed_then_failed)
    summary = contract.publish(visits(5, start=100), run_id=2)
    assert (summary.rows, summary.version) == (5, 1)
    assert same_rows(contract.fetch_arrow(run_id=2), visits(5, start=100))  # files all there


def test_an_error_delta_rs_raises_as_a_plain_exception_is_a_lake_error_and_cleans_up(
    contract: DatasetContract,
) -> None:
    twins = pa.table({"id": [1], "ID": [2]})  # Delta column names ignore case
    with pytest.raises(LakeError, match="publishing run 1 failed and nothing was committed"):
        contract.publish(twins, run_id=1)
    folder = Path(contract.uri) / f"{RUN_ID}=1"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert not contract.exists()


def test_checkpoints_are_written_after_the_commit_at_the_tables_interval(
    contract: DatasetContract, delta_rs_writes: list[str]
) -> None:
    from deltalake import write_deltalake

    first = stamped(visits(3), Stamp(1, *[dt.datetime.now(dt.UTC)] * 2), contract.key)
    write_deltalake(
        contract.uri,
        first,
        partition_by=[RUN_ID],
        configuration={"delta.checkpointInterval": "2"},
    )
    contract.publish(visits(3), run_id=2)  # version 1, the second commit: a checkpoint
    contract.publish(visits(3), run_id=3)  # version 2
    assert delta_rs_writes == []
    log = Path(contract.uri) / "_delta_log"
    assert [p.name for p in log.glob("*.checkpoint.parquet")] == [f"{1:020d}.checkpoint.parquet"]
    assert contract.run_ids() == [1, 2, 3]


@pytest.mark.parametrize("writer", ["here", "delta-rs"])
def test_a_table_core_creates_is_checkpointed_every_ten_commits(
    contract: DatasetContract, writer: str
) -> None:
    """Opening a table replays its log from the last checkpoint: at most nine commits."""
    partitions = ["clinic"] if writer == "delta-rs" else None
    for run_id in range(1, 13):  # versions 0-11
        contract.publish(visits(3, start=run_id), run_id=run_id, partitions=partitions)
    table = contract.delta_table()
    assert table.metadata().configuration == partition_writer.TABLE_PROPERTIES
    log = Path(contract.uri) / "_delta_log"
    # One checkpoint in twelve commits, at the tenth (version 9), by either writer.
    assert [p.name for p in log.glob("*.checkpoint.parquet")] == [f"{9:020d}.checkpoint.parquet"]
    assert contract.run_ids() == list(range(1, 13))
    assert sorted(contract.fetch_arrow(run_id=12)["id"].to_pylist()) == [12, 13, 14]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URIs a DeltaTable was opened for (it still opens them)."""
    return _uris_given_to(monkeypatch, "DeltaTable")


@pytest.mark.parametrize("writer", ["here", "delta-rs"])
def test_a_publish_opens_its_table_once_and_says_which_version_it_found(
    contract: DatasetContract, opens: list[str], writer: str
) -> None:
    # Opening replays the log from its last checkpoint (up to 100 commits): it was done
    # four times a publish; the table found is brought up to date instead.
    partitions = ["clinic"] if writer == "delta-rs" else None
    created = contract.publish(visits(5), run_id=1, partitions=partitions)
    assert created.previous_version is None and created.version == 0
    opens.clear()
    summary = contract.publish(visits(5), run_id=2, partitions=partitions)
    assert opens == [contract.uri]
    assert (summary.version, summary.previous_version, summary.rows) == (1, 0, 5)
    predicate = f"{RUN_ID} = 2"
    assert summary.files == len(contract.delta_table().file_uris(file_pruning_predicate=predicate))
