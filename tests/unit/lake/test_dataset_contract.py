"""DatasetContract: publish, fetch, re-publish, schema rules (local lake; S3 in integration)."""

from __future__ import annotations

import threading

import pandas as pd
import pyarrow as pa
import pytest

import core
from core.errors import ContractError, ContractNotFoundError, SchemaConflictError
from core.lake import METADATA_COLUMNS, DatasetContract
from core.settings import Settings


@pytest.fixture
def contract(lake_settings: Settings) -> DatasetContract:
    return DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)


def data_columns(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("__metadata_")])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_publish_then_fetch_round_trips(contract: DatasetContract, sales: pd.DataFrame) -> None:
    summary = contract.publish(sales, run_id=7)
    assert (summary.run_id, summary.rows, summary.version) == (7, 3, 0)
    assert summary.files >= 1
    fetched = contract.fetch()
    assert sorted(fetched["id"]) == [1, 2, 3]
    assert set(METADATA_COLUMNS) <= set(fetched.columns)
    assert set(fetched["__metadata_run_id"]) == {7}
    assert set(fetched["__metadata_app_version"]) == {core.__version__}
    assert set(fetched["__metadata_output_contract"]) == {contract.key}
    assert fetched["__metadata_transform_timestamp"].notna().all()


def test_republishing_a_run_replaces_it(contract: DatasetContract, sales: pd.DataFrame) -> None:
    contract.publish(sales, run_id=1)
    second = contract.publish(sales.head(2), run_id=1)
    assert second.version == 1
    fetched = contract.fetch()
    assert len(fetched) == 2
    assert sorted(fetched["id"]) == [1, 2]


def test_runs_are_kept_apart(contract: DatasetContract, sales: pd.DataFrame) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales.assign(id=sales["id"] + 10), run_id=2)
    assert contract.run_ids() == [1, 2]
    assert contract.latest_run_id() == 2
    assert sorted(contract.fetch(run_id=2)["id"]) == [11, 12, 13]
    assert len(contract.fetch()) == 6


def test_fetch_of_a_run_reads_only_its_partition(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales, run_id=2)
    dataset = contract.delta_table().to_pyarrow_dataset(
        file_pruning_predicate=[("__metadata_run_id", "=", "2")]
    )
    assert all("__metadata_run_id=2" in f.path for f in dataset.get_fragments())
    assert len(contract.fetch_arrow(run_id=2)) == 3


def test_fetch_with_filters_columns_and_version(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales.head(1), run_id=1)
    east = contract.fetch(filters=[("region", "=", "east")], columns=["id", "region"], version=0)
    assert list(east.columns) == ["id", "region"]
    assert sorted(east["id"]) == [1, 3]
    assert isinstance(contract.fetch_arrow(), pa.Table)
    with pytest.raises(ContractNotFoundError, match="no version 5"):
        contract.fetch(version=5)


