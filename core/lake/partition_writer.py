"""One partition's data files, written by CORE and committed to Delta in one step.

Why this exists: delta-rs's partitioned writer sorts and copies every batch by the
partition column, although every row of a publish has the same run id, and encodes on
one thread, so a publish of 1,000,000 rows cost 2.2x a bare ``write_deltalake``
(docs/performance.md, "Data lake"). Here the run's rows are written as Parquet by
pyarrow, in contiguous parts on threads of their own, into the run's partition folder,
and then committed with delta-rs's transaction API: the table's creation, or an
overwrite of exactly that partition, in one commit that records the same predicate
and metrics ``write_deltalake`` records. The layout, the atomic replacement of a run
and the table's history read the same as before.

It writes only what delta-rs would have written the same way (:func:`applies`): a
backend whose data files CORE may write itself (a local disk), a table partitioned by
the run id alone, the table's own columns and plain types. Everything else (other
partitions, a new column to merge, types delta-rs converts, S3) goes through
``write_deltalake``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.transaction import (
    AddAction,
    CommitProperties,
    PostCommitHookProperties,
    Transaction,
    create_table_with_add_actions,
)

log = logging.getLogger(__name__)

# Rows a part must have before the publish is split across threads.
MIN_PART_ROWS = 131_072
# A part's file is closed and a new one begun past this many rows.
FILE_ROWS = 4_194_304
# The highest writer protocol whose tables this module may write: 2 is what delta-rs
# creates for plain types; later versions bring features (generated columns, deletion
# vectors, column mapping...) that only delta-rs's writer knows how to honour.
MAX_WRITER_VERSION = 2
# A checkpoint every ten commits, not Delta's default hundred: opening a table replays
# the log from its last checkpoint, a file per commit, and each task opens two or three
# (12 ms at 45 commits since one, 5 ms with one, locally; a request each on S3), while a
# checkpoint costs 30 ms once. CORE's tables are created with it (both writers honour
# it); a table created without it gets CORE's own checkpoints at this interval too.
CHECKPOINT_INTERVAL = 10
TABLE_PROPERTIES = {"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)}


def _plain(kind: pa.DataType) -> bool:
    """True for a type that Delta stores as pyarrow writes it (no cast, no table feature)."""
    return (
        pa.types.is_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_signed_integer(kind)
        or kind in (pa.float32(), pa.float64())
        or pa.types.is_date32(kind)
        or kind == pa.timestamp("us", tz="UTC")
    )


@dataclass(frozen=True)
class Partition:
    """Which partition a publish replaces: its column and value, e.g. the run id."""

    column: str
    value: int

    @property
    def folder(self) -> str:
        """The partition's folder, relative to the table (Hive style, as delta-rs names it)."""
        return f"{self.column}={self.value}"

    @property
    def transaction(self) -> str:
        """The Delta transaction (app) id of this partition's publishes."""
        return f"core:{self.folder}"

    @property
    def predicate(self) -> str:
        """The predicate ``write_deltalake`` records for an overwrite of this partition."""
        return f"{self.column} = {self.value}"


def applies(
    direct: bool,
    existing: DeltaTable | None,
    schema: pa.Schema,
    partition_by: list[str],
    partition: Partition,
) -> bool:
    """Whether this module writes exactly what ``write_deltalake`` would for this publish.

    Args:
        direct: the backend lets CORE write data files itself (``direct_data_files``).
        existing: the table, or None when the publish creates it.
        schema: the Arrow schema of the rows to publish, metadata columns included.
        partition_by: the partition columns the publish asked for.
        partition: the partition the publish replaces.
    """
    if not direct or partition_by != [partition.column]:
        return False
    if not all(_plain(field.type) and field.nullable for field in schema):
        return False
    if existing is None:
        return True
    protocol, metadata = existing.protocol(), existing.metadata()
    if protocol.min_writer_version > MAX_WRITER_VERSION or metadata.partition_columns != [
        partition.column
    ]:
        return False
    if any(key.startswith("delta.constraints.") for key in metadata.configuration):
        return False
    if "delta.invariants" in existing.schema().to_json():  # column invariants: writer v2
        return False
    return _same_columns(existing, schema)


def _same_columns(existing: DeltaTable, schema: pa.Schema) -> bool:
    """The table has exactly these columns and types, and none refuses nulls."""
    table = pa.schema(existing.schema().to_arrow())
    ours = {field.name: field.type for field in schema}
    return len(ours) == len(table) and all(f.nullable and ours.get(f.name) == f.type for f in table)


