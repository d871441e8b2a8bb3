"""publish_to_s3: export a dataset as one CSV file to an S3 prefix or a local directory.

The file holds this run's rows of the ``input`` dataset without CORE's
``__metadata_*`` columns, with a header row, optionally gzip-compressed. Its
name comes from ``file_pattern``. An existing file is never overwritten: the
transformation fails naming it. On a local disk the file is written under a
hidden temporary name and hard-linked into place, which fails atomically when
the name is taken; on S3 the key is checked first and the PUT is all-or-nothing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from pyarrow import fs as pafs

from core.errors import DuplicateError
from core.lake.raw_contract import COPY_CHUNK
from core.transforms.library import Builtin
from core.transforms.library._common import INPUT, owner
from core.transforms.library.transfer import (
    DEFAULT_FILE_PATTERN,
    HIDDEN_MARK,
    Location,
    dataset_without_metadata,
    file_name,
    resolve_location,
    run_time,
    write_csv,
)

if TYPE_CHECKING:
    from core.transforms.context import TransformContext

EXPORT_VARIABLES = {
    "input": {"type": "string", "description": "the upstream dataset to export", "check": INPUT},
    "file_pattern": {
        "type": "string",
        "required": False,
        "default": DEFAULT_FILE_PATTERN,
        "description": "the file name: strftime codes on the run's start (UTC), "
        "{dataset} and {run_id}",
        "check": "file_pattern",
    },
    "gzip": {
        "type": "bool",
        "required": False,
        "default": False,
        "description": "gzip the CSV ('.gz' is appended to the name)",
    },
}

TEMPLATES = [
    Builtin(
        name="publish_to_s3",
        entrypoint="core.transforms.library.publish:publish_to_s3",
        description="Export this run's rows of a dataset as a CSV file (.csv, or .csv.gz with "
        "gzip) to an S3 prefix or a local directory, named by file_pattern; never overwrites.",
        state="dimensional",
        tags=("publish",),
        variables={
            "input": EXPORT_VARIABLES["input"],
            "destination": {
                "type": "string",
                "description": "an s3:// prefix or a directory (relative to CORE_HOME)",
            },
            "file_pattern": EXPORT_VARIABLES["file_pattern"],
            "gzip": EXPORT_VARIABLES["gzip"],
        },
    )
]


def publish_to_s3(ctx: TransformContext) -> None:
    """Export this run's rows of ``input`` as a CSV file in ``destination``.

    Records rows_out, location, file and bytes in ``ctx.metadata``.

    Args:
        ctx: the context (variables input, destination, file_pattern, gzip).

    Raises:
        ConfigurationError: ``destination`` or ``file_pattern`` is not valid.
        DuplicateError: the file already exists (nothing is written).
        NotFoundError: the pipeline has no dataset ``input``.
    """
    variables, who = ctx.variables, owner(ctx)
    destination = resolve_location(ctx, "destination", "export")
    name = export_name(ctx)
    refuse_existing(destination, name, who)
    table = dataset_without_metadata(ctx, variables["input"])
    with tempfile.TemporaryDirectory(prefix="core-publish-") as scratch:
        local = Path(scratch) / name
        size = write_csv(table, local, variables["gzip"])
        deliver(destination, local, name, who)
    record_export(ctx, destination.child_uri(name), table.num_rows, size)


def export_name(ctx: TransformContext) -> str:
    """The exported file's name from the variables file_pattern, input and gzip."""
    variables = ctx.variables
    return file_name(
        variables["file_pattern"],
        variables["input"],
        ctx.run_id,
        run_time(ctx),
        variables["gzip"],
        owner(ctx),
    )


def record_export(ctx: TransformContext, location: str, rows: int, size: int) -> None:
    """Record what was exported in ``ctx.metadata`` (and the log)."""
    ctx.metadata.update(location=location, rows_out=rows, bytes=size)
    ctx.logger.info("exported %d rows (%d bytes) to %s", rows, size, location)


def exists_error(location: str, who: str) -> DuplicateError:
    """The error for an export whose file name is taken."""
    return DuplicateError(
        f"{who}: {location} already exists and exports never overwrite a file; remove or "
        "rename it, or change the variable 'file_pattern' so each run writes its own name "
        "(e.g. '{dataset}_%Y%m%d_{run_id}.csv')"
    )


def refuse_existing(destination: Location, name: str, who: str) -> None:
    """Fail when ``name`` exists in ``destination``.

    Raises:
        DuplicateError: it exists.
    """
    info = destination.filesystem.get_file_info(destination.child(name))
    if info.type != pafs.FileType.NotFound:
        raise exists_error(destination.child_uri(name), who)


def deliver(destination: Location, local: Path, name: str, who: str) -> None:
    """Put a local file into ``destination`` under ``name``, never overwriting.

    Args:
        destination: the target directory or S3 prefix.
        local: the file to deliver.
        name: its name in ``destination``.
        who: the transformation, for messages.

    Raises:
        DuplicateError: ``name`` exists there.
    """
    if destination.local:
        _deliver_local(Path(destination.path), local, name, who)
        return
    refuse_existing(destination, name, who)
    # compression=None: the file is already what it should be; never gzip a .gz again.
    target = destination.child(name)
    with (
        local.open("rb") as reader,
        destination.filesystem.open_output_stream(target, compression=None) as writer,
    ):
        shutil.copyfileobj(reader, writer, COPY_CHUNK)


def _deliver_local(directory: Path, local: Path, name: str, who: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    temp = directory / f"{HIDDEN_MARK}{name}.{uuid.uuid4().hex}.part"
    try:
        shutil.copyfile(local, temp)
        os.link(temp, directory / name)  # fails, atomically, when the name is taken
    except FileExistsError:
        raise exists_error(str(directory / name), who) from None
    finally:
        temp.unlink(missing_ok=True)
