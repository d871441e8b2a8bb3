"""DatasetContract: a Delta Lake table per contract, one partition per run.

``publish`` replaces the rows of one run id in one atomic Delta commit
(``mode='overwrite'`` with a ``predicate`` on ``__metadata_run_id``), so re-running a
run never duplicates rows and no reader ever sees half a run. The table's schema
is checked before anything is written; a type change is refused, new columns
are merged in.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

import core
from core.errors import ContractError, ContractNotFoundError, CoreError, LakeError
from core.lake import partition_writer
from core.lake.contract import Contract
from core.lake.partition_writer import Partition
from core.lake.schema import check_compatible
from core.lake.storage import describe_storage_error

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # pandas costs a sixth of a second to import; workers may not need it
    import pandas as pd

RUN_ID = "__metadata_run_id"
RUN_TIMESTAMP = "__metadata_run_timestamp"
APP_VERSION = "__metadata_app_version"
TRANSFORM_TIMESTAMP = "__metadata_transform_timestamp"
OUTPUT_CONTRACT = "__metadata_output_contract"
METADATA_PREFIX = "__metadata_"
METADATA_COLUMNS = (RUN_ID, RUN_TIMESTAMP, APP_VERSION, TRANSFORM_TIMESTAMP, OUTPUT_CONTRACT)
# Two runs committing at once conflict only on the commit file; delta-rs retries some
# conflicts itself, and a predicate overwrite of one run is safe to repeat.
COMMIT_ATTEMPTS = 5
# Rows per batch handed to the Delta writer; bounds the metadata columns in memory.
STREAM_BATCH_ROWS = 131_072
# How many commits back a publish looks for its own (others may commit meanwhile).
SUMMARY_LOOKBACK = 50
UTC_MICROS = pa.timestamp("us", tz="UTC")

Filters = list[tuple[str, str, Any]] | None


@dataclass(frozen=True)
class _Stamp:
    """The metadata values of one publish, the same for every batch."""

    run_id: int
    run_timestamp: dt.datetime
    transform_timestamp: dt.datetime


@dataclass(frozen=True)
class PublishSummary:
    """What one publish wrote.

    Attributes:
        run_id: the run whose rows were replaced.
        rows: rows written for that run.
        files: data files added by the commit.
        version: the table version the commit created.
        previous_version: the table's version that the publish found (None when it
            created the table): this run's rows as they were before are read there.
    """

    run_id: int
    rows: int
    files: int
    version: int
    previous_version: int | None = None


@dataclass(frozen=True)
class RestoreSummary:
    """What one restore did.

    Attributes:
        restored: the version whose content is current again.
        version: the table version the restore commit created.
        files_removed: data files the restore took out of the table.
        files_restored: data files the restore brought back.
    """

    restored: int
    version: int
    files_removed: int
    files_restored: int


class DatasetContract(Contract):
    """A dataset-grain contract: one Delta table at :attr:`uri`."""

    def publish(
        self,
        data: pd.DataFrame | pa.Table,
        run_id: int,
        session: Any = None,
        partitions: list[str] | None = None,
    ) -> PublishSummary:
        """Replace this run's rows of the dataset with ``data``, atomically.

        Args:
            data: a pandas DataFrame or an Arrow table. ``__metadata_*`` columns in it
                are replaced by this run's.
            run_id: the RunEvent id; publishing it again replaces its rows.
            session: a configuration session; when given, the run's start time is read
                from its RunEvent for ``__metadata_run_timestamp``.
            partitions: columns to partition by after ``__metadata_run_id``.

        Returns:
            A PublishSummary (rows, files, version).

        Raises:
            ContractError: run_id or partitions are not valid, or a column name is empty
                or used twice (nothing written).
            SchemaConflictError: a column's type differs from the table's (nothing written).
            LakeError: the write failed.
        """
        run_id = _check_run_id(run_id)
        source = to_arrow(data)
        _check_column_names(self.uri, source.column_names)
        stamp = _Stamp(run_id, _run_timestamp(session, run_id), dt.datetime.now(dt.UTC))
        # The metadata columns are added batch by batch as the writer pulls, so the
        # whole table is never copied with them: this is what keeps publish's peak low.
        table = self._with_metadata(source.slice(0, 0), stamp)
        partition_by = [RUN_ID, *_check_partitions(partitions or [], table)]
        existing = self._table_or_none()
        merge = False
        if existing is not None:
            schema = pa.schema(existing.schema().to_arrow())
            check_compatible(self.uri, schema, table.schema)
            _check_same_partitioning(self.uri, existing.metadata().partition_columns, partition_by)
            # Schema merging costs a cast pass over the data: ask for it only when needed.
            merge = set(table.column_names) != set(schema.names)
        # Arrow's allocator keeps the memory the transform freed for Arrow's next use;
        # the writers allocate their own, so hand it back first: the worker's peak at 1M
        # rows fell by a fifth (docs/performance.md, "Where a step's memory went").
        pa.default_memory_pool().release_unused()
        partition = Partition(RUN_ID, run_id)
        direct = self.backend.direct_data_files
        before = existing.version() if existing is not None else None
        here = not merge and partition_writer.applies(
            direct, existing, table.schema, partition_by, partition
        )
        if here:
            self._write_direct(source, stamp, table.schema, partition, existing)
        else:
            stream = lambda: self._stream(source, stamp, table.schema)  # noqa: E731
            self._write(stream, run_id, partition_by, merge, created=existing is None)
        after = self._refreshed(existing)
        if here:  # delta-rs's writer writes its checkpoints itself
            partition_writer.checkpoint(after)
        return self._summary(run_id, source.num_rows, after, before)

    def _stream(
        self, source: pa.Table, stamp: _Stamp, schema: pa.Schema, encoded: bool = False
    ) -> pa.RecordBatchReader:
        """The rows with this publish's metadata columns, batch by batch.

        Args:
            encoded: the metadata columns as one-entry dictionaries (``schema`` says so;
                see :func:`encoded_schema`), for CORE's own Parquet writer.
        """

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in source.to_batches(max_chunksize=STREAM_BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                yield from self._with_metadata(table, stamp, encoded).to_batches()

        return pa.RecordBatchReader.from_batches(schema, batches())

    def fetch(
        self,
        filters: Filters = None,
        columns: list[str] | None = None,
        run_id: int | None = None,
        version: int | None = None,
    ) -> pd.DataFrame:
        """The dataset (or one run, or one version) as pandas; see :meth:`fetch_arrow`."""
        return self.fetch_arrow(filters, columns, run_id, version).to_pandas()

    def fetch_arrow(
        self,
        filters: Filters = None,
        columns: list[str] | None = None,
        run_id: int | None = None,
        version: int | None = None,
        limit: int | None = None,
        metadata: bool = True,
    ) -> pa.Table:
        """The dataset as an Arrow table.

        Args:
            filters: DNF filters, e.g. ``[("region", "=", "east")]``.
            columns: the columns to read (all when None).
            run_id: only this run; only that run's partition is read.
            version: the table as of this Delta version (time travel).
            limit: at most this many rows (reading stops once they are found).
            metadata: False leaves out the five standard ``__metadata_*`` columns
                (METADATA_COLUMNS) when ``columns`` is None. A transform whose output
                is published gets them written anew; reading them cost more than the
                data itself (a million demo rows: 152 MiB and 0.08 s with them, 43 MiB
                and 0.04 s without).

        Returns:
            The rows as a pyarrow Table.

        Raises:
            ContractNotFoundError: the table (or that version) does not exist.
            ContractError: a filter or column names no column of the table.
        """
        # Imported here: pyarrow.dataset pulls in pandas, which a worker may never need.
        import pyarrow.dataset as pads
        import pyarrow.parquet as pq

        table = self.delta_table(version)
        pruning = [(RUN_ID, "=", str(_check_run_id(run_id)))] if run_id is not None else None
        try:
            # Arrow's own filesystem, not deltalake's default Python handler: scanner
            # threads calling back into that handler outlived the interpreter's teardown
            # and aborted finished processes with exit 134 (issue 17, item 7).
            files = pafs.SubTreeFileSystem(self.path, self.filesystem)
            dataset = table.to_pyarrow_dataset(file_pruning_predicate=pruning, filesystem=files)
            _check_known_columns(self, dataset.schema.names, filters, columns)
            if columns is None and not metadata:
                columns = [c for c in dataset.schema.names if c not in METADATA_COLUMNS]
            expression = pq.filters_to_expression(filters) if filters else None
            if run_id is not None:
                by_run = pads.field(RUN_ID) == run_id
                expression = by_run if expression is None else expression & by_run
            scanner = dataset.scanner(columns=columns, filter=expression)
            if limit is None:
                return scanner.to_table()
            return _head(scanner, limit)
        except (DeltaError, OSError) as exc:  # the store failed part way (after its retries)
            raise LakeError(f"{self!r}: reading failed: {describe_storage_error(exc)}") from exc

    def exists(self) -> bool:
        """True when the table has been published at least once."""
        # Not DeltaTable.is_deltatable: it holds the GIL during I/O, which deadlocks
        # against an S3 endpoint served from this process (moto in tests).
        return self._table_or_none() is not None

    def delta_table(self, version: int | None = None) -> DeltaTable:
        """The deltalake DeltaTable of this contract.

        Raises:
            ContractNotFoundError: no table (or no such version) exists, naming what does.
            ContractError: the version is not a whole number from 0.
        """
        if version is not None and not _is_whole_number(version):
            raise ContractError(
                f"{self!r}: version {version!r} is not valid: expected a table version, "
                "a whole number from 0 (`core lake show` lists them)"
            )
        try:
            return DeltaTable(self.uri, version=version, storage_options=self.storage_options)
        except TableNotFoundError as exc:
            raise ContractNotFoundError(self._missing_message()) from exc
        except OSError as exc:  # the store failed or cannot be reached (after its retries)
            raise LakeError(
                f"{self!r}: cannot open the Delta table: {describe_storage_error(exc)}"
            ) from exc
        except DeltaError as exc:
            if version is None:
                raise LakeError(
                    f"{self!r}: cannot open the Delta table: {describe_storage_error(exc)}"
                ) from exc
            raise ContractNotFoundError(
                f"{self!r} has no version {version}: expected 0 to {self.delta_table().version()}"
            ) from exc

    def restore(self, version: int) -> RestoreSummary:
        """Make an earlier version's content current again, in one new commit.

        Nothing is deleted: the versions in between stay readable (time travel), and a
        restore can itself be undone by restoring the version before it.

        Args:
            version: the table version to go back to (``core lake show`` lists them).

        Returns:
            A RestoreSummary (the new version, files removed and restored).

        Raises:
            ContractError: the version is not an earlier version of the table.
            ContractNotFoundError: the table does not exist.
            LakeError: the restore could not be committed.
        """
        table = self.delta_table()
        latest = table.version()
        if not _is_whole_number(version) or version >= latest:
            raise ContractError(
                f"{self!r}: cannot restore version {version!r}: expected an earlier version, "
                f"0 to {latest - 1} (the current one is {latest}); `core lake show` lists them"
            )
        try:
            metrics = table.restore(version)
        except DeltaError as exc:
            raise LakeError(
                f"{self!r}: restoring version {version} failed: {describe_storage_error(exc)}"
            ) from exc
        return RestoreSummary(
            version,
            self.delta_table().version(),
            int(metrics.get("numRemovedFile", 0)),
            int(metrics.get("numRestoredFile", 0)),
        )

    def run_ids(self) -> list[int]:
        """The run ids present in the current version, ascending."""
        partitions = self.delta_table().partitions()
        return sorted({int(p[RUN_ID]) for p in partitions})

    def latest_run_id(self) -> int | None:
        """The highest run id present (run ids grow with time); None when empty."""
        runs = self.run_ids()
        return runs[-1] if runs else None

    def schema_or_none(self) -> pa.Schema | None:
        """The table's current schema (Arrow), or None when it was never published.

        Raises:
            LakeError: the table exists but cannot be opened.
        """
        table = self._table_or_none()
        return None if table is None else pa.schema(table.schema().to_arrow())

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's commits, newest first: version, timestamp, operation, predicate, rows.

        Args:
            limit: at most this many commits (all that are still in the log when None).
        """
        latest = self.delta_table().version()
        oldest = -1 if limit is None else max(-1, latest - limit)
        entries = []
        for version in range(latest, oldest, -1):
            info = self._commit_info(version)
            if info is None:  # older commits were cleaned up after a checkpoint
                break
            entries.append(_history_entry(version, info))
        return entries

    def _commit_info(self, version: int) -> dict[str, Any] | None:
        # Read the commit file directly: DeltaTable.history holds the GIL during I/O,
        # which deadlocks against an S3 endpoint served from this process (moto).
        path = f"{self.path}/_delta_log/{version:020d}.json"
        try:
            with self.filesystem.open_input_stream(path) as reader:
                lines = reader.read().decode("utf-8").splitlines()
        except FileNotFoundError:
            return None
        actions = (json.loads(line) for line in lines if line.strip())
        return next((a["commitInfo"] for a in actions if "commitInfo" in a), {})

    def _with_metadata(self, table: pa.Table, stamp: _Stamp, encoded: bool = False) -> pa.Table:
        table = table.drop_columns([c for c in table.column_names if c in METADATA_COLUMNS])
        values = {
            RUN_ID: pa.scalar(stamp.run_id, pa.int64()),
            RUN_TIMESTAMP: pa.scalar(stamp.run_timestamp, UTC_MICROS),
            APP_VERSION: pa.scalar(core.__version__, pa.string()),
            TRANSFORM_TIMESTAMP: pa.scalar(stamp.transform_timestamp, UTC_MICROS),
            OUTPUT_CONTRACT: pa.scalar(self.key, pa.string()),
        }
        for name, value in values.items():
            table = table.append_column(name, _constant(value, table.num_rows, encoded))
        return table

    def _table_or_none(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri, storage_options=self.storage_options)
        except TableNotFoundError:
            return None
        except (DeltaError, OSError) as exc:  # permissions, a corrupt log, an unreachable store
            raise LakeError(
                f"{self!r}: the Delta table cannot be opened: {describe_storage_error(exc)}"
            ) from exc

    def _write(
        self,
        data: Callable[[], pa.RecordBatchReader],
        run_id: int,
        partition_by: list[str],
        merge: bool,
        created: bool,
    ) -> None:
        """Publish through delta-rs's writer: it writes the data files and commits them.

        Args:
            created: the table does not exist yet: it gets CORE's table properties.
        """

        def write(_attempt: int) -> None:
            write_deltalake(
                self.uri,
                data(),
                partition_by=partition_by,
                mode="overwrite",
                predicate=f"{RUN_ID} = {run_id}",
                schema_mode="merge" if merge else None,
                configuration=partition_writer.TABLE_PROPERTIES if created else None,
                storage_options=self.storage_options,
            )

        self._retrying(run_id, write)

    def _write_direct(
        self,
        source: pa.Table,
        stamp: _Stamp,
        schema: pa.Schema,
        partition: Partition,
        existing: DeltaTable | None,
    ) -> None:
        """Publish by writing the run's files here and committing them with delta-rs.

        A lost commit race is retried with the same files against the table as it is
        then; the files are deleted when the publish fails for good.
        """
        encoded = encoded_schema(schema)
        parts = [
            lambda offset=offset, rows=rows: self._stream(
                source.slice(offset, rows), stamp, encoded, encoded=True
            )
            for offset, rows in partition_writer.parts(source.num_rows)
        ]
        ticket = time.time_ns() // 1000  # tells afterwards whether this publish landed
        try:
            adds = partition_writer.write_files(self.filesystem, self.path, partition, parts)
        except OSError as exc:  # the files written so far are already deleted
            raise self._failed(partition.value, exc) from exc

        def commit(attempt: int) -> None:
            table = existing if attempt == 1 else self._table_or_none()
            direct = self.backend.direct_data_files
            if table is not None and not partition_writer.applies(
                direct, table, schema, [partition.column], partition
            ):
                raise LakeError(
                    f"{self!r}: publishing run {partition.value} failed and nothing was "
                    "committed: another writer changed the table meanwhile (its columns, "
                    "partitioning or constraints); run the task again"
                )
            partition_writer.commit(
                self.uri, self.storage_options, table, schema, adds, partition, ticket
            )

        try:
            self._retrying(partition.value, commit)
        except BaseException as exc:  # a failure, or a stop (Terminated) at any point
            landed = self._landed(partition, ticket)
            if landed is False:  # files no commit names: nothing half-written stays behind
                partition_writer.delete(
                    self.filesystem, [f"{self.path}/{add.path}" for add in adds]
                )
            if not (landed and isinstance(exc, Exception)):
                raise
            logger.warning("%r: run %s was committed despite: %s", self, partition.value, exc)

    def _landed(self, partition: Partition, ticket: int) -> bool | None:
        """Whether the commit with this ticket is in the table; None when it cannot be read
        (then the files are kept: files no commit names are never read)."""
        try:
            return partition_writer.landed(self._table_or_none(), partition, ticket)
        except LakeError:
            return None

    def _retrying(self, run_id: int, attempt_once: Callable[[int], None]) -> None:
        """Call ``attempt_once(attempt)`` until it commits, retrying lost commit races.

        Any error but CORE's own becomes a LakeError naming the dataset and the run
        (delta-rs raises plain Exceptions for some schema errors).
        """
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                attempt_once(attempt)
                return
            except CoreError:
                raise
            # OSError: the store failed (a full disk, 5xx or timeouts after their retries).
            except Exception as exc:
                if attempt == COMMIT_ATTEMPTS or not _is_conflict(exc):
                    raise self._failed(run_id, exc) from exc
                time.sleep(0.05 * attempt)

    def _failed(self, run_id: int, exc: BaseException) -> LakeError:
        return LakeError(
            f"{self!r}: publishing run {run_id} failed and nothing was committed "
            f"(the table is as it was): {describe_storage_error(exc)}"
        )

    def _refreshed(self, table: DeltaTable | None) -> DeltaTable:
        """The table after a publish: ``table`` brought up to date, reading only the
        commits since it was opened (a fresh open replays the log from its last
        checkpoint: 5-10 ms a table, four times a publish before), or opened when the
        publish created it."""
        if table is None:
            return self.delta_table()
        try:
            table.update_incremental()
        except (DeltaError, OSError) as exc:
            raise LakeError(
                f"{self!r}: the Delta table cannot be read: {describe_storage_error(exc)}"
            ) from exc
        return table

    def _summary(
        self, run_id: int, rows: int, table: DeltaTable, before: int | None
    ) -> PublishSummary:
        # The newest commit that replaced this run: another run may have committed since.
        predicate = f"{RUN_ID} = {run_id}"
        version = table.version()
        for candidate in range(version, max(-1, version - SUMMARY_LOOKBACK), -1):
            info = self._commit_info(candidate) or {}
            if info.get("operationParameters", {}).get("predicate") == predicate:
                metrics = info.get("operationMetrics", {})
                files = int(metrics.get("num_added_files", 0))
                return PublishSummary(run_id, rows, files, candidate, before)
        return PublishSummary(run_id, rows, 0, version, before)

    def _missing_message(self) -> str:
        parent = self.uri.rsplit("/", 1)[0]
        try:
            selector = _selector(self.backend.fs_path(parent))
            found = sorted(i.base_name for i in self.filesystem.get_file_info(selector))
        except (OSError, ValueError):
            found = []
        what = ", ".join(found) if found else "none"
        return (
            f"{self!r}: no dataset {self.dataset!r} has been published in state "
            f"{self.state!r} of {self.parent}/{self.child} (branch {self.branch!r}); "
            f"datasets there: {what}. Publish it first or check the name."
        )


