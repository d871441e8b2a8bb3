"""The pipeline check: every problem of a whole pipeline, before it is saved or run.

Two layers, one path for every edge (API, UI, ``core``, the LocalRunner, "Run now"
and the Airflow DAG):

- each transformation's variables against its template's spec: the type and what
  the value means (``core.models.variable_checks``);
- the checks across transformations: no two write the same dataset; every
  ``input``/``inputs`` names a dataset that an earlier group writes (raw folders only
  where the spec allows them); every table a ``sql`` query reads is in its inputs.

:func:`cross_problems` is also what a save runs (``core.service.catalog``) to refuse a
change that would break another transformation, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConfigurationError, ConflictError, did_you_mean
from core.models import configuration as cfg
from core.models.configuration import transformation_label
from core.models.variable_checks import InputArgs, SqlArgs, undeclared_tables
from core.models.variables import VariableSpec, check_variables, load_schema, parse_value, to_text
from core.plan.model import DATASET_VARIABLE, PipelinePlan, output_dataset

RAW_STATE = "raw"
NEW_LAST = 2**63
Schemas = Mapping[str, Mapping[str, VariableSpec] | ConfigurationError]


@dataclass(frozen=True)
class CheckedTask:
    """One transformation as the check sees it.

    Attributes:
        order: a sort key; a smaller one runs earlier, equal ones run in parallel.
    """

    transformation_id: int | None
    template: str
    state: str
    graph_order: int
    order: tuple[int, ...]
    variables: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name it: ``transformation 12 (sql)`` or ``new transformation (sql)``."""
        return transformation_label(self.transformation_id, self.template)


@dataclass(frozen=True)
class CheckProblem:
    """One problem: which transformation, which field, the value and what was expected."""

    transformation_id: int | None
    transformation: str
    state: str
    field: str
    value: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-able data."""
        return asdict(self)


@dataclass(frozen=True)
class PipelineCheck:
    """The result of checking one pipeline."""

    pipeline_id: int
    pipeline: str
    problems: list[CheckProblem]

    @property
    def ok(self) -> bool:
        """Whether the pipeline has no problem."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-able data (the API's body)."""
        return {
            "pipeline_id": self.pipeline_id,
            "pipeline": self.pipeline,
            "ok": self.ok,
            "problems": [p.to_dict() for p in self.problems],
        }

    def summary(self) -> str:
        """Every problem, one per line."""
        return "\n".join(f"- {p.transformation}: {p.field}: {p.message}" for p in self.problems)


class PipelineCheckError(ConflictError):
    """A pipeline fails its check, so it is not run (exit code 2, HTTP 409)."""

    def __init__(self, check: PipelineCheck) -> None:
        self.check = check
        count = len(check.problems)
        super().__init__(
            f"pipeline {check.pipeline!r} fails its check ({count} problem"
            f"{'s' if count > 1 else ''}), so it was not started:\n{check.summary()}\n"
            f"fix them and run it again (`core pipelines check {check.pipeline}` lists them)"
        )


def check_plan(session: Session, plan: PipelinePlan) -> PipelineCheck:
    """Every problem of a pipeline's plan, against the templates' specs the plan holds.

    A run's snapshot is checked against the specs it was pinned with (its workers run
    with those), not the templates as they are now; a plan without them (an old
    snapshot) is checked against the templates' (one query).
    """
    tasks = tasks_of_plan(plan)
    schemas: dict[str, Any] = {}
    for task in plan.tasks:
        if task.variable_structures is not None and task.template not in schemas:
            try:
                schemas[task.template] = load_schema(task.variable_structures, task.template)
            except ConfigurationError as exc:
                schemas[task.template] = exc
    missing = {t.template for t in tasks} - set(schemas)
    if missing:
        schemas.update(load_schemas(session, missing))
    return PipelineCheck(plan.pipeline_id, plan.name, check_tasks(tasks, schemas))


def require_check(session: Session, plan: PipelinePlan) -> None:
    """Refuse to start a run of a pipeline that fails its check.

    Raises:
        PipelineCheckError: listing every problem.
    """
    check = check_plan(session, plan)
    if not check.ok:
        raise PipelineCheckError(check)


