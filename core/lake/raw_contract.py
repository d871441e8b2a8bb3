"""RawContract: the raw state, where source files are kept as they arrived.

Files live at ``{contract}/{name}``. Their source metadata (source path, source
modification time, size, when stored) lives in a sidecar JSON at
``{contract}/_core_meta/{name}.json``, because local disks have no object
metadata and S3 object metadata cannot be changed without rewriting the file.
Writes are all-or-nothing: on a local disk a file is written under a hidden
temporary name and renamed into place; on S3 a PUT is already atomic.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pyarrow import fs as pafs

from core.errors import ContractError, ContractNotFoundError, LakeError
from core.lake.contract import Contract
from core.lake.storage import describe_storage_error

META_DIR = "_core_meta"
TEMP_MARK = ".core-tmp-"
COPY_CHUNK = 8 * 1024 * 1024

Timestamp = dt.datetime | float | int


@dataclass(frozen=True)
class RawFile:
    """One stored raw file.

    Attributes:
        name: the name below the contract (may contain '/').
        size: bytes.
        modified_time: when the lake's copy was written (UTC).
        source_path: where the file came from, when known.
        source_modified_time: the source's modification time (UTC), when known.
    """

    name: str
    size: int
    modified_time: dt.datetime | None
    source_path: str | None = None
    source_modified_time: dt.datetime | None = None

    @property
    def effective_time(self) -> dt.datetime:
        """source_modified_time when known, else the lake copy's modification time."""
        epoch = dt.datetime.fromtimestamp(0, dt.UTC)
        return self.source_modified_time or self.modified_time or epoch


