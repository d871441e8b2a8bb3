"""The output dataset of a transformation: a preview of one run's rows, and a run's diff.

The dataset is the transformation's output contract (company, brand, state and
dataset name from the configuration). Rows come back JSON-safe: dates, times,
decimals and bytes as text, NaN and infinities as text, the ``__metadata_*``
columns left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from core.errors import ConfigurationError, ContractNotFoundError, InvalidInputError
from core.lake.contracts import contract_from_transformation_id
from core.lake.dataset_contract import METADATA_PREFIX, RUN_ID, DatasetContract
from core.lake.diff import DatasetDiff
from core.settings import Settings

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Preview:
    """The first rows of one run of a transformation's output dataset."""

    transformation_id: int
    dataset: str
    run_id: int
    columns: list[str]
    rows: list[list[Any]]
    total_rows: int


@dataclass(frozen=True)
class DiffResult:
    """Rows added and removed by ``run_id`` compared with the run ``against``."""

    transformation_id: int
    run_id: int
    against: int
    added_count: int
    removed_count: int
    added: Preview
    removed: Preview


def preview(
    settings: Settings,
    session: Session,
    transformation_id: int,
    run_id: int | None = None,
    limit: int = 50,
) -> Preview:
    """The first rows a run wrote to a transformation's output dataset.

    Args:
        settings: CORE's settings (the lake).
        session: a configuration session.
        transformation_id: the transformation whose output is shown.
        run_id: the run; the latest run with data when None.
        limit: at most this many rows (1 to 1000).

    Returns:
        The columns, the rows (JSON-safe) and how many rows the run has in all.

    Raises:
        InvalidInputError: limit out of range.
        NotFoundError: no such transformation.
        ConfigurationError: the transformation writes raw files, not a dataset.
        ContractNotFoundError: nothing published yet, or nothing for that run (the runs
            that have data are named).
    """
    limit = _check_limit(limit)
    contract = output_dataset(settings, session, transformation_id)
    run_id = _run_with_data(contract, transformation_id, run_id)
    table = contract.fetch_arrow(run_id=run_id, limit=limit)
    preview_ = _preview(transformation_id, contract, run_id, table, limit)
    # Only the partition column is read to count the run's rows: no data is decoded.
    total = contract.fetch_arrow(columns=[RUN_ID], run_id=run_id).num_rows
    return replace(preview_, total_rows=total)


def diff(
    settings: Settings,
    session: Session,
    transformation_id: int,
    run_id: int | None,
    against: int | None = None,
    limit: int = 50,
) -> DiffResult:
    """What a run changed in a transformation's output compared with another run.

    Rows are matched on every non-metadata column (one DuckDB anti-join each way).

    Args:
        run_id: the newer run; the latest run with data when None.
        against: the run to compare with; the latest earlier run with data when None.
        limit: at most this many added and this many removed rows are returned (1 to 1000).

    Returns:
        The counts and the first rows added and removed.

    Raises:
        InvalidInputError: limit out of range.
        NotFoundError: no such transformation.
        ConfigurationError: the transformation writes raw files, not a dataset.
        ContractNotFoundError: either run has no data, or no earlier run has any.
    """
    limit = _check_limit(limit)
    contract = output_dataset(settings, session, transformation_id)
    run_id = _run_with_data(contract, transformation_id, run_id)
    against = _run_with_data(contract, transformation_id, against, before=run_id)
    result = DatasetDiff(contract).between_runs(against, run_id)
    return DiffResult(
        transformation_id=transformation_id,
        run_id=run_id,
        against=against,
        added_count=result.added.num_rows,
        removed_count=result.removed.num_rows,
        added=_preview(transformation_id, contract, run_id, result.added, limit),
        removed=_preview(transformation_id, contract, against, result.removed, limit),
    )


def output_dataset(settings: Settings, session: Session, transformation_id: int) -> Any:
    """The DatasetContract a transformation publishes to.

    Raises:
        NotFoundError: no such transformation.
        ConfigurationError: its output is raw files (the raw state), not a dataset.
    """
    contract = contract_from_transformation_id(transformation_id, session, settings)
    if not isinstance(contract, DatasetContract):
        raise ConfigurationError(
            f"transformation {transformation_id} is in state {contract.state!r}: it stores "
            f"files at {contract.uri}, not a dataset, so it has no rows to show; preview the "
            "ingest transformation that reads those files instead"
        )
    return contract


def _run_with_data(
    contract: DatasetContract,
    transformation_id: int,
    run_id: int | None,
    before: int | None = None,
) -> int:
    try:
        runs = contract.run_ids()
    except ContractNotFoundError as exc:
        raise ContractNotFoundError(
            f"transformation {transformation_id} has not published {contract.dataset!r} yet "
            f"(no table at {contract.uri}); run its pipeline first"
        ) from exc
    candidates = runs if before is None else [r for r in runs if r < before]
    if run_id is None and candidates:
        return candidates[-1]
    if run_id is not None and run_id in runs:
        return run_id
    raise ContractNotFoundError(_no_run_message(contract, transformation_id, run_id, before, runs))


def _no_run_message(
    contract: DatasetContract,
    transformation_id: int,
    run_id: int | None,
    before: int | None,
    runs: list[int],
) -> str:
    which = f"run {run_id}" if run_id is not None else f"a run before run {before}"
    known = ", ".join(map(str, runs)) or "none"
    return (
        f"transformation {transformation_id}'s dataset {contract.dataset!r} has no rows for "
        f"{which}; runs with data: {known}"
    )


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError([("limit", limit, f"expected 1 to {MAX_LIMIT} rows")])
    return limit


def _preview(
    transformation_id: int,
    contract: DatasetContract,
    run_id: int,
    table: pa.Table,
    limit: int,
) -> Preview:
    """The first ``limit`` rows of ``table``; total_rows is the whole table's."""
    columns = [c for c in table.column_names if not c.startswith(METADATA_PREFIX)]
    shown = table.select(columns).slice(0, limit)
    values = (column.to_pylist() for column in shown.columns)
    rows = [[json_safe(value) for value in row] for row in zip(*values, strict=True)]
    return Preview(
        transformation_id=transformation_id,
        dataset=contract.uri,
        run_id=run_id,
        columns=columns,
        rows=rows,
        total_rows=table.num_rows,
    )


def json_safe(value: Any) -> Any:
    """A value JSON can carry: numbers, text, booleans and None as they are, others as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)  # dates, datetimes, times, decimals, bytes