def tasks_of_plan(
    plan: PipelinePlan, state_orders: Mapping[str, tuple[int, ...]] | None = None
) -> list[CheckedTask]:
    """The plan's transformations as CheckedTasks, ordered by their group.

    Args:
        state_orders: the sort key of each state by name; the group's step when None.
    """
    return [
        CheckedTask(
            task.transformation_id,
            task.template,
            task.state,
            task.graph_order,
            (group.step,)
            if state_orders is None
            else (*state_orders[task.state], task.graph_order),
            task.variables,
        )
        for group in plan.groups
        for task in group.tasks
    ]


def load_schemas(session: Session, templates: Iterable[str]) -> dict[str, Any]:
    """Each named template's variable schema (or the error of a broken one), one query."""
    T = cfg.TransformationTemplate
    query = select(T.name, T.variable_structures).where(T.name.in_(sorted(set(templates))))
    schemas: dict[str, Any] = {}
    for name, structures in session.execute(query):
        try:
            schemas[name] = load_schema(structures, name)
        except ConfigurationError as exc:
            schemas[name] = exc
    return schemas


def check_tasks(tasks: Sequence[CheckedTask], schemas: Schemas) -> list[CheckProblem]:
    """Every problem of a pipeline's transformations: each one's variables, then across them."""
    problems: list[CheckProblem] = []
    for task in tasks:
        schema = schemas.get(task.template)
        if not isinstance(schema, Mapping):
            why = schema or f"template {task.template!r} does not exist"
            problems.append(_problem(task, "transformation_template_id", task.template, str(why)))
            continue
        for error in check_variables(schema, task.variables, task.label):
            name = getattr(error, "variable", None) or ""
            problems.append(
                _problem(task, f"variables.{name}", task.variables.get(name), str(error), raw=True)
            )
    return problems + cross_problems(tasks, schemas)


def cross_problems(tasks: Sequence[CheckedTask], schemas: Schemas) -> list[CheckProblem]:
    """The problems between transformations: duplicate outputs, inputs, SQL tables."""
    # A new transformation (no id yet) comes after the saved ones of its group, so a
    # clash with one of them is its problem.
    ordered = sorted(tasks, key=lambda t: (t.order, t.transformation_id or NEW_LAST))
    writers: dict[str, list[CheckedTask]] = {}
    for task in ordered:
        writers.setdefault(output_name(task, _schema(schemas, task)), []).append(task)
    problems = _duplicates(writers, schemas)
    # What a message offers as inputs: datasets named by a `dataset` variable.
    known = sorted(
        n
        for n, ws in writers.items()
        if any(w.state != RAW_STATE and DATASET_VARIABLE in _schema(schemas, w) for w in ws)
    )
    for task in ordered:
        schema = _schema(schemas, task)
        for name, spec in schema.items():
            ref = spec.check_ref
            if ref is None:
                continue
            value = _typed(spec, task.variables.get(name))
            if ref.kind in ("input", "inputs") and value:
                names = value if isinstance(value, list) else [value]
                problems += _inputs(task, name, names, ref.args, writers, known)
            elif ref.kind == "sql":
                problems += _tables(task, name, value, schema, ref.args)
    return problems


def output_name(task: CheckedTask, schema: Mapping[str, VariableSpec]) -> str:
    """The dataset a transformation writes: its ``dataset`` variable when its template
    declares one and it is set, else the template's name (as ``core.lake.contracts``)."""
    structures = None
    if DATASET_VARIABLE in schema:  # the spec's default, as the plan's structures hold it
        default = schema[DATASET_VARIABLE].default
        structures = {DATASET_VARIABLE: {"default": None if default is None else to_text(default)}}
    return output_dataset(task.template, structures, task.variables)


