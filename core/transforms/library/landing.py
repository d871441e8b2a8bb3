"""extract_from_landing: copy new or changed files from a landing area into raw.

The landing area is a local directory (relative paths are relative to CORE_HOME)
or an s3:// prefix. A file is copied when raw has no file of that name, or when
the source's modification time is newer than the one stored with raw's copy
(``RawContract.needs_update``); otherwise it is skipped. Names starting with '.'
(uploads in progress, CORE's own temporary files) are never copied.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyarrow import fs as pafs

from core.errors import ConfigurationError
from core.lake.raw_contract import COPY_CHUNK, RawContract
from core.roots import check_file, protected_inodes
from core.transforms.library import Builtin
from core.transforms.library._common import FILE_PART, owner
from core.transforms.library.transfer import (
    HIDDEN_MARK,
    Location,
    count_copied,
    raw_output,
    record_counts,
    resolve_location,
)

if TYPE_CHECKING:
    import datetime as dt

    from core.transforms.context import TransformContext

TEMPLATES = [
    Builtin(
        name="extract_from_landing",
        entrypoint="core.transforms.library.landing:extract_from_landing",
        description=(
            "Copy new or changed files from a local directory or an S3 prefix into raw. "
            "By default (prefix and suffix empty) every file there is copied, whatever its "
            "ending; files copied before and unchanged are skipped."
        ),
        state="raw",
        tags=("extract",),
        variables={
            "source": {
                "type": "string",
                "description": "a directory (relative to CORE_HOME) or an s3:// prefix",
            },
            "prefix": {
                "type": "string",
                "required": False,
                "default": "",
                "description": "only files whose names start with this",
                "check": FILE_PART,
            },
            "suffix": {
                "type": "string",
                "required": False,
                "default": "",
                "description": "only files whose names end with this, e.g. .csv",
                "check": FILE_PART,
            },
            "recursive": {
                "type": "bool",
                "required": False,
                "default": False,
                "description": "also copy files of subdirectories (named by their relative path)",
            },
        },
    )
]


@dataclass(frozen=True)
class SourceFile:
    """One file of the landing area.

    Attributes:
        name: its path relative to the landing directory (the raw file's name).
        path: its path on the source file system.
        size: bytes.
        modified_time: its modification time (UTC).
    """

    name: str
    path: str
    size: int
    modified_time: dt.datetime


def extract_from_landing(ctx: TransformContext) -> None:
    """Copy the landing area's new or changed files into the raw output.

    Records files_seen, files_copied, files_skipped and rows_out (files copied)
    in ``ctx.metadata``, also when it fails part way.

    Args:
        ctx: the transformation's context (variables source, prefix, suffix, recursive).

    Raises:
        ConfigurationError: the transformation is not in raw, or ``source`` is not an
            existing directory.
    """
    raw = raw_output(ctx)
    variables = ctx.variables
    source = resolve_location(ctx, "source", "landing")
    files = list_source(source, variables["prefix"] or "", variables["suffix"] or "", ctx)
    changed = [f for f in files if raw.needs_update(f.name, f.modified_time)]
    record_counts(ctx, source.uri, files, changed)
    protected = protected_inodes(ctx.settings) if source.local else set()
    with tempfile.TemporaryDirectory(prefix="core-landing-") as scratch:
        for file in changed:
            if source.local:  # a link out of the landing is refused, checked right before use
                real = check_file(
                    source.path, file.path, protected, owner(ctx), "source", variables["source"]
                )
                file = dataclasses.replace(file, path=real)
            copy_to_raw(source, file, raw, Path(scratch))
            count_copied(ctx)


def list_source(
    source: Location, prefix: str, suffix: str, ctx: TransformContext
) -> list[SourceFile]:
    """The landing area's files matching prefix and suffix, by name.

    Args:
        source: the landing area.
        prefix: names must start with this.
        suffix: names must end with this.
        ctx: the context (``recursive`` variable, and for messages).

    Returns:
        The matching files (hidden names left out).

    Raises:
        ConfigurationError: the source directory does not exist (or is not a directory).
    """
    selector = pafs.FileSelector(source.path, recursive=bool(ctx.variables.get("recursive")))
    try:
        infos = source.filesystem.get_file_info(selector)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ConfigurationError(
            f"{owner(ctx)}: variable 'source'={ctx.variables['source']!r}: {source.uri} is not "
            "an existing directory (or an S3 prefix holding files); expected the landing "
            "directory; create it, or fix 'source' (relative paths are relative to CORE_HOME)"
        ) from exc
    files = [
        SourceFile(name, info.path, int(info.size or 0), info.mtime)
        for info in infos
        if info.type == pafs.FileType.File
        and _wanted(name := info.path[len(source.path) :].lstrip("/"), prefix, suffix)
    ]
    return sorted(files, key=lambda f: f.name)


def copy_to_raw(source: Location, file: SourceFile, raw: RawContract, scratch: Path) -> None:
    """Store one landing file in raw with its source path and modification time.

    Args:
        source: the landing area.
        file: the file to copy.
        raw: the raw output.
        scratch: a local directory for S3 downloads.
    """
    local = Path(file.path) if source.local else _download(source, file, scratch)
    try:
        raw.put_file(
            local,
            file.name,
            source_path=source.child_uri(file.name),
            source_modified_time=file.modified_time,
        )
    finally:
        if not source.local:
            local.unlink(missing_ok=True)


def _download(source: Location, file: SourceFile, scratch: Path) -> Path:
    local = scratch / uuid.uuid4().hex
    # compression=None: a .gz file is copied as it is, not decompressed by its name.
    reader = source.filesystem.open_input_stream(file.path, compression=None)
    with reader, local.open("wb") as writer:
        shutil.copyfileobj(reader, writer, COPY_CHUNK)
    return local


def _wanted(name: str, prefix: str, suffix: str) -> bool:
    hidden = any(part.startswith(HIDDEN_MARK) for part in name.split("/"))
    return not hidden and name.startswith(prefix) and name.endswith(suffix)
