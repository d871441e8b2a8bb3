"""The ``__metadata_*`` columns that publish stamps on every row of a dataset.

They say which run wrote a row (``__metadata_run_id``: the table is partitioned by it,
so a run's rows are fetched and replaced by their partition), when that run started,
which CORE wrote it, when its transformation published, and into which contract.
Every row of one publish carries the same values (a :class:`Stamp`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

import core

RUN_ID = "__metadata_run_id"
RUN_TIMESTAMP = "__metadata_run_timestamp"
APP_VERSION = "__metadata_app_version"
TRANSFORM_TIMESTAMP = "__metadata_transform_timestamp"
OUTPUT_CONTRACT = "__metadata_output_contract"
METADATA_PREFIX = "__metadata_"
METADATA_COLUMNS = (RUN_ID, RUN_TIMESTAMP, APP_VERSION, TRANSFORM_TIMESTAMP, OUTPUT_CONTRACT)
UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Stamp:
    """The metadata values of one publish, the same for every batch."""

    run_id: int
    run_timestamp: dt.datetime
    transform_timestamp: dt.datetime


def stamped(table: pa.Table, stamp: Stamp, contract: str, encoded: bool = False) -> pa.Table:
    """``table`` with the metadata columns of this publish in place of any it has.

    Args:
        contract: the output contract's key (``__metadata_output_contract``).
        encoded: the columns as one-entry dictionaries (see :func:`constant`).
    """
    table = table.drop_columns([c for c in table.column_names if c in METADATA_COLUMNS])
    values = {
        RUN_ID: pa.scalar(stamp.run_id, pa.int64()),
        RUN_TIMESTAMP: pa.scalar(stamp.run_timestamp, UTC_MICROS),
        APP_VERSION: pa.scalar(core.__version__, pa.string()),
        TRANSFORM_TIMESTAMP: pa.scalar(stamp.transform_timestamp, UTC_MICROS),
        OUTPUT_CONTRACT: pa.scalar(contract, pa.string()),
    }
    for name, value in values.items():
        table = table.append_column(name, constant(value, table.num_rows, encoded))
    return table


def constant(value: pa.Scalar, rows: int, encoded: bool) -> pa.Array:
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
    """``schema`` with the metadata columns as dictionaries (what :func:`constant` builds)."""
    return pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type))
            if field.name in METADATA_COLUMNS
            else field
            for field in schema
        ]
    )


def run_timestamp(session: Any, run_id: int) -> dt.datetime:
    """When the run started (its RunEvent's start, in UTC); now without a session or a start."""
    if session is None:
        return dt.datetime.now(dt.UTC)
    from core.models.runs import RunEvent

    event = session.get(RunEvent, run_id)
    started = getattr(event, "started_at", None)
    if started is None:
        return dt.datetime.now(dt.UTC)
    return started if started.tzinfo else started.replace(tzinfo=dt.UTC)