def _duplicates(writers: dict[str, list[CheckedTask]], schemas: Schemas) -> list[CheckProblem]:
    """Two transformations writing one dataset (those whose template declares ``dataset``)
    or one raw folder (raw transformations write a folder named after their template).
    Other templates (exports, noop) write nothing to the lake under their name."""
    problems = []
    for dataset, all_tasks in writers.items():
        tasks = [
            t for t in all_tasks if t.state == RAW_STATE or DATASET_VARIABLE in _schema(schemas, t)
        ]
        first = tasks[0] if tasks else None
        for task in tasks[1:]:
            assert first is not None
            declared = DATASET_VARIABLE in _schema(schemas, task)
            problems.append(
                _problem(
                    task,
                    f"variables.{DATASET_VARIABLE}" if declared else "transformation_template_id",
                    dataset,
                    f"writes dataset {dataset!r}, which {first.label} in state {first.state!r} "
                    "writes too; expected a dataset name no other transformation of this "
                    "pipeline writes"
                    + ("" if declared else " (this template names its output after itself)"),
                )
            )
    return problems


def _inputs(
    task: CheckedTask,
    variable: str,
    names: list[Any],
    args: Any,
    writers: dict[str, list[CheckedTask]],
    known: list[str],
) -> list[CheckProblem]:
    allow_raw = isinstance(args, InputArgs) and args.raw
    problems = []
    for name in names:
        why = _input_refused(task, str(name), allow_raw, writers, known)
        if why:
            problems.append(_problem(task, f"variables.{variable}", name, why))
    return problems


def _input_refused(
    task: CheckedTask,
    name: str,
    allow_raw: bool,
    writers: dict[str, list[CheckedTask]],
    known: list[str],
) -> str | None:
    found = [w for w in writers.get(name, []) if w is not task]
    if not found:
        return (
            f"reads dataset {name!r}, which no other transformation of this pipeline writes; "
            f"expected one of {', '.join(map(repr, known)) or 'none yet'}."
            + did_you_mean(name, known)
        )
    writer = found[0]
    if writer.state == RAW_STATE and not allow_raw:
        return (
            f"reads {name!r}, the raw folder of files that {writer.label} writes, not a dataset; "
            "expected a dataset (raw files are read by initial_ingest)"
        )
    if writer.order == task.order:
        return (
            f"reads dataset {name!r}, which {writer.label} writes in the same group (state "
            f"{writer.state!r}, graph_order {writer.graph_order}), so it is not ready when this "
            "one starts; expected a higher graph_order for the reader"
        )
    if writer.order > task.order:
        return (
            f"reads dataset {name!r}, which {writer.label} writes later (state {writer.state!r}, "
            f"graph_order {writer.graph_order}); expected a dataset written in an earlier state "
            "or group"
        )
    return None


def _tables(
    task: CheckedTask, variable: str, query: Any, schema: Mapping[str, VariableSpec], args: Any
) -> list[CheckProblem]:
    inputs_name = args.inputs if isinstance(args, SqlArgs) else "inputs"
    declared = (
        _typed(schema[inputs_name], task.variables.get(inputs_name))
        if (inputs_name in schema)
        else []
    )
    declared = declared if isinstance(declared, list) else []
    try:
        missing = undeclared_tables(query, declared)
    except ValueError:
        return []  # the variable's own check reports it
    if not missing:
        return []
    return [
        _problem(
            task,
            f"variables.{variable}",
            query,
            f"reads table(s) {', '.join(map(repr, missing))} that {inputs_name} does not "
            f"declare ({declared!r}); expected every table the query reads to be listed in "
            f"{inputs_name}." + "".join(did_you_mean(m, declared) for m in missing),
        )
    ]


def _schema(schemas: Schemas, task: CheckedTask) -> Mapping[str, VariableSpec]:
    schema = schemas.get(task.template)
    return schema if isinstance(schema, Mapping) else {}


def _typed(spec: VariableSpec, text: str | None) -> Any:
    """The typed value, the default when unset, or None when it does not parse."""
    if text is None:
        return spec.default
    try:
        return parse_value(spec.type, text)
    except ValueError:
        return None


def _problem(
    task: CheckedTask, where: str, value: Any, message: str, raw: bool = False
) -> CheckProblem:
    text = message if raw else f"{task.label}: {message}"
    return CheckProblem(task.transformation_id, task.label, task.state, where, value, text)
