"""run_files: one run's Parquet files of a dataset, where a reader may open them itself."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import ContractNotFoundError
from core.lake import DatasetContract
from core.lake.run_files import run_files
from core.settings import Settings


@pytest.fixture
def contract(lake_settings: Settings) -> DatasetContract:
    return DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)


def rows(first: int) -> pa.Table:
    return pa.table({"id": [first, first + 1], "region": ["east", "west"]})


def test_the_files_of_a_run_are_its_partitions_and_hold_exactly_its_rows(
    contract: DatasetContract,
) -> None:
    contract.publish(rows(1), run_id=1)
    contract.publish(rows(10), run_id=2)
    found = run_files(contract, 2)
    assert found is not None
    assert found.paths and all("__metadata_run_id=2/" in path for path in found.paths)
    assert {"id", "region", "__metadata_run_id"} <= set(found.schema.names)
    read = pa.concat_tables(pq.read_table(path) for path in found.paths)
    assert sorted(read["id"].to_pylist()) == [10, 11]


def test_a_republished_run_has_only_its_latest_files(contract: DatasetContract) -> None:
    contract.publish(rows(1), run_id=1)
    before = run_files(contract, 1)
    contract.publish(rows(5), run_id=1)
    after = run_files(contract, 1)
    assert before is not None and after is not None
    assert not set(before.paths) & set(after.paths)


def test_no_files_for_a_run_that_published_nothing_here(contract: DatasetContract) -> None:
    contract.publish(rows(1), run_id=1)
    assert run_files(contract, 9) is None


def test_a_table_partitioned_by_more_than_the_run_is_left_to_the_lakes_reader(
    contract: DatasetContract,
) -> None:
    contract.publish(rows(1), run_id=1, partitions=["region"])
    assert run_files(contract, 1) is None


def test_a_missing_table_is_named(contract: DatasetContract) -> None:
    with pytest.raises(ContractNotFoundError):
        run_files(contract, 1)


def test_the_schema_is_the_tables_with_its_types(contract: DatasetContract) -> None:
    table = pa.table(
        {
            "amount": pa.array([decimal.Decimal("1.50")], pa.decimal128(10, 2)),
            "day": pa.array([dt.date(2026, 1, 2)], pa.date32()),
            "at": pa.array([dt.datetime(2026, 1, 2, 3, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
        }
    )
    contract.publish(table, run_id=1)
    found = run_files(contract, 1)
    assert found is not None
    assert found.schema.field("amount").type == pa.decimal128(10, 2)
    assert found.schema.field("day").type == pa.date32()
    assert found.schema.field("at").type == pa.timestamp("us", "UTC")
