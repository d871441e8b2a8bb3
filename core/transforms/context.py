"""TransformContext: everything one transformation may use while it runs.

A transformation receives its context and nothing else: typed variables, the run
id, its output contract, the datasets of the other transformations of its
pipeline, secrets by name, a logger, and ``publish``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy.orm import Session

from core.errors import ContractError, NotFoundError, did_you_mean
from core.lake.contract import Contract
from core.lake.dataset_contract import DatasetContract, PublishSummary
from core.lake.raw_contract import RawContract
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
        rows_in: rows read through :meth:`input` so far.
        metadata: what the transformation wants recorded with its task run.
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
    rows_in: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    published: PublishSummary | None = None

    @property
    def logger(self) -> logging.Logger:
        """The logger ``core.transforms.{state}.{template}``."""
        return logging.getLogger(f"core.transforms.{self.state}.{self.template}")

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
    ) -> pa.Table:
        """Another transformation's dataset, as Arrow: this run's rows by default.

        When the upstream transformation did not run in this run (``core run --only``),
        its latest run is read instead, and the log says so.

        Args:
            name: the dataset name.
            state: only look in this state.
            columns: only these columns.
            all_runs: every run's rows, not only this run's.

        Raises:
            NotFoundError: no such dataset in the pipeline.
            LakeError: the dataset cannot be read.
        """
        contract = self.input_contract(name, state)
        if not isinstance(contract, DatasetContract):
            raise ContractError(f"{name!r} is a raw folder, not a dataset: use ctx.raw_inputs()")
        table = contract.fetch_arrow(
            columns=columns, run_id=None if all_runs else self._upstream_run(name, contract)
        )
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

        Raises:
            ContractError: the output is a raw folder (use ``output.put_file``).
            SchemaConflictError: a column changed type (nothing is written).
        """
        if not isinstance(self.output, DatasetContract):
            raise ContractError(
                f"{self.state}/{self.template} writes raw files, not a dataset: "
                "use ctx.output.put_file(...)"
            )
        self.published = self.output.publish(data, self.run_id, self.session, partitions)
        return self.published

    def _upstream_run(self, name: str, contract: DatasetContract) -> int | None:
        upstream = [tid for tid, c in self.contracts.items() if c is contract]
        if upstream and upstream[0] in self.ran_in_this_run:
            return self.run_id
        latest = contract.latest_run_id()
        self.logger.info(
            "dataset %r did not run in run %s; reading its latest run %s", name, self.run_id, latest
        )
        return latest
