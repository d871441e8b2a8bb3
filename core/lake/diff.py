"""DatasetDiff: which rows of one dataset (or run) are not in another.

Rows are matched on key columns, or on every non-metadata column, with NULL
equal to NULL. The comparison is one anti-join in DuckDB over the two Arrow
tables; nothing loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from core.errors import LakeError
from core.lake.dataset_contract import METADATA_PREFIX, DatasetContract, Filters


@dataclass(frozen=True)
class RunDiff:
    """How one run of a dataset differs from another.

    Attributes:
        added: rows of the new run that the old run does not have.
        removed: rows of the old run that the new run does not have.
    """

    added: pa.Table
    removed: pa.Table


class DatasetDiff:
    """Compare a source dataset with a target dataset (the same one by default).

    Args:
        source: the dataset whose rows are looked for.
        target: the dataset they are looked for in (``source`` when omitted).
        keys: the columns that identify a row (all non-metadata columns when omitted).
        filters: DNF filters applied to both sides, e.g. a partition.
    """

    def __init__(
        self,
        source: DatasetContract,
        target: DatasetContract | None = None,
        keys: list[str] | None = None,
        filters: Filters = None,
    ) -> None:
        self.source = source
        self.target = target or source
        self.keys = list(keys) if keys else None
        self.filters = filters

    def missing(
        self, source_run_id: int | None = None, target_run_id: int | None = None
    ) -> pa.Table:
        """Rows of the source (or one run of it) that are not in the target (or one run).

        Args:
            source_run_id: only this run of the source (all runs when None).
            target_run_id: only this run of the target (all runs when None).

        Returns:
            The source's rows (all their columns) that have no match in the target.

        Raises:
            LakeError: a compared column is missing on one side.
            ContractNotFoundError: a dataset has not been published.
        """
        left = self.source.fetch_arrow(self.filters, run_id=source_run_id)
        columns = self._columns(left)
        right = self.target.fetch_arrow(self.filters, run_id=target_run_id)
        absent = [c for c in columns if c not in right.column_names]
        if absent:
            raise LakeError(
                f"cannot compare {self.source!r} with {self.target!r}: the target has no "
                f"column {', '.join(map(repr, absent))}; pass keys= that both have"
            )
        return anti_join(left, right.select(columns), columns)

    def between_runs(self, old_run_id: int, new_run_id: int) -> RunDiff:
        """Rows added and removed from ``old_run_id`` to ``new_run_id`` of the source.

        Args:
            old_run_id: the earlier run.
            new_run_id: the later run.

        Returns:
            A RunDiff (added, removed).
        """
        forward = DatasetDiff(self.source, self.source, self.keys, self.filters)
        return RunDiff(
            added=forward.missing(new_run_id, old_run_id),
            removed=forward.missing(old_run_id, new_run_id),
        )

    def _columns(self, table: pa.Table) -> list[str]:
        if self.keys is None:
            return [c for c in table.column_names if not c.startswith(METADATA_PREFIX)]
        absent = [k for k in self.keys if k not in table.column_names]
        if absent:
            raise LakeError(
                f"cannot compare {self.source!r}: key column {', '.join(map(repr, absent))} is "
                f"not in the dataset; expected some of {', '.join(table.column_names)}"
            )
        return self.keys


def anti_join(left: pa.Table, right: pa.Table, columns: list[str]) -> pa.Table:
    """Rows of ``left`` with no row of ``right`` equal on ``columns`` (NULL matches NULL).

    Args:
        left: the rows to keep or drop.
        right: the rows to look for.
        columns: the columns compared.

    Returns:
        The rows of ``left`` (all columns) that have no match.
    """
    condition = " AND ".join(f"l.{_quote(c)} IS NOT DISTINCT FROM r.{_quote(c)}" for c in columns)
    connection = duckdb.connect()
    try:
        connection.register("l", left)
        connection.register("r", right)
        query = f"SELECT l.* FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE {condition})"  # noqa: S608
        return connection.sql(query).to_arrow_table()
    finally:
        connection.close()


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
