"""Shared parts of the transfer transforms (landing, SFTP, publish).

Locations (a local directory relative to CORE_HOME, or an s3:// prefix) are
resolved to a ``pyarrow.fs`` file system the way the lake does it, and
datasets are exported as CSV files (optionally gzip) named by a pattern.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
from pyarrow import fs as pafs

from core.errors import ConfigurationError
from core.lake.dataset_contract import METADATA_PREFIX
from core.lake.raw_contract import RawContract
from core.lake.storage import BACKENDS, scheme_of
from core.models.variable_checks import GZIP_SUFFIX as GZIP_SUFFIX
from core.models.variable_checks import HIDDEN_MARK as HIDDEN_MARK
from core.models.variable_checks import render_file_name
from core.roots import RootKind, confine
from core.runs import get_run
from core.transforms.library._common import owner

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

LOCAL_SCHEMES = ("", "file")
DEFAULT_FILE_PATTERN = "{dataset}_%Y%m%d.csv"
# Files whose names start with this are skipped when listing a source: uploads in
# progress, editors' swap files, and the temporary names CORE itself writes.


@dataclass(frozen=True)
class Location:
    """A directory of files on a local disk or below an S3 prefix.

    Attributes:
        filesystem: the pyarrow file system that reaches it.
        path: the path that ``filesystem`` expects (no trailing '/').
        uri: how to name it to people (absolute local path or s3:// URL).
        local: True for a local directory.
    """

    filesystem: pafs.FileSystem
    path: str
    uri: str
    local: bool

    def child(self, name: str) -> str:
        """The file system path of a file in this location."""
        return f"{self.path}/{name}"

    def child_uri(self, name: str) -> str:
        """The URI of a file in this location."""
        return f"{self.uri}/{name}"


def record_counts(
    ctx: TransformContext, source: str, seen: Sequence[object], changed: Sequence[object]
) -> None:
    """Record an extract's counts before copying (files_copied grows with each file).

    Args:
        ctx: the context whose metadata the task run records.
        source: where the files come from, as people should read it.
        seen: the files matching the filters.
        changed: those to copy.
    """
    ctx.metadata.update(
        source=source,
        files_seen=len(seen),
        files_copied=0,
        files_skipped=len(seen) - len(changed),
        rows_out=0,
    )
    ctx.logger.info(
        "%s: %d files match, %d new or changed, %d up to date",
        source,
        len(seen),
        len(changed),
        len(seen) - len(changed),
    )


def count_copied(ctx: TransformContext) -> None:
    """Count one more file copied (files_copied and rows_out)."""
    ctx.metadata["files_copied"] = ctx.metadata["rows_out"] = ctx.metadata["files_copied"] + 1


def raw_output(ctx: TransformContext) -> RawContract:
    """The transformation's raw output folder.

    Raises:
        ConfigurationError: the transformation is not in the raw state.
    """
    if not isinstance(ctx.output, RawContract):
        raise ConfigurationError(
            f"{owner(ctx)}: template {ctx.template!r} stores raw files, so it must run in the "
            f"raw state, not {ctx.state!r}; move the transformation to the pipeline's raw state"
        )
    return ctx.output


def resolve_location(ctx: TransformContext, variable: str, kind: RootKind) -> Location:
    """Resolve a location variable, confined to the pipeline's part of a root (core.roots).

    The check of the save is repeated here on the real paths of now: a symbolic link
    may have appeared since, or the row may have been written past the API.

    Args:
        ctx: the transformation's context (settings, variables, the output's company/brand).
        variable: the variable naming a directory (relative to CORE_HOME) or an s3:// prefix.
        kind: "landing" for a source, "export" for a destination.

    Returns:
        The Location.

    Raises:
        ConfigurationError: the value is empty or has a scheme CORE cannot read.
        OutsideRootError: it lies outside ``ROOT/<company>/<brand>`` of every root.
    """
    settings, value, who = ctx.settings, ctx.variables[variable], owner(ctx)
    scheme = scheme_of(value or "")
    if not (value or "").strip() or scheme not in BACKENDS:
        raise ConfigurationError(
            f"{who}: variable {variable!r}={value!r} is not a location: expected a directory "
            "(absolute, or relative to CORE_HOME) or an s3://bucket/prefix URL"
        )
    company, brand = ctx.output.parent, ctx.output.child
    place = confine(settings, kind, value, (company, brand), who, variable)
    if place.local:
        return Location(pafs.LocalFileSystem(), place.uri, place.uri, local=True)
    backend = BACKENDS[scheme]
    return Location(backend.filesystem(settings), backend.fs_path(place.uri), place.uri, False)


def dataset_without_metadata(ctx: TransformContext, name: str) -> pa.Table:
    """This run's rows of an upstream dataset, without CORE's ``__metadata_*`` columns."""
    table = ctx.input(name, metadata=False)
    return table.drop_columns([c for c in table.column_names if c.startswith(METADATA_PREFIX)])


def write_csv(table: pa.Table, path: Path, gzip: bool) -> int:
    """Write a table as CSV with a header row (gzip-compressed when asked).

    Args:
        table: the rows.
        path: the local file to write.
        gzip: compress with gzip.

    Returns:
        The bytes written to disk.
    """
    sink = pa.CompressedOutputStream(str(path), "gzip") if gzip else pa.OSFile(str(path), "wb")
    with sink:
        pacsv.write_csv(table, sink)
    return path.stat().st_size


def file_name(
    pattern: str, dataset: str, run_id: int, when: dt.datetime, gzip: bool, who: str = ""
) -> str:
    """The exported file's name: ``pattern`` through strftime, then its placeholders.

    Args:
        pattern: e.g. ``{dataset}_%Y%m%d.csv``; placeholders ``{dataset}`` and ``{run_id}``.
        dataset: the exported dataset's name.
        run_id: the run id.
        when: the run's date and time, for the strftime codes.
        gzip: the file is gzip-compressed (``.gz`` is appended unless already there).
        who: the transformation, for messages.

    Returns:
        A plain file name.

    Raises:
        ConfigurationError: unknown placeholder, or the result is not a plain file name.
    """
    try:
        return render_file_name(pattern, dataset, run_id, when, gzip)
    except ValueError as exc:
        raise ConfigurationError(f"{who}: variable 'file_pattern'={pattern!r} {exc}") from None


def run_time(ctx: TransformContext) -> dt.datetime:
    """When the run started (UTC); now when the run records no start."""
    started = get_run(ctx.session, ctx.run_id).started_at
    return started or dt.datetime.now(dt.UTC)