def write_files(
    filesystem: pafs.FileSystem,
    table_path: str,
    partition: Partition,
    parts: list[Callable[[], pa.RecordBatchReader]],
) -> list[AddAction]:
    """Write each part's batches into the partition's folder, one thread a part.

    The partition column is left out of the files (its value is in the folder and the
    log, as delta-rs does). If any part fails, every file this call created is deleted
    before the error is raised again: nothing half-written stays behind.

    Args:
        filesystem: the lake's filesystem; ``table_path`` is a path in it.
        table_path: the Delta table's folder.
        partition: the partition the files belong to.
        parts: one callable per part, each giving a reader of that part's batches.

    Returns:
        One AddAction per file written, in the parts' order.

    Raises:
        OSError: a file could not be written (a full disk, a file size limit...).
    """
    folder = f"{table_path}/{partition.folder}"
    filesystem.create_dir(folder, recursive=True)
    created: list[str] = []
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="core-publish")
    try:  # a stop may land while the parts are still being handed out
        futures = [
            pool.submit(_write_part, filesystem, folder, partition.column, p, created, cancel)
            for p in parts
        ]
        written = [add for future in futures for add in future.result()]
        return [_add_action(filesystem, table_path, partition, *file) for file in written]
    except BaseException:  # a part failed, or the worker was asked to stop (Terminated)
        # The other parts stop at their next batch; parts not yet begun never begin (a
        # stop inside submit() can leave a thread started but untracked: it finds its
        # part cancelled and ends without writing).
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        delete(filesystem, created)
        raise
    finally:
        pool.shutdown()


def _write_part(
    filesystem: pafs.FileSystem,
    folder: str,
    column: str,
    part: Callable[[], pa.RecordBatchReader],
    created: list[str],
    cancel: threading.Event,
) -> list[tuple[str, Any]]:
    """Write one part's batches, without the partition ``column``, into one or more files.

    Returns:
        [(path, Parquet FileMetaData)] of each file written.
    """
    import pyarrow.parquet as pq

    files: list[tuple[str, list[Any]]] = []
    writer, rows = None, 0
    try:
        for batch in _without_column(part(), column):
            if cancel.is_set():
                return []  # abandoned: write_files deletes what was written
            if writer is None or rows >= FILE_ROWS:
                if writer is not None:
                    writer.close()
                path = f"{folder}/part-{uuid.uuid4()}-c000.snappy.parquet"
                created.append(path)  # list.append is atomic: the other parts append too
                files.append((path, []))
                writer = pq.ParquetWriter(
                    path,
                    batch.schema,
                    filesystem=filesystem,
                    # Readers take the types from the Delta schema, as for delta-rs's files.
                    store_schema=False,
                    # Dictionaries for text only: tried on numbers they cost 2.5x the whole
                    # write in row groups of a batch (131,072 rows) and save little there.
                    use_dictionary=_text_columns(batch.schema),
                    metadata_collector=files[-1][1],
                )
                rows = 0
            writer.write_batch(batch)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    return [(path, collected[0]) for path, collected in files]


def _text_columns(schema: pa.Schema) -> list[str]:
    """The columns written with dictionaries: text, and columns that are dictionaries
    already (stored as they are, not decoded)."""
    kinds = (pa.types.is_string, pa.types.is_binary, pa.types.is_dictionary)
    return [f.name for f in schema if any(kind(f.type) for kind in kinds)]


def _without_column(reader: pa.RecordBatchReader, column: str) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        yield batch.drop_columns([column]) if column in batch.schema.names else batch


def delete(filesystem: pafs.FileSystem, paths: list[str]) -> None:
    """Delete files this module wrote that no commit names (a failed or abandoned publish)."""
    for path in paths:
        try:
            filesystem.delete_file(path)
        except OSError:  # never created, or already gone: nothing of it is left either way
            continue


