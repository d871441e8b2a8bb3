"""DatasetContract: a Delta Lake table per contract, one partition per run.

``publish`` replaces the rows of one run id in one atomic Delta commit
(``mode='overwrite'`` with a ``predicate`` on ``__metadata_run_id``), so re-running a
run never duplicates rows and no reader ever sees half a run. The table's schema
is checked before anything is written; a type change is refused, new columns
are merged in. Beside it: the metadata columns every row gets (metadata_columns.py),
the checks of what publish and fetch are given (arguments.py), and the table's
history and restore (dataset_history.py); their names used with the class are
importable from here too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

from core.errors import ContractError, ContractNotFoundError, CoreError, LakeError
from core.lake import dataset_history, partition_writer
from core.lake.arguments import (
    Filters,
    check_column_names,
    check_known_columns,
    check_partitions,
    check_run_id,
    check_same_partitioning,
    is_whole_number,
    to_arrow,
)
from core.lake.contract import Contract
from core.lake.dataset_history import RestoreSummary
from core.lake.metadata_columns import (
    APP_VERSION,
    METADATA_COLUMNS,
    METADATA_PREFIX,
    OUTPUT_CONTRACT,
    RUN_ID,
    RUN_TIMESTAMP,
    TRANSFORM_TIMESTAMP,
    UTC_MICROS,
    Stamp,
    encoded_schema,
    run_timestamp,
    stamped,
)
from core.lake.partition_writer import Partition
from core.lake.schema import check_compatible
from core.lake.storage import describe_storage_error

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # pandas costs a sixth of a second to import; workers may not need it
    import pandas as pd

__all__ = [
    "APP_VERSION",
    "METADATA_COLUMNS",
    "METADATA_PREFIX",
    "OUTPUT_CONTRACT",
    "RUN_ID",
    "RUN_TIMESTAMP",
    "TRANSFORM_TIMESTAMP",
    "UTC_MICROS",
    "DatasetContract",
    "Filters",
    "PublishSummary",
    "RestoreSummary",
    "encoded_schema",
    "to_arrow",
]

# Two runs committing at once conflict only on the commit file; delta-rs retries some
# conflicts itself, and a predicate overwrite of one run is safe to repeat.
COMMIT_ATTEMPTS = 5
# Rows per batch handed to the Delta writer; bounds the metadata columns in memory.
STREAM_BATCH_ROWS = 131_072
# How many commits back a publish looks for its own (others may commit meanwhile).
SUMMARY_LOOKBACK = 50


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
        run_id = check_run_id(run_id)
        source = to_arrow(data)
        check_column_names(self.uri, source.column_names)
        stamp = Stamp(run_id, run_timestamp(session, run_id), dt.datetime.now(dt.UTC))
        # The metadata columns are added batch by batch as the writer pulls, so the
        # whole table is never copied with them: this is what keeps publish's peak low.
        table = stamped(source.slice(0, 0), stamp, self.key)
        partition_by = [RUN_ID, *check_partitions(partitions or [], table)]
        existing = self._table_or_none()
        merge = False
        if existing is not None:
            schema = pa.schema(existing.schema().to_arrow())
            check_compatible(self.uri, schema, table.schema)
            check_same_partitioning(self.uri, existing.metadata().partition_columns, partition_by)
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
        self, source: pa.Table, stamp: Stamp, schema: pa.Schema, encoded: bool = False
    ) -> pa.RecordBatchReader:
        """The rows with this publish's metadata columns, batch by batch.

        Args:
            encoded: the metadata columns as one-entry dictionaries (``schema`` says so;
                see :func:`encoded_schema`), for CORE's own Parquet writer.
        """

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in source.to_batches(max_chunksize=STREAM_BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                yield from stamped(table, stamp, self.key, encoded).to_batches()

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
        pruning = [(RUN_ID, "=", str(check_run_id(run_id)))] if run_id is not None else None
        try:
            # Arrow's own filesystem, not deltalake's default Python handler: scanner
            # threads calling back into that handler outlived the interpreter's teardown
            # and aborted finished processes with exit 134 (issue 17, item 7).
            files = pafs.SubTreeFileSystem(self.path, self.filesystem)
            dataset = table.to_pyarrow_dataset(file_pruning_predicate=pruning, filesystem=files)
            check_known_columns(repr(self), dataset.schema.names, filters, columns)
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
        if version is not None and not is_whole_number(version):
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
        """Make an earlier version's content current again, in one new commit (the
        versions in between stay readable); see :func:`core.lake.dataset_history.restore`."""
        return dataset_history.restore(self, version)

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
        """The table's commits, newest first (at most ``limit``): version, timestamp,
        operation, predicate, rows; see :func:`core.lake.dataset_history.history`."""
        return dataset_history.history(self, limit)

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
        stamp: Stamp,
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
            info = dataset_history.commit_info(self, candidate) or {}
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


def _selector(path: str) -> Any:
    from pyarrow.fs import FileSelector

    return FileSelector(path, allow_not_found=True)


def _is_conflict(exc: Exception) -> bool:
    # A commit race shows as CommitFailedError, or as a DeltaError about the version
    # already existing when two writers create the table at once.
    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or "already exists" in text or "conflict" in text