def _head(scanner: Any, limit: int) -> pa.Table:
    """The first ``limit`` rows of a scan; the reader is closed, so no read is left pending."""
    batches, rows = [], 0
    reader = scanner.to_reader()
    try:
        while rows < limit:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch.slice(0, limit - rows))
            rows += batches[-1].num_rows
    finally:
        reader.close()
    return pa.Table.from_batches(batches, schema=scanner.projected_schema)


def _history_entry(version: int, info: dict[str, Any]) -> dict[str, Any]:
    timestamp = info.get("timestamp")
    return {
        "version": version,
        "timestamp": dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC) if timestamp else None,
        "operation": info.get("operation"),
        "predicate": info.get("operationParameters", {}).get("predicate"),
        "rows": info.get("operationMetrics", {}).get("num_added_rows"),
    }


def _selector(path: str) -> Any:
    from pyarrow.fs import FileSelector

    return FileSelector(path, allow_not_found=True)


def _is_conflict(exc: Exception) -> bool:
    # A commit race shows as CommitFailedError, or as a DeltaError about the version
    # already existing when two writers create the table at once.
    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or "already exists" in text or "conflict" in text


def to_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    """What publish writes, as Arrow: the table itself, or a DataFrame without its index.

    Raises:
        ContractError: data is neither.
    """
    if isinstance(data, pa.Table):
        return data
    pandas = sys.modules.get("pandas")  # a DataFrame exists only if pandas was imported
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise ContractError(
        f"publish data is a {type(data).__name__}: expected a pandas DataFrame or a pyarrow Table"
    )


