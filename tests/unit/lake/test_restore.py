"""Restoring a dataset to an earlier version: DatasetContract.restore and `core lake restore`."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from core.errors import ContractError, ContractNotFoundError
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.models.dataset_restores import DatasetRestore
from core.settings import Settings
from tests.support.cli import core


@pytest.fixture
def sales_versions(lake_settings: Settings, sales: pd.DataFrame) -> DatasetContract:
    """Version 0: run 1; version 1: run 2 added; version 2: run 2 re-published wrongly."""
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)
    contract.publish(sales, run_id=1)
    contract.publish(sales.assign(id=[1, 2, 30]), run_id=2)
    contract.publish(sales.assign(id=[-1, -1, -1]), run_id=2)
    return contract


def _ids(contract: DatasetContract, version: int | None = None) -> list[int]:
    return sorted(contract.fetch_arrow(columns=["id"], version=version)["id"].to_pylist())


def test_restore_makes_an_earlier_version_current_and_keeps_history(
    sales_versions: DatasetContract,
) -> None:
    summary = sales_versions.restore(1)
    assert (summary.restored, summary.version) == (1, 3)
    assert summary.files_removed >= 1 and summary.files_restored >= 1
    assert _ids(sales_versions) == [1, 1, 2, 2, 3, 30] == _ids(sales_versions, 1)
    assert _ids(sales_versions, 2) == [-1, -1, -1, 1, 2, 3]  # time travel still works
    assert sales_versions.history(limit=1)[0]["operation"] == "RESTORE"


@pytest.mark.parametrize("version", [3, 2, -1, True, "1"])
def test_restore_refuses_what_is_not_an_earlier_version(
    sales_versions: DatasetContract, version: object
) -> None:
    with pytest.raises(ContractError, match=r"expected an earlier version, 0 to 1"):
        sales_versions.restore(version)  # type: ignore[arg-type]
    assert sales_versions.delta_table().version() == 2


def test_restore_of_a_missing_table_names_what_exists(lake_settings: Settings) -> None:
    contract = DatasetContract("acme", "zentrix", "ingest", "nope", settings=lake_settings)
    with pytest.raises(ContractNotFoundError, match="no dataset 'nope'"):
        contract.restore(0)


def test_core_lake_restore(
    sales_versions: DatasetContract, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("lake", "restore", "acme", "zentrix", "ingest", "sales")
    assert core(*argv, "--version", "0") == 0
    out = capsys.readouterr().out
    assert f"restored {sales_versions.uri} to version 0 as version 3" in out
    assert _ids(sales_versions) == [1, 2, 3]
    with SessionHelper(sales_versions.settings) as session:  # recorded, as from the UI
        [row] = session.scalars(select(DatasetRestore)).all()
        assert (row.path, row.version, row.new_version) == (sales_versions.uri, 0, 3)
        assert row.restored_by == "core lake restore"
    assert core(*argv, "--version", "7") == 2
    assert "cannot restore version 7: expected an earlier version, 0 to 2" in (
        capsys.readouterr().err
    )
