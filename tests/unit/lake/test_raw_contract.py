"""RawContract: atomic put/get, source metadata, listing, latest file, needs_update."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from core.errors import ContractError, ContractNotFoundError, LakeError
from core.lake import RawContract
from core.lake.raw_contract import META_DIR, TEMP_MARK
from core.settings import Settings

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def raw(lake_settings: Settings) -> RawContract:
    return RawContract("acme", "zentrix", "raw", "landing", settings=lake_settings)


def stored_names(raw: RawContract) -> list[str]:
    """Every object under the contract, internal ones included."""
    from pyarrow import fs as pafs

    selector = pafs.FileSelector(raw.path, recursive=True, allow_not_found=True)
    infos = raw.filesystem.get_file_info(selector)
    return sorted(i.path[len(raw.path) + 1 :] for i in infos if i.type == pafs.FileType.File)


def test_put_and_get_a_local_file(raw: RawContract, tmp_path: Path) -> None:
    source = tmp_path / "sales.csv"
    source.write_text("id,amount\n1,2\n")
    os.utime(source, (T0.timestamp(), T0.timestamp()))
    stored = raw.put_file(source, "2024/sales.csv")
    assert stored.size == source.stat().st_size
    assert stored.source_path == str(source)
    assert stored.source_modified_time == T0
    out = raw.get_file("2024/sales.csv", tmp_path / "out")
    assert out == tmp_path / "out"
    assert out.read_text() == "id,amount\n1,2\n"
    (tmp_path / "dir").mkdir()
    assert raw.get_file("2024/sales.csv", tmp_path / "dir") == tmp_path / "dir" / "sales.csv"


def test_put_bytes_with_explicit_metadata(raw: RawContract) -> None:
    stored = raw.put_file(b"abc", "a.txt", source_path="sftp://host/a.txt", source_modified_time=T0)
    assert (stored.source_path, stored.source_modified_time) == ("sftp://host/a.txt", T0)
    assert raw.file_info("a.txt") == stored


def test_replace_keeps_one_file_and_no_temporaries(raw: RawContract) -> None:
    raw.put_file(b"old", "a.txt")
    raw.put_file(b"newer", "a.txt")
    assert raw.file_info("a.txt").size == 5
    assert stored_names(raw) == ["_core_meta/a.txt.json", "a.txt"]
    assert not any(TEMP_MARK in name for name in stored_names(raw))


def test_a_failed_put_leaves_the_previous_file(raw: RawContract, tmp_path: Path) -> None:
    raw.put_file(b"good", "a.txt")
    with pytest.raises(LakeError, match="storing raw file 'a.txt' failed"):
        raw.put_file(tmp_path / "missing.csv", "a.txt")
    assert raw.file_info("a.txt").size == 4
    assert raw.get_file("a.txt", tmp_path / "a.txt").read_bytes() == b"good"


def test_list_files_filters_and_hides_metadata(raw: RawContract) -> None:
    for name in ("a/one.csv", "a/two.txt", "b/three.csv"):
        raw.put_file(b"x", name)
    assert [f.name for f in raw.list_files()] == ["a/one.csv", "a/two.txt", "b/three.csv"]
    assert [f.name for f in raw.list_files(prefix="a/")] == ["a/one.csv", "a/two.txt"]
    assert [f.name for f in raw.list_files(suffix=".csv")] == ["a/one.csv", "b/three.csv"]
    assert not any(f.name.startswith(META_DIR) for f in raw.list_files())


def test_latest_file_uses_source_modification_time(raw: RawContract) -> None:
    # Stored in this order, so the lake's own mtimes and listing order both favour 'c'.
    raw.put_file(b"1", "a.csv", source_modified_time=T0 + dt.timedelta(days=2))
    raw.put_file(b"2", "b.csv", source_modified_time=T0 + dt.timedelta(days=5))
    raw.put_file(b"3", "c.csv", source_modified_time=T0)
    latest = raw.latest_file(suffix=".csv")
    assert latest is not None
    assert latest.name == "b.csv"
    assert raw.latest_file(prefix="zzz") is None


def test_latest_file_falls_back_to_the_lake_mtime(raw: RawContract) -> None:
    raw.put_file(b"1", "a.csv")
    latest = raw.latest_file()
    assert latest is not None
    assert latest.name == "a.csv"
    assert latest.source_modified_time is None
    assert latest.modified_time is not None


def test_needs_update(raw: RawContract) -> None:
    assert raw.needs_update("a.csv", T0)
    raw.put_file(b"1", "a.csv", source_modified_time=T0)
    assert not raw.needs_update("a.csv", T0)
    assert not raw.needs_update("a.csv", T0.timestamp() - 1)
    assert raw.needs_update("a.csv", T0 + dt.timedelta(seconds=1))
    assert raw.needs_update("a.csv", dt.datetime(2024, 1, 1, 0, 0, 1))  # naive means UTC


def test_missing_file_is_named(raw: RawContract, tmp_path: Path) -> None:
    raw.put_file(b"1", "a.csv")
    with pytest.raises(ContractNotFoundError, match="no raw file 'b.csv'; stored: a.csv"):
        raw.get_file("b.csv", tmp_path)
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.parametrize("name", ["", "/abs", "a/../b", "a//b", "./a", "_core_meta/x", "a\\b"])
def test_invalid_file_names_are_refused(raw: RawContract, name: str) -> None:
    with pytest.raises(ContractError, match="raw file name"):
        raw.put_file(b"x", name)


def test_raw_contract_without_dataset(lake_settings: Settings) -> None:
    raw = RawContract("acme", "zentrix", "raw", settings=lake_settings)
    assert raw.key.endswith("dev/acme/zentrix/raw")
    assert raw.dataset is None
    raw.put_file(b"x", "f.csv")
    assert [f.name for f in raw.list_files()] == ["f.csv"]


def test_compressed_files_are_stored_byte_for_byte(tmp_path) -> None:
    import gzip

    from core.lake import RawContract
    from core.settings import load_settings

    raw = RawContract("acme", "zentrix", "raw", "landing", settings=load_settings())
    payload = gzip.compress(b"id\n1\n")
    raw.put_file(payload, "d.csv.gz")
    stored = raw.filesystem.open_input_stream(raw._file_path("d.csv.gz"), compression=None)
    assert stored.read() == payload
    assert raw.get_file("d.csv.gz", tmp_path).read_bytes() == payload