def _is_whole_number(value: object) -> TypeGuard[int]:
    """True for an int from 0 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _constant(value: pa.Scalar, rows: int, encoded: bool) -> pa.Array:
    """``rows`` copies of ``value``; ``encoded``: as a dictionary of that one value.

    A Parquet writer stores a dictionary as it is, where it would hash every row of a
    plain column to build one: the metadata columns were a third of a million-row file's
    write (docs/performance.md, "Sixth round").
    """
    if not encoded:
        return pa.repeat(value, rows)
    indices = pa.repeat(pa.scalar(0, pa.int32()), rows)
    return pa.DictionaryArray.from_arrays(indices, pa.array([value.as_py()], value.type))


def encoded_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the metadata columns as dictionaries (what _constant builds)."""
    return pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type))
            if field.name in METADATA_COLUMNS
            else field
            for field in schema
        ]
    )


def _check_run_id(run_id: object) -> int:
    if not _is_whole_number(run_id):
        raise ContractError(f"run_id {run_id!r} is not valid: expected a RunEvent id (int >= 0)")
    return run_id


def _check_column_names(uri: str, names: list[str]) -> None:
    """Refuse data with an empty column name or a name used twice (Delta cannot store them)."""
    blank = [i for i, name in enumerate(names, 1) if not name.strip()]
    if blank:
        raise ContractError(
            f"{uri}: column {blank[0]} of the data to publish has an empty name; "
            "nothing was written. Expected every column to have a non-blank name"
        )
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ContractError(
            f"{uri}: the data to publish has column(s) {', '.join(map(repr, twice))} more than "
            "once; nothing was written. Expected unique column names: rename or drop the copies"
        )


