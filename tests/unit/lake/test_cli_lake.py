"""``core lake``: ls, show, fetch, diff against a local lake."""

from __future__ import annotations

import pandas as pd
import pytest

from core.lake import DatasetContract, RawContract
from core.settings import Settings
from tests.support.cli import core


@pytest.fixture
def published(lake_settings: Settings, sales: pd.DataFrame) -> DatasetContract:
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)
    contract.publish(sales, run_id=1)
    contract.publish(sales.assign(id=[1, 2, 30]), run_id=2)
    return contract


def test_ls_lists_folders(published: DatasetContract, capsys: pytest.CaptureFixture[str]) -> None:
    assert core("lake", "ls") == 0
    assert capsys.readouterr().out.split() == ["acme/"]
    assert core("lake", "ls", "acme/zentrix/ingest") == 0
    assert capsys.readouterr().out.split() == ["sales/"]
    assert core("lake", "ls", "nothing/here") == 0
    assert "nothing stored at" in capsys.readouterr().out


def test_show_prints_schema_versions_and_runs(
    published: DatasetContract, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("lake", "show", "acme", "zentrix", "ingest", "sales") == 0
    out = capsys.readouterr().out
    assert "region" in out and "__metadata_run_id" in out
    assert "__metadata_run_id = 2" in out
    assert "runs: 1, 2" in out


def test_show_raw_lists_files(lake_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    RawContract("acme", "zentrix", "raw", "landing", settings=lake_settings).put_file(b"x", "a.csv")
    assert core("lake", "show", "acme", "zentrix", "raw", "landing") == 0
    assert "a.csv" in capsys.readouterr().out


def test_fetch_prints_the_first_rows_of_a_run(
    published: DatasetContract, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("lake", "fetch", "acme", "zentrix", "ingest", "sales", "--run-id", "2") == 0
    out = capsys.readouterr().out
    assert "30" in out and "west" in out
    assert core("lake", "fetch", "acme", "zentrix", "ingest", "sales", "--limit", "1") == 0
    out = capsys.readouterr().out
    assert sum(region in out for region in ("east", "west")) == 1


def test_diff_prints_added_and_removed(
    published: DatasetContract, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("lake", "diff", "acme", "zentrix", "ingest", "sales")
    assert core(*argv, "--run-id", "2", "--against", "1", "--key", "id") == 0
    out = capsys.readouterr().out
    assert "added: 1 rows" in out and "removed: 1 rows" in out
    assert "30" in out


def test_missing_dataset_fails_with_one_line(
    lake_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("lake", "fetch", "acme", "zentrix", "ingest", "nope") == 1
    assert capsys.readouterr().err.startswith("FAILED: DatasetContract(")


def test_invalid_part_fails(lake_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert core("lake", "show", "Acme", "zentrix", "ingest", "sales") == 2
    assert "contract parent (company) 'Acme'" in capsys.readouterr().err
