"""The datasets a plan's tasks read and write, named the way Airflow and OpenLineage name them.

A transformation writes its output contract (its ``dataset`` variable, else its
template's name, in its state). It reads the datasets its variables name: the
standard transforms' ``input`` and ``bridge_dataset`` (one name) and ``inputs`` (a
JSON list of names), each resolved as ``ctx.input`` resolves it (the first other
transformation of the pipeline that outputs that name); an ``ingest`` task that
names none reads the pipeline's raw folders, as ``ctx.raw_inputs()`` does.

One address, three spellings (see docs/lineage.md):

- asset URI (Airflow): ``file:///lake/root/{branch}/{company}/{brand}/{state}/{dataset}``
  for a local lake, ``s3://bucket/prefix/{branch}/...`` on S3;
- OpenLineage: namespace ``file`` and the path, or ``s3://bucket`` and the key (what
  Airflow's common-io and Amazon providers make of the same asset URIs).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from core.lake.contract import RAW_STATE, Contract
from core.lake.contracts import contract_class
from core.lake.storage import scheme_of
from core.plan import PipelinePlan, TaskSpec
from core.plan.model import output_dataset as plan_output_dataset
from core.settings import Settings

# Variables of the standard transforms that name an upstream dataset of the pipeline.
SINGLE_INPUT_VARIABLES = ("input", "bridge_dataset")
LIST_INPUT_VARIABLES = ("inputs",)
INGEST_STATE = "ingest"
ASSET_GROUP = "core"


@dataclass(frozen=True)
class DatasetRef:
    """One dataset of the lake: where it is and what it is called outside CORE.

    Attributes:
        company: the pharmaceutical company.
        brand: the brand.
        state: the lake state (raw, ingest, ...).
        dataset: the dataset's name.
        uri: the asset URI (``file:///...`` or ``s3://bucket/key``).
    """

    company: str
    brand: str
    state: str
    dataset: str
    uri: str

    @property
    def key(self) -> str:
        """``{company}/{brand}/{state}/{dataset}``: how CORE's UI and CLI name it."""
        return f"{self.company}/{self.brand}/{self.state}/{self.dataset}"

    @property
    def openlineage_namespace(self) -> str:
        """``file`` for a local lake, ``s3://bucket`` on S3."""
        if self.uri.startswith("file://"):
            return "file"
        return "s3://" + self.uri.removeprefix("s3://").split("/", 1)[0]

    @property
    def openlineage_name(self) -> str:
        """The absolute path (local) or the key below the bucket (S3)."""
        if self.uri.startswith("file://"):
            return self.uri.removeprefix("file://")
        return self.uri.removeprefix("s3://").split("/", 1)[1]

    @property
    def is_raw(self) -> bool:
        """Whether this is a raw folder of files rather than a Delta table."""
        return self.state == RAW_STATE


@dataclass(frozen=True)
class TaskLineage:
    """What one task of a plan reads and writes."""

    task_id: str
    transformation_id: int
    inputs: tuple[DatasetRef, ...]
    output: DatasetRef


def asset_uri(contract: Contract) -> str:
    """A contract's stable asset URI: ``file://`` + absolute path, or ``s3://bucket/key``."""
    scheme = scheme_of(contract.uri)
    if scheme in ("", "file"):
        return "file://" + contract.uri.removeprefix("file://")
    return "s3://" + contract.uri.split("://", 1)[1]


def dataset_ref(contract: Contract) -> DatasetRef:
    """The DatasetRef of a contract."""
    return DatasetRef(
        contract.parent, contract.child, contract.state, contract.dataset or "", asset_uri(contract)
    )


def output_dataset(task: TaskSpec) -> str:
    """The name of a task's output dataset, as its plan names it (core.plan.model)."""
    return task.dataset or plan_output_dataset(
        task.template, task.variable_structures, task.variables
    )


def input_names(task: TaskSpec) -> list[str]:
    """The dataset names a task's variables name as its inputs, in order, without repeats."""
    names: list[str] = []
    for variable in SINGLE_INPUT_VARIABLES:
        value = task.variables.get(variable)
        if value:
            names.append(str(value))
    for variable in LIST_INPUT_VARIABLES:
        names += _name_list(task.variables.get(variable))
    return list(dict.fromkeys(names))


def _name_list(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return [value]
    if isinstance(parsed, list):
        return [str(item) for item in parsed if item]
    return [str(parsed)]


def plan_lineage(plan: PipelinePlan, settings: Settings) -> dict[int, TaskLineage]:
    """What every task of a plan reads and writes, by transformation id.

    Args:
        plan: the pipeline's plan.
        settings: CORE's settings (the lake root and branch of the addresses).

    Returns:
        Transformation id -> its lineage, in run order. Names that no other task of
        the pipeline outputs are left out (the worker says so when it runs).
    """
    outputs = {
        task.transformation_id: dataset_ref(
            contract_class(task.state)(
                plan.company, plan.brand, task.state, output_dataset(task), settings=settings
            )
        )
        for task in plan.tasks
    }
    raw = [ref for ref in outputs.values() if ref.is_raw]
    lineage: dict[int, TaskLineage] = {}
    for task in plan.tasks:
        names = input_names(task)
        inputs = _resolve(names, task.transformation_id, outputs)
        if not names and task.state == INGEST_STATE:
            inputs = raw
        lineage[task.transformation_id] = TaskLineage(
            task.task_id, task.transformation_id, tuple(inputs), outputs[task.transformation_id]
        )
    return lineage


def _resolve(names: Iterable[str], own_id: int, outputs: dict[int, DatasetRef]) -> list[DatasetRef]:
    found: list[DatasetRef] = []
    for name in names:
        match = next((r for tid, r in outputs.items() if r.dataset == name and tid != own_id), None)
        if match is not None:
            found.append(match)
    return found
