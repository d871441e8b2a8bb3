"""What a dataset's publish and fetch are given, checked before anything is read or written.

Each check names the table, the argument, the value and what was expected; a refused
publish writes nothing (core.lake.dataset_contract).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeGuard

import pyarrow as pa

from core.errors import ContractError
from core.lake.metadata_columns import METADATA_PREFIX

if TYPE_CHECKING:  # pandas costs a sixth of a second to import; workers may not need it
    import pandas as pd

# DNF filters of a fetch: [(column, op, value), …], or a list of such lists (OR of ANDs).
Filters = list[tuple[str, str, Any]] | None


def is_whole_number(value: object) -> TypeGuard[int]:
    """True for an int from 0 (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_run_id(run_id: object) -> int:
    """The run id, checked.

    Raises:
        ContractError: it is not a RunEvent id (an int from 0).
    """
    if not is_whole_number(run_id):
        raise ContractError(f"run_id {run_id!r} is not valid: expected a RunEvent id (int >= 0)")
    return run_id


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


def check_column_names(uri: str, names: list[str]) -> None:
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


def check_known_columns(
    table: str, present: list[str], filters: Filters, columns: list[str] | None
) -> None:
    """Refuse a fetch whose filters or columns name a column the table does not have.

    Args:
        table: how the table is named in the message (its contract's repr).
    """
    terms = [t for f in filters or [] for t in (f if isinstance(f, list) else [f])]
    wanted = [str(t[0]) for t in terms if isinstance(t, tuple | list) and t]
    unknown = [c for c in [*wanted, *(columns or [])] if c not in present]
    if unknown:
        data = [c for c in present if not c.startswith(METADATA_PREFIX)]
        raise ContractError(
            f"{table}: no column {unknown[0]!r} in the table: expected one of "
            f"{', '.join(data) or 'none'} (or a {METADATA_PREFIX}* column)"
        )


def check_partitions(partitions: list[str], table: pa.Table) -> list[str]:
    """The partition columns asked for, each a data column of ``table``."""
    for column in partitions:
        if column not in table.column_names or column.startswith(METADATA_PREFIX):
            raise ContractError(
                f"partition column {column!r} is not a data column: expected one of "
                f"{', '.join(c for c in table.column_names if not c.startswith(METADATA_PREFIX))}"
            )
    return list(partitions)


def check_same_partitioning(uri: str, existing: list[str], wanted: list[str]) -> None:
    """Refuse a publish whose partitioning differs from the table's (it cannot change)."""
    if list(existing) != wanted:
        raise ContractError(
            f"{uri}: the table is partitioned by {existing}, the publish asked for {wanted}; "
            "pass the table's partitions (a table's partitioning cannot change)"
        )
