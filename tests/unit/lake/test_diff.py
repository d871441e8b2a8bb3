"""DatasetDiff: rows missing between datasets and between runs."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import LakeError
from core.lake import DatasetContract
from core.lake.diff import DatasetDiff, anti_join
from core.settings import Settings


@pytest.fixture
def contract(lake_settings: Settings, sales: pd.DataFrame) -> DatasetContract:
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)
    contract.publish(sales, run_id=1)
    changed = sales.copy()
    changed.loc[1, "amount"] = 9.0  # row 2 changed
    changed = pd.concat([changed.iloc[[0, 1]], pd.DataFrame({"id": [4], "region": ["north"]})])
    contract.publish(changed, run_id=2)  # row 3 removed, row 4 added
    return contract


def test_diff_between_runs_on_all_columns(contract: DatasetContract) -> None:
    diff = DatasetDiff(contract).between_runs(1, 2)
    assert sorted(diff.added.column("id").to_pylist()) == [2, 4]
    assert sorted(diff.removed.column("id").to_pylist()) == [2, 3]


def test_diff_between_runs_on_keys(contract: DatasetContract) -> None:
    diff = DatasetDiff(contract, keys=["id"]).between_runs(1, 2)
    assert diff.added.column("id").to_pylist() == [4]
    assert diff.removed.column("id").to_pylist() == [3]
    assert "__metadata_run_id" in diff.added.column_names


def test_diff_with_a_partition_filter(contract: DatasetContract) -> None:
    diff = DatasetDiff(contract, keys=["id"], filters=[("region", "=", "east")])
    assert diff.between_runs(1, 2).removed.column("id").to_pylist() == [3]
    assert diff.between_runs(1, 2).added.num_rows == 0


def test_rows_of_one_dataset_missing_from_another(
    contract: DatasetContract, sales: pd.DataFrame
) -> None:
    other = contract.sibling(state="master")
    other.publish(sales.head(1), run_id=5)
    missing = DatasetDiff(contract, other, keys=["id"]).missing(source_run_id=1)
    assert sorted(missing.column("id").to_pylist()) == [2, 3]
    assert DatasetDiff(other, contract).missing().num_rows == 0


def test_unknown_key_is_refused(contract: DatasetContract) -> None:
    with pytest.raises(LakeError, match="key column 'nope'"):
        DatasetDiff(contract, keys=["nope"]).missing()


def test_anti_join_matches_nulls() -> None:
    import pyarrow as pa

    left = pa.table({"a": [1, None, 3], "b": ["x", "y", None]})
    right = pa.table({"a": [None, 3], "b": ["y", None]})
    assert anti_join(left, right, ["a", "b"]).to_pydict() == {"a": [1], "b": ["x"]}