def _check_known_columns(
    contract: DatasetContract, present: list[str], filters: Filters, columns: list[str] | None
) -> None:
    """Refuse a fetch whose filters or columns name a column the table does not have."""
    # DNF: a list of (column, op, value), or a list of such lists (OR of ANDs).
    terms = [t for f in filters or [] for t in (f if isinstance(f, list) else [f])]
    wanted = [str(t[0]) for t in terms if isinstance(t, tuple | list) and t]
    unknown = [c for c in [*wanted, *(columns or [])] if c not in present]
    if unknown:
        data = [c for c in present if not c.startswith(METADATA_PREFIX)]
        raise ContractError(
            f"{contract!r}: no column {unknown[0]!r} in the table: expected one of "
            f"{', '.join(data) or 'none'} (or a {METADATA_PREFIX}* column)"
        )


def _check_partitions(partitions: list[str], table: pa.Table) -> list[str]:
    for column in partitions:
        if column not in table.column_names or column.startswith(METADATA_PREFIX):
            raise ContractError(
                f"partition column {column!r} is not a data column: expected one of "
                f"{', '.join(c for c in table.column_names if not c.startswith(METADATA_PREFIX))}"
            )
    return list(partitions)


def _check_same_partitioning(uri: str, existing: list[str], wanted: list[str]) -> None:
    if list(existing) != wanted:
        raise ContractError(
            f"{uri}: the table is partitioned by {existing}, the publish asked for {wanted}; "
            "pass the table's partitions (a table's partitioning cannot change)"
        )


def _run_timestamp(session: Any, run_id: int) -> dt.datetime:
    if session is None:
        return dt.datetime.now(dt.UTC)
    from core.models.runs import RunEvent

    event = session.get(RunEvent, run_id)
    started = getattr(event, "started_at", None)
    if started is None:
        return dt.datetime.now(dt.UTC)
    return started if started.tzinfo else started.replace(tzinfo=dt.UTC)