class RawContract(Contract):
    """A file-grain contract of the raw state; the dataset part is optional."""

    dataset_required = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.state != "raw":
            raise ContractError(
                f"RawContract state {self.state!r} is not valid: expected 'raw'; use a "
                "DatasetContract for other states"
            )

    def put_file(
        self,
        source: str | os.PathLike[str] | bytes,
        name: str,
        source_path: str | None = None,
        source_modified_time: Timestamp | None = None,
    ) -> RawFile:
        """Store a file (or bytes) under ``name``, replacing any previous one atomically.

        Args:
            source: a local file path, or the file's bytes.
            name: the name below the contract.
            source_path: where it came from (the local path when omitted).
            source_modified_time: the source's mtime (the local file's when omitted).

        Returns:
            The stored RawFile.

        Raises:
            ContractError: the name is not valid.
            LakeError: the source cannot be read or the lake written.
        """
        name = _check_name(name)
        if not isinstance(source, bytes):
            local = Path(source)
            source_path = source_path or str(local)
            if source_modified_time is None and local.is_file():
                source_modified_time = local.stat().st_mtime
        try:
            with _open_source(source) as reader:
                self._write_atomic(self._file_path(name), reader)
        except OSError as exc:
            raise LakeError(
                f"{self!r}: storing raw file {name!r} failed and nothing was replaced (any "
                f"earlier copy is kept as it was): {describe_storage_error(exc)}"
            ) from exc
        meta = {"source_path": source_path, "source_modified_time": _iso(source_modified_time)}
        try:
            self._write_atomic(self._meta_path(name), _BytesReader(json.dumps(meta).encode()))
        except OSError as exc:
            raise LakeError(
                f"{self!r}: raw file {name!r} was stored whole, but its source metadata "
                f"(source path and time) could not be: {describe_storage_error(exc)}"
            ) from exc
        return self.file_info(name)

    def get_file(self, name: str, destination: str | os.PathLike[str]) -> Path:
        """Copy a stored file to a local path (a directory keeps the file's base name).

        Returns:
            The local file written (atomically: temporary name, then rename).

        Raises:
            ContractNotFoundError: no file of that name is stored.
        """
        name = _check_name(name)
        target = Path(destination)
        if target.is_dir():
            target = target / name.rsplit("/", 1)[-1]
        self.file_info(name)
        temp = target.with_name(f"{TEMP_MARK}{uuid.uuid4().hex}-{target.name}")
        try:
            # compression=None: files are stored and returned byte for byte, .gz included.
            source = self.filesystem.open_input_stream(self._file_path(name), compression=None)
            with source as reader, temp.open("wb") as writer:
                shutil.copyfileobj(reader, writer, COPY_CHUNK)
            temp.replace(target)
        except OSError as exc:
            raise LakeError(
                f"{self!r}: copying raw file {name!r} to {target} failed: "
                f"{describe_storage_error(exc)}"
            ) from exc
        finally:
            temp.unlink(missing_ok=True)
        return target

    def file_info(self, name: str) -> RawFile:
        """The stored file's size, times and source metadata.

        Raises:
            ContractNotFoundError: no file of that name is stored.
        """
        name = _check_name(name)
        info = self.filesystem.get_file_info(self._file_path(name))
        if info.type != pafs.FileType.File:
            raise ContractNotFoundError(
                f"{self!r} has no raw file {name!r}; stored: "
                f"{', '.join(f.name for f in self.list_files()[:20]) or 'none'}"
            )
        return self._raw_file(name, info)

    def list_files(self, prefix: str = "", suffix: str = "") -> list[RawFile]:
        """Stored files whose names start with ``prefix`` and end with ``suffix``, by name."""
        selector = pafs.FileSelector(self.path, recursive=True, allow_not_found=True)
        found = []
        for info in self.filesystem.get_file_info(selector):
            name = info.path[len(self.path) :].lstrip("/")
            if info.type != pafs.FileType.File or _is_internal(name):
                continue
            if name.startswith(prefix) and name.endswith(suffix):
                found.append(self._raw_file(name, info))
        return sorted(found, key=lambda f: f.name)

    def latest_file(self, prefix: str = "", suffix: str = "") -> RawFile | None:
        """The most recently modified matching file (source mtime when known); None if none."""
        files = self.list_files(prefix, suffix)
        return max(files, key=lambda f: (f.effective_time, f.name)) if files else None

    def needs_update(self, name: str, remote_mtime: Timestamp) -> bool:
        """True when ``name`` is not stored or is older than the remote file's mtime."""
        try:
            stored = self.file_info(name)
        except ContractNotFoundError:
            return True
        return stored.effective_time < _as_datetime(remote_mtime)

    def _file_path(self, name: str) -> str:
        return f"{self.path}/{name}"

    def _meta_path(self, name: str) -> str:
        return f"{self.path}/{META_DIR}/{name}.json"

    def _raw_file(self, name: str, info: pafs.FileInfo) -> RawFile:
        meta = self._read_meta(name)
        mtime = info.mtime.astimezone(dt.UTC) if info.mtime else None
        source_time = meta.get("source_modified_time")
        return RawFile(
            name=name,
            size=int(info.size or 0),
            modified_time=mtime,
            source_path=meta.get("source_path"),
            source_modified_time=dt.datetime.fromisoformat(source_time) if source_time else None,
        )

    def _read_meta(self, name: str) -> dict[str, str | None]:
        try:
            with self.filesystem.open_input_stream(self._meta_path(name)) as reader:
                return json.loads(reader.read())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        except OSError as exc:
            if "not found" in str(exc).lower() or "does not exist" in str(exc).lower():
                return {}
            raise

    def _write_atomic(self, path: str, reader: BinaryIO) -> None:
        filesystem = self.filesystem
        if self.backend.atomic_put:
            with filesystem.open_output_stream(path, compression=None) as writer:
                shutil.copyfileobj(reader, writer, COPY_CHUNK)
            return
        directory, _, base = path.rpartition("/")
        filesystem.create_dir(directory, recursive=True)
        temp = f"{directory}/{TEMP_MARK}{uuid.uuid4().hex}-{base}"
        try:
            # compression=None: pyarrow would otherwise gzip a file whose name ends in .gz.
            with filesystem.open_output_stream(temp, compression=None) as writer:
                shutil.copyfileobj(reader, writer, COPY_CHUNK)
            filesystem.move(temp, path)
        finally:
            if filesystem.get_file_info(temp).type != pafs.FileType.NotFound:
                filesystem.delete_file(temp)


class _BytesReader:
    """A minimal read() over bytes, so bytes and files share one copy path."""

    def __init__(self, data: bytes) -> None:
        self._data, self._offset = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        chunk, self._offset = self._data[self._offset : end], min(end, len(self._data))
        return chunk

    def __enter__(self) -> _BytesReader:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _open_source(source: str | os.PathLike[str] | bytes) -> BinaryIO:
    if isinstance(source, bytes):
        return _BytesReader(source)  # type: ignore[return-value]
    return Path(source).open("rb")


def _is_internal(name: str) -> bool:
    return name.startswith(f"{META_DIR}/") or name.rsplit("/", 1)[-1].startswith(TEMP_MARK)


def _check_name(name: object) -> str:
    parts = name.split("/") if isinstance(name, str) else []
    bad = not parts or any(p in ("", ".", "..") or p.strip() != p for p in parts)
    if bad or "\\" in name or any(ord(c) < 32 for c in name) or _is_internal(name):  # type: ignore[union-attr]
        raise ContractError(
            f"raw file name {name!r} is not valid: expected a relative name such as "
            f"'2024/sales.csv' (no empty, '.' or '..' parts, no '\\', not under {META_DIR}/)"
        )
    return name  # type: ignore[return-value]


def _as_datetime(value: Timestamp) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _iso(value: Timestamp | None) -> str | None:
    return None if value is None else _as_datetime(value).isoformat()