def test_arrow_input_and_partitions(contract: DatasetContract, sales: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(sales, preserve_index=False)
    contract.publish(table, run_id=3, partitions=["region"])
    assert contract.delta_table().metadata().partition_columns == ["__metadata_run_id", "region"]
    assert sorted(contract.fetch(filters=[("region", "=", "west")])["id"]) == [2]
    with pytest.raises(ContractError, match="partitioned by"):
        contract.publish(table, run_id=4)


def test_unknown_partition_column_is_refused(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    with pytest.raises(ContractError, match="partition column 'nope'"):
        contract.publish(sales, run_id=1, partitions=["nope"])
    assert not contract.exists()


@pytest.mark.parametrize("run_id", [-1, "1", True, None])
def test_invalid_run_id_is_refused(
    contract: DatasetContract, sales: pd.DataFrame, run_id: object
) -> None:
    with pytest.raises(ContractError, match="run_id"):
        contract.publish(sales, run_id=run_id)  # type: ignore[arg-type]


def test_new_columns_are_merged(contract: DatasetContract, sales: pd.DataFrame) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales.assign(score=[0.1, 0.2, 0.3]), run_id=2)
    fetched = contract.fetch()
    assert fetched.loc[fetched["__metadata_run_id"] == 1, "score"].isna().all()
    assert fetched.loc[fetched["__metadata_run_id"] == 2, "score"].notna().all()


def test_a_run_without_a_column_reads_it_as_null(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales.drop(columns=["amount"]), run_id=2)
    fetched = contract.fetch(run_id=2)
    assert len(fetched) == 3
    assert fetched["amount"].isna().all()


def test_schema_conflict_leaves_the_table_untouched(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    contract.publish(sales, run_id=1)
    before = data_columns(contract.fetch())
    conflicting = sales.assign(id=["a", "b", "c"])
    with pytest.raises(SchemaConflictError, match="column 'id' is int64 in the table but"):
        contract.publish(conflicting, run_id=1)
    assert contract.delta_table().version() == 0
    pd.testing.assert_frame_equal(data_columns(contract.fetch()), before)


def test_missing_table_names_what_exists(contract: DatasetContract, sales: pd.DataFrame) -> None:
    contract.publish(sales, run_id=1)
    other = contract.sibling(dataset="salez")
    with pytest.raises(ContractNotFoundError, match="no dataset 'salez'.*datasets there: sales"):
        other.fetch()
    assert not other.exists()
    assert contract.exists()


def test_history_lists_commits_newest_first(contract: DatasetContract, sales: pd.DataFrame) -> None:
    contract.publish(sales, run_id=1)
    contract.publish(sales, run_id=2)
    history = contract.history()
    assert [h["version"] for h in history] == [1, 0]
    assert history[0]["predicate"] == "__metadata_run_id = 2"
    assert history[0]["rows"] == 3
    assert len(contract.history(limit=1)) == 1


def test_concurrent_runs_are_both_kept(contract: DatasetContract, sales: pd.DataFrame) -> None:
    errors: list[BaseException] = []

    def publish(run_id: int) -> None:
        try:
            contract.publish(sales.assign(id=sales["id"] + run_id * 100), run_id=run_id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(run,)) for run in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert contract.run_ids() == [1, 2, 3]
    assert len(contract.fetch()) == 9


def test_publish_reads_the_run_timestamp_from_the_session(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    import datetime as dt

    class Event:
        started_at = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

    class Session:
        def get(self, _model: object, _run_id: int) -> Event:
            return Event()

    contract.publish(sales, run_id=9, session=Session())
    stamps = contract.fetch()["__metadata_run_timestamp"]
    assert set(stamps) == {pd.Timestamp("2024-05-01 12:00", tz="UTC")}


def test_refuses_data_that_is_not_a_table(contract: DatasetContract) -> None:
    with pytest.raises(ContractError, match="expected a pandas DataFrame or a pyarrow Table"):
        contract.publish([1, 2], run_id=1)  # type: ignore[arg-type]


def test_the_summary_names_this_publish_commit_even_when_another_run_committed_after(
    lake_settings, monkeypatch
) -> None:
    import pandas as pd

    from core.lake import DatasetContract

    contract = DatasetContract("acme", "zentrix", "ingest", "raced", settings=lake_settings)
    contract.publish(pd.DataFrame({"a": [0]}), run_id=7)  # version 0
    commit = DatasetContract._retrying  # what both writers commit through

    def another_run_commits_right_after(self, run_id, attempt_once):
        commit(self, run_id, attempt_once)
        if run_id == 8:  # run 9, from another worker, lands before run 8 reads its summary
            monkeypatch.setattr(DatasetContract, "_retrying", commit)
            DatasetContract("acme", "zentrix", "ingest", "raced", settings=lake_settings).publish(
                pd.DataFrame({"a": [5]}), run_id=9
            )

    monkeypatch.setattr(DatasetContract, "_retrying", another_run_commits_right_after)
    summary = contract.publish(pd.DataFrame({"a": [1, 2]}), run_id=8)
    assert contract.delta_table().version() == 2
    assert (summary.run_id, summary.rows, summary.version) == (8, 2, 1)
    assert summary.previous_version == 0  # the version the publish found: run 8's rows before


def test_a_fetch_without_metadata_leaves_out_the_five_standard_columns_only(
    contract: DatasetContract,
) -> None:
    rows = pa.table({"id": [1, 2], "__metadata_source_file": ["a.csv", "b.csv"]})
    contract.publish(rows, run_id=3)
    contract.publish(pa.table({"id": [9]}), run_id=4)
    lean = contract.fetch_arrow(run_id=3, metadata=False)
    assert lean.column_names == ["id", "__metadata_source_file"]
    assert lean.to_pydict() == rows.to_pydict()
    assert set(METADATA_COLUMNS) <= set(contract.fetch_arrow(run_id=3).column_names)
    named = contract.fetch_arrow(run_id=3, columns=["id", "__metadata_run_id"], metadata=False)
    assert named.column_names == ["id", "__metadata_run_id"]  # columns asked for are read
