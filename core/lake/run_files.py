"""One run's data files of a dataset, for a reader that opens Parquet files itself.

Why this exists: a ``sql`` step handed DuckDB its inputs as Arrow tables, so every input
was decoded into Arrow first (each text value copied out of its Parquet dictionary) and
then scanned again by the query: for a million rows, half of the step's query time and
about 100 MiB of fresh memory in a process that lives for one task. DuckDB reads the same
files in parallel into its own vectors, with only the columns the query uses, in half
the time (docs/performance.md, "Eleventh round").

It answers only where the files are exactly the run's rows (:func:`run_files`): a
local lake (on S3 the files are reached through the store's own client), a table any
Delta reader can read (reader protocol 1: no deletion vectors, no column mapping)
partitioned by the run id alone, and a partition with at least one file. Anywhere else,
the caller reads through :meth:`DatasetContract.fetch_arrow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from core.lake.arguments import check_run_id
from core.lake.metadata_columns import RUN_ID

if TYPE_CHECKING:
    from core.lake.dataset_contract import DatasetContract

# The Delta reader protocol whose tables are plain Parquet files plus the log.
PLAIN_READER_VERSION = 1


@dataclass(frozen=True)
class RunFiles:
    """The data files of one run's partition, and a schema (Arrow): the table's, or the
    columns a reader is to take from the files."""

    paths: list[str]
    schema: pa.Schema


def run_files(contract: DatasetContract, run_id: int) -> RunFiles | None:
    """The local Parquet files holding run ``run_id``'s rows of the dataset, as of now.

    The run id is not in the files (it is the partition's folder): a reader adds it if
    it needs it.

    Returns:
        The files and the table's schema, or None when a reader must go through
        ``fetch_arrow`` (another store than a local disk, a reader protocol past 1, other
        partition columns, or no file for that run).

    Raises:
        ContractNotFoundError: the table does not exist.
        LakeError: the table cannot be opened.
    """
    if not contract.backend.direct_data_files:
        return None
    table = contract.delta_table()
    if (
        table.protocol().min_reader_version > PLAIN_READER_VERSION
        or table.metadata().partition_columns != [RUN_ID]
    ):
        return None
    run = str(check_run_id(run_id))
    paths = table.file_uris(file_pruning_predicate=[(RUN_ID, "=", run)])
    if not paths:
        return None
    return RunFiles(paths, pa.schema(table.schema().to_arrow()))