def _add_action(
    filesystem: pafs.FileSystem, table_path: str, partition: Partition, path: str, metadata: Any
) -> AddAction:
    info = filesystem.get_file_info(path)
    return AddAction(
        path=path.removeprefix(f"{table_path}/"),
        size=int(info.size or 0),
        partition_values={partition.column: str(partition.value)},
        modification_time=int(info.mtime_ns // 1_000_000) if info.mtime_ns else _now_ms(),
        data_change=True,
        stats=file_stats(metadata),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def file_stats(metadata: Any) -> str:
    """The Delta statistics of one Parquet file (numRecords, nullCount, minValues, maxValues).

    Readers skip a file by these bounds, and deltalake's reader takes a column missing
    from ``minValues`` as a null bound, which skips the file for any filter on it. So
    bounds are given for every column or for none: when one column's values are not
    known exactly (infinities, text too long for Parquet's statistics, dates out of
    Python's range), the file has row and null counts only and is always read.
    Columns holding only nulls have no bounds, as delta-rs writes them.
    """
    nulls: dict[str, int] = {}
    lows: dict[str, Any] = {}
    highs: dict[str, Any] = {}
    certain = True
    for column in range(metadata.num_columns):
        name = metadata.schema.column(column).name
        chunks = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
        statistics = [(g.num_rows, g.column(column).statistics) for g in chunks]
        nulls[name] = sum(s.null_count for _, s in statistics if s is not None)
        if nulls[name] == metadata.num_rows:
            continue
        bounds = _bounds(statistics)
        if bounds is None:
            certain = False
            continue
        lows[name], highs[name] = bounds
    stats: dict[str, Any] = {"numRecords": metadata.num_rows, "nullCount": nulls}
    if certain:
        stats.update(minValues=lows, maxValues=highs)
    return json.dumps(stats)


def _bounds(statistics: list[tuple[int, Any]]) -> tuple[Any, Any] | None:
    """(min, max) over row groups, or None when any row group's values are not known."""
    lows, highs = [], []
    for rows, stats in statistics:
        if stats is None or not stats.has_null_count:
            return None
        if stats.null_count == rows:  # only nulls: no bound to add
            continue
        if not stats.has_min_max:
            return None
        try:
            lows.append(_json_value(stats.min))
            highs.append(_json_value(stats.max))
        except (OverflowError, ValueError):  # a date or time outside Python's range
            return None
    if not lows or any(v is None for v in (*lows, *highs)):
        return None
    return min(lows), max(highs)


def _json_value(value: Any) -> Any:
    """A statistic as Delta writes it in JSON, or None when it cannot be exact."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime):  # UTC microseconds: the only timestamps written here
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return None  # bytes: no bounds rather than approximate ones


def commit(
    uri: str,
    storage_options: dict[str, str],
    existing: DeltaTable | None,
    schema: pa.Schema,
    adds: list[AddAction],
    partition: Partition,
    ticket: int,
) -> None:
    """Commit the files as the table's creation, or as an overwrite of the partition.

    The commit records what ``write_deltalake`` records (mode, partitionBy, predicate;
    added files and rows), so the history and the publish summary read the same. A
    transaction id per partition makes two writers of the same partition conflict even
    when the partition was empty (otherwise both commits would land: rows twice); its
    version, ``ticket``, tells afterwards whether this commit landed (:func:`landed`).
    The checkpoint delta-rs writes after some commits is written after this one instead
    (:func:`checkpoint`): failing inside the commit call, it made a commit that had landed
    look failed.

    Raises:
        CommitFailedError, DeltaError: the commit lost a race or the store failed.
    """
    rows = sum(json.loads(add.stats)["numRecords"] for add in adds)
    properties = CommitProperties(
        custom_metadata={
            "operationParameters": {
                "mode": "Overwrite",
                "partitionBy": json.dumps([partition.column]),
                "predicate": partition.predicate,
            },
            "operationMetrics": {"num_added_files": len(adds), "num_added_rows": rows},
        },
        app_transactions=[Transaction(partition.transaction, ticket)],
    )
    hooks = PostCommitHookProperties(create_checkpoint=False, cleanup_expired_logs=False)
    if existing is None:
        create_table_with_add_actions(
            uri,
            DeltaSchema.from_arrow(schema),
            adds,
            mode="error",
            partition_by=[partition.column],
            configuration=TABLE_PROPERTIES,
            storage_options=storage_options,
            commit_properties=properties,
            post_commithook_properties=hooks,
        )
        return
    existing.create_write_transaction(
        adds,
        "overwrite",
        existing.schema(),
        partition_by=[partition.column],
        partition_filters=[(partition.column, "=", str(partition.value))],
        commit_properties=properties,
        post_commithook_properties=hooks,
    )


def landed(table: DeltaTable | None, partition: Partition, ticket: int) -> bool:
    """Whether the commit with this ticket is in the table (it may have failed after landing)."""
    return table is not None and table.transaction_version(partition.transaction) == ticket


def checkpoint(table: DeltaTable) -> None:
    """Write the checkpoint delta-rs writes every ``delta.checkpointInterval`` commits.

    At the versions delta-rs's writer chooses (each interval-th commit: versions 9, 19, …
    for 10), so a table written by both writers keeps one rhythm. A table that sets no
    interval (created before CORE set one) gets CHECKPOINT_INTERVAL.

    Best effort: the commit has landed; a checkpoint that cannot be written now (or an
    interval that is not a whole number) leaves readers replaying the log meanwhile.
    """
    version = table.version()
    try:
        configured = table.metadata().configuration.get("delta.checkpointInterval")
        interval = int(configured or CHECKPOINT_INTERVAL)
        if interval < 1 or (version + 1) % interval:
            return
        table.create_checkpoint()
        table.cleanup_metadata()
    except Exception as exc:  # the data is committed; this is housekeeping
        log.warning("%s: no checkpoint at version %d: %s", table.table_uri, version, exc)


def parts(rows: int) -> list[tuple[int, int]]:
    """The contiguous (offset, length) parts a publish of ``rows`` rows is split into.

    One per core, at most four, each of at least MIN_PART_ROWS rows; contiguous so a
    run's rows read back in the order they were published.
    """
    if rows == 0:
        return [(0, 0)]
    count = max(1, min(os.cpu_count() or 1, rows // MIN_PART_ROWS, 4))
    size = -(-rows // count)
    return [(offset, min(size, rows - offset)) for offset in range(0, rows, size)]
