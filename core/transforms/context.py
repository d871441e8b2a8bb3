"""TransformContext: everything one transformation may use while it runs.

A transformation receives its context and nothing else: typed variables, the run
id, its output contract, the datasets of the other transformations of its
pipeline, secrets by name, a logger, ``publish`` and ``publish_side``.

A task's outputs commit together or not at all (docs/lake.md): side outputs are
staged and committed by the runtime only after the transformation returned and its
output was committed; when a side output cannot be committed, or the
transformation fails after publishing, this run's rows of the output are put back
as they were (:meth:`TransformContext.revert_output`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy.orm import Session

from core.errors import ContractError, NotFoundError, did_you_mean
from core.lake.contract import Contract
from core.lake.dataset_contract import (
    METADATA_COLUMNS,
    DatasetContract,
    PublishSummary,
    to_arrow,
)
from core.lake.raw_contract import RawContract
from core.lake.run_files import RunFiles, run_files
from core.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from core.secret import Secret

RAW = "raw"


@dataclass
class TransformContext:
    """The context of one transformation in one run.

    Attributes:
        settings: CORE's settings.
        session: a configuration session (for the run's records; transformations
            should not need it).
        transform_id: the transformation's id.
        run_id: the run (RunEvent) id.
        pipeline: the pipeline's name.
        state: the transformation's state (raw, ingest, ...).
        template: the template's name.
        variables: the typed variables, defaults filled in.
        output: the output contract (RawContract in raw, DatasetContract otherwise).
        contracts: the output contracts of every transformation of the pipeline.
        ran_in_this_run: transformation ids that have a task run in this run.
        published_columns: per transformation id, the columns it published in this run
            (recorded with its task run), so that :meth:`input` returns what this run
            wrote, not the columns earlier runs added to the table.
        rows_in: rows read through :meth:`input` so far.
        metadata: what the transformation wants recorded with its task run.
        published: what :meth:`publish` wrote, once it has.
        side_outputs: datasets staged by :meth:`publish_side`, not yet committed.
        checks: the data quality checks of the output dataset (the run's snapshot),
            evaluated by :meth:`publish` before it commits (core.checks).
        record_checks: store their results with the run (False in a development
            context, whose publish is the author's, not the run's).
    """

    settings: Settings
    session: Session
    transform_id: int
    run_id: int
    pipeline: str
    state: str
    template: str
    variables: dict[str, Any]
    output: Contract
    contracts: dict[int, Contract]
    ran_in_this_run: set[int] = field(default_factory=set)
    published_columns: dict[int, list[str] | None] = field(default_factory=dict)
    rows_in: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    published: PublishSummary | None = None
    side_outputs: list[tuple[DatasetContract, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    record_checks: bool = True
    _version_before: int | None = None

    @property
    def logger(self) -> logging.Logger:
        """The logger ``core.transforms.{state}.{template}``."""
        return logging.getLogger(f"core.transforms.{self.state}.{self.template}")

    def note(self, text: str) -> None:
        """Record a line the run summary and the run page show beside this task.

        For what a reader must not miss in a task that succeeded, e.g. "read 1 of 3
        matching files (cumulate_flag is false)".
        """
        self.metadata.setdefault("notes", []).append(text)

    def input_contract(self, name: str, state: str | None = None) -> Contract:
        """The output contract of another transformation of this pipeline.

        Args:
            name: its dataset name (a ``dataset`` variable, else its template's name).
            state: only look in this state.

        Raises:
            NotFoundError: no transformation of the pipeline outputs that dataset.
        """
        matches = [
            (tid, c)
            for tid, c in self.contracts.items()
            if c.dataset == name and state in (None, c.state) and tid != self.transform_id
        ]
        if not matches:
            known = sorted({f"{c.state}/{c.dataset}" for c in self.contracts.values()})
            raise NotFoundError(
                f"pipeline {self.pipeline!r} has no dataset {name!r}"
                f"{f' in state {state!r}' if state else ''}; expected one of "
                f"{', '.join(known)}."
                + did_you_mean(name, [c.dataset or "" for c in self.contracts.values()])
            )
        return matches[0][1]

    def input(
        self,
        name: str,
        state: str | None = None,
        columns: list[str] | None = None,
        all_runs: bool = False,
        metadata: bool = True,
    ) -> pa.Table:
        """Another transformation's dataset, as Arrow: this run's rows by default.

        When the upstream transformation did not run in this run (``core run --only``),
        its latest run is read instead, and the log says so.

        Args:
            name: the dataset name.
            state: only look in this state.
            columns: only these columns.
            all_runs: every run's rows, not only this run's.
            metadata: False leaves out the five standard ``__metadata_*`` columns (run
                id, timestamps, version, contract), which a publish writes anew: the
                standard transforms read without them, at half the time and a third of
                the memory (``__metadata_source_file`` is data and stays).

        Raises:
            NotFoundError: no such dataset in the pipeline.
            LakeError: the dataset cannot be read.
        """
        contract = self._dataset(name, state)
        run = None if all_runs else self._upstream_run(name, contract)
        return self._fetched(name, contract, run, columns, metadata)

    def input_source(self, name: str) -> RunFiles | pa.Table:
        """This run's rows of dataset ``name`` for a reader that can open Parquet files
        itself (DuckDB): the files and the columns to read where core.lake.run_files
        finds them, else the rows as :meth:`input` returns them with ``metadata=False``.

        The files' schema holds the columns that call would return (the standard
        metadata columns and the columns the run did not publish left out); their rows
        are counted by the reader (``rows_in``).

        Raises:
            NotFoundError: no such dataset in the pipeline.
            LakeError: the dataset cannot be read.
        """
        contract = self._dataset(name, None)
        run = self._upstream_run(name, contract)
        if run is None or (found := run_files(contract, run)) is None:
            return self._fetched(name, contract, run, None, metadata=False)
        wanted = [c for c in found.schema.names if c not in METADATA_COLUMNS]
        kept = self._published_only(name, contract, run, wanted)
        return RunFiles(found.paths, pa.schema([found.schema.field(c) for c in kept]))

    def _dataset(self, name: str, state: str | None) -> DatasetContract:
        contract = self.input_contract(name, state)
        if not isinstance(contract, DatasetContract):
            raise ContractError(f"{name!r} is a raw folder, not a dataset: use ctx.raw_inputs()")
        return contract

    def _fetched(
        self,
        name: str,
        contract: DatasetContract,
        run: int | None,
        columns: list[str] | None,
        metadata: bool,
    ) -> pa.Table:
        table = contract.fetch_arrow(columns=columns, run_id=run, metadata=metadata)
        if run is not None:
            kept = self._published_only(name, contract, run, table.column_names)
            table = table.select(kept) if len(kept) < table.num_columns else table
        self.rows_in += table.num_rows
        return table

    def raw_inputs(self) -> list[RawContract]:
        """The raw folders of this pipeline (what raw transformations wrote)."""
        return [c for c in self.contracts.values() if isinstance(c, RawContract)]

    def secret(self, name: str, type_of: str, mode: str = "read", **options: Any) -> Secret:
        """A secret by name, for this environment (with the ``all/`` fallback)."""
        from core.secret import Secret  # only transforms that use secrets pay for the import

        return Secret(name=name, type_of=type_of, mode=mode, settings=self.settings, **options)

    def publish(
        self, data: pd.DataFrame | pa.Table, partitions: list[str] | None = None
    ) -> PublishSummary:
        """Write this run's rows of the output dataset (replacing any earlier attempt's).

        The dataset's checks are evaluated first, on exactly these rows, and recorded.

        Raises:
            ContractError: the output is a raw folder (use ``output.put_file``).
            SchemaConflictError: a column changed type (nothing is written).
            CheckFailedError: an ``error`` check failed (nothing is written).
        """
        if not isinstance(self.output, DatasetContract):
            raise ContractError(
                f"{self.state}/{self.template} writes raw files, not a dataset: "
                "use ctx.output.put_file(...)"
            )
        if self.checks:
            from core.checks.results import gate  # only tasks with checks pay for it

            data = to_arrow(data)
            gate(self, data)
        self.published = self.output.publish(data, self.run_id, self.session, partitions)
        self._version_before = self.published.previous_version
        self.metadata["columns"] = [c for c in _column_names(data) if c not in METADATA_COLUMNS]
        return self.published

    def publish_side(self, contract: DatasetContract, data: pd.DataFrame | pa.Table) -> None:
        """Stage this run's rows of a side output (e.g. value_mapping's rejects).

        Nothing is written now: the runtime commits side outputs after the transformation
        returned and its output was committed, so a failed task leaves them as they were.
        """
        self.side_outputs.append((contract, data))

    def commit_side_outputs(self) -> list[PublishSummary]:
        """Commit the staged side outputs in order (the runtime calls it).

        Raises:
            CoreError: a side output could not be committed (the ones before it are).
        """
        summaries = []
        while self.side_outputs:
            contract, data = self.side_outputs.pop(0)
            summary = contract.publish(data, self.run_id, self.session)
            self.metadata.setdefault("side_outputs", {})[contract.uri] = summary.version
            summaries.append(summary)
        return summaries

    def revert_output(self) -> bool:
        """Put this run's rows of the output back as they were before :meth:`publish`.

        Only this run's rows are touched (other runs may have committed meanwhile): they
        are replaced by the rows the run had in the version before this task's commit,
        or removed when it had none. Returns True when there was something to revert.
        """
        if self.published is None or not isinstance(self.output, DatasetContract):
            return False
        before = self._version_before
        if before is None:  # the table did not exist: none of this run's rows were there
            rows = self.output.fetch_arrow(limit=0)
        else:
            rows = self.output.fetch_arrow(run_id=self.run_id, version=before)
        self.output.publish(rows, self.run_id, self.session)
        self.published = None
        self.logger.warning("this run's rows of %s were put back as they were", self.output.uri)
        return True

    def _published_only(
        self, name: str, contract: DatasetContract, run: int, columns: list[str]
    ) -> list[str]:
        """The columns without those that the run read did not publish.

        A Delta table keeps every column any run added; a run whose file lacked one
        reads it as null. Leaving it out makes a transform that needs it fail by name
        instead of silently producing NULLs (issue 17).
        """
        published = self._columns_published(contract, run)
        if published is None:
            return columns
        kept = [c for c in columns if c in published or c in METADATA_COLUMNS]
        if len(kept) < len(columns):
            self.logger.info(
                "dataset %r: run %s did not publish column(s) %s (earlier runs did); left out",
                name,
                run,
                ", ".join(repr(c) for c in columns if c not in kept),
            )
        return kept

    def _columns_published(self, contract: DatasetContract, run: int) -> set[str] | None:
        upstream = next((tid for tid, c in self.contracts.items() if c is contract), None)
        if upstream is None:
            return None
        if run == self.run_id:
            columns = self.published_columns.get(upstream)
        else:  # the upstream's latest run (it did not run in this one)
            from core.runs import published_columns, task_runs

            row = task_runs(self.session, run).get(upstream)
            self.session.commit()  # no transaction left open while the transform works
            columns = published_columns(row)
        return set(columns) if columns is not None else None

    def _upstream_run(self, name: str, contract: DatasetContract) -> int | None:
        upstream = [tid for tid, c in self.contracts.items() if c is contract]
        if upstream and upstream[0] in self.ran_in_this_run:
            return self.run_id
        latest = contract.latest_run_id()
        self.logger.info(
            "dataset %r did not run in run %s; reading its latest run %s", name, self.run_id, latest
        )
        return latest


def _column_names(data: pd.DataFrame | pa.Table) -> list[str]:
    return list(data.column_names) if isinstance(data, pa.Table) else [str(c) for c in data.columns]
