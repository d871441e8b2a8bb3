"""What one task of one run read and wrote: each dataset's schema, rows and Delta version.

The output's rows and version are the task_runs row's (what the worker recorded);
an input's rows are its rows of this run and its version the table's current one,
read from the Delta log and the run's partition only. A raw folder has no schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy.orm import Session

from core.errors import CoreError
from core.lake.contracts import contract_class
from core.lake.dataset_contract import METADATA_PREFIX, RUN_ID, DatasetContract
from core.lineage.datasets import DatasetRef, TaskLineage
from core.runs import task_runs
from core.settings import Settings


@dataclass(frozen=True)
class DatasetFacts:
    """A dataset as one task of one run saw it.

    Attributes:
        ref: the dataset.
        fields: (column, Arrow type) of its columns, CORE's ``__metadata_*`` left out.
        rows: rows of this run (None when unknown).
        version: the Delta table version (None for a raw folder or an unpublished table).
    """

    ref: DatasetRef
    fields: tuple[tuple[str, str], ...] = ()
    rows: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class TaskFacts:
    """What one task of a run read and wrote, and how it ended (state, one-line error)."""

    lineage: TaskLineage
    run_id: int
    state: str | None
    inputs: tuple[DatasetFacts, ...]
    output: DatasetFacts
    error: str | None = None

    @classmethod
    def before(cls, lineage: TaskLineage, run_id: int) -> TaskFacts:
        """The facts known before the task runs: its datasets, nothing measured."""
        return cls(
            lineage,
            run_id,
            "running",
            tuple(DatasetFacts(ref) for ref in lineage.inputs),
            DatasetFacts(lineage.output),
        )


def contract_of(ref: DatasetRef, settings: Settings) -> object:
    """The contract of a DatasetRef (a RawContract for raw, else a DatasetContract)."""
    return contract_class(ref.state)(
        ref.company, ref.brand, ref.state, ref.dataset, settings=settings
    )


def task_facts(
    settings: Settings, session: Session, lineage: TaskLineage, run_id: int
) -> TaskFacts:
    """The facts of one task of a run (one query for its task_runs row, then the lake).

    Args:
        settings: CORE's settings (the lake).
        session: a configuration session.
        lineage: the task's inputs and output.
        run_id: the run (RunEvent id).

    Returns:
        The inputs' and the output's facts; the output's rows and version as recorded.
    """
    row = task_runs(session, run_id).get(lineage.transformation_id)
    references = (row.output_references or {}) if row is not None else {}
    output = dataset_facts(settings, lineage.output, run_id)
    output = DatasetFacts(
        output.ref,
        output.fields,
        row.rows_out if row is not None else None,
        references.get("version", output.version),
    )
    inputs = tuple(dataset_facts(settings, ref, run_id) for ref in lineage.inputs)
    if row is None:
        return TaskFacts(lineage, run_id, None, inputs, output)
    return TaskFacts(lineage, run_id, row.state, inputs, output, row.error_summary)


def dataset_facts(settings: Settings, ref: DatasetRef, run_id: int) -> DatasetFacts:
    """A dataset's columns, its rows of a run and its current version, from the Delta log.

    A raw folder, or a table not published yet, gives the reference alone: lineage
    is reported for what exists, and never fails the task that reports it.
    """
    contract = contract_of(ref, settings)
    if not isinstance(contract, DatasetContract):
        return DatasetFacts(ref)
    try:
        table = contract.delta_table()
        schema = pa.schema(table.schema())  # delta-rs gives arro3; pyarrow names types plainly
        fields = tuple(
            (f.name, str(f.type)) for f in schema if not f.name.startswith(METADATA_PREFIX)
        )
        rows = contract.fetch_arrow(columns=[RUN_ID], run_id=run_id).num_rows
        return DatasetFacts(ref, fields, rows, table.version())
    except CoreError:  # not published yet, or unreadable: the reference is still lineage
        return DatasetFacts(ref)
