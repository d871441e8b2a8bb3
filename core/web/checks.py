"""What the check forms show: a form read back, an example per kind, a dataset's checks,
and a check tried before it is saved (a run's results: ``core.web.check_results``).

Plain functions of plain values: the routes (``core.web.routes.checks`` and the
pipeline page) parse a request, call one of these and render what it returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.checks.evaluate import CheckSpec, Outcome, arguments_text
from core.checks.kinds import KINDS
from core.errors import ConfigurationError, InvalidInputError, LakeError
from core.plan.model import PipelinePlan, output_dataset
from core.service import catalog, resources
from core.service.checks import run_with_rows, try_checks
from core.settings import Settings
from core.web import lookups
from core.web.check_results import as_rows, example_columns

# Example arguments of each kind: the form's placeholder, and its help.
ARGUMENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "not_null": {"columns": ["patient_id"]},
    "unique": {"columns": ["patient_id", "status_date"]},
    "accepted_values": {"column": "status", "values": ["active", "paused"]},
    "range": {"column": "quantity", "min": 0, "max": 1000},
    "row_count": {"min": 1},
    "row_count_change": {"max_drop_pct": 20, "max_rise_pct": 50},
    "schema": {"columns": {"patient_id": "string", "quantity": "integer"}, "allow_extra": True},
    "relationship": {"column": "patient_id", "to": "patients.patient_id"},
    "freshness": {"column": "status_date", "max_age": "36h"},
    "sql": {"predicate": "quantity >= 0"},
}
FIELDS = ("kind", "arguments", "severity", "description", "run_id")


@dataclass(frozen=True)
class KindChoice:
    """One kind as the form offers it: its name, what it checks, example arguments."""

    name: str
    summary: str
    example: str


def kind_choices() -> list[KindChoice]:
    """Every kind of check, in the registry's order."""
    return [kind_choice(name) for name in KINDS]


def kind_choice(name: str) -> KindChoice:
    """One kind (an unknown name gets no summary or example)."""
    kind = KINDS.get(name)
    example = ARGUMENT_EXAMPLES.get(name)
    return KindChoice(
        name,
        kind.summary if kind else "",
        json.dumps(example) if example is not None else "{}",
    )


@dataclass(frozen=True)
class CheckForm:
    """A check form's values as typed (text), shown again when it is refused."""

    kind: str = "not_null"
    arguments: str = ""
    severity: str = "error"
    description: str = ""
    version: str = ""
    run_id: str = ""

    @classmethod
    def of(cls, form: Mapping[str, Any]) -> CheckForm:
        """The values a submitted form holds."""

        def text(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            kind=text("kind").strip(),
            arguments=text("arguments"),
            severity=text("severity").strip(),
            description=text("description").strip(),
            version=text("version").strip(),
            run_id=text("run_id").strip(),
        )

    @classmethod
    def of_check(cls, check: Any) -> CheckForm:
        """The values of a saved check (a DatasetCheck)."""
        return cls(
            kind=check.kind,
            arguments=json.dumps(check.arguments or {}, indent=1),
            severity=check.severity,
            description=check.description or "",
            version=str(check.version),
        )

    def values(self) -> dict[str, Any]:
        """The check's columns for ``core.service.resources`` (arguments as JSON).

        Raises:
            InvalidInputError: the arguments are not JSON.
        """
        return {
            "kind": self.kind,
            "arguments": self.parsed_arguments(),
            "severity": self.severity,
            "description": self.description or None,
        }

    def parsed_arguments(self) -> Any:
        """The arguments text as JSON ({} when empty: the kind then names what it needs).

        Raises:
            InvalidInputError: the text is not JSON.
        """
        if not self.arguments.strip():
            return {}
        try:
            return json.loads(self.arguments)
        except json.JSONDecodeError as exc:
            example = kind_choice(self.kind).example
            message = (
                f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): expected "
                f"an object of argument names to values, such as {example}"
            )
            raise InvalidInputError([("arguments", self.arguments, message)]) from None

    def spec(self) -> CheckSpec:
        """The unsaved check these values describe (for Try it).

        Raises:
            InvalidInputError: the arguments are not JSON.
        """
        arguments = self.parsed_arguments()
        if not isinstance(arguments, dict):
            message = f"expected an object of argument names to values, such as {self.example}"
            raise InvalidInputError([("arguments", arguments, message)])
        return CheckSpec(None, self.kind, arguments, self.severity, self.description or None)

    @property
    def choice(self) -> KindChoice:
        """The chosen kind, with its summary and example arguments."""
        return kind_choice(self.kind)

    @property
    def example(self) -> str:
        """Example arguments of the chosen kind."""
        return self.choice.example

    @property
    def version_number(self) -> int | None:
        """The version the form was read at, or None."""
        return int(self.version) if self.version.isdigit() else None


def form_errors(problems: Iterable[tuple[str, object, str]]) -> dict[str, list[str]]:
    """Problems grouped by the form's fields; an argument's problem names the argument.

    ``arguments.columns`` lands next to the arguments box as ``columns: …`` (with the
    value, when it is a plain one); fields the form does not have keep their name and
    show in the banner above it.
    """
    grouped: dict[str, list[str]] = {}
    for name, value, message in problems:
        top, _, sub = name.partition(".")
        if top == "arguments" and sub:
            shown = f" = {json.dumps(value)}" if isinstance(value, str | int | float) else ""
            message = f"{sub}{shown}: {message}"
        grouped.setdefault(top if top in FIELDS else name, []).append(message)
    return grouped


@dataclass(frozen=True)
class CheckRow:
    """A saved check as its dataset's list shows it."""

    id: int
    kind: str
    arguments: str
    severity: str
    description: str | None


@dataclass(frozen=True)
class DatasetChecks:
    """A transformation that writes a dataset, with its checks."""

    transformation_id: int
    template: str
    state: str
    dataset: str
    key: str
    checks: list[CheckRow]


def dataset_checks(plan: PipelinePlan) -> list[DatasetChecks]:
    """The pipeline's datasets (every task but the raw state's) and their checks.

    The plan already carries each task's checks, so this reads nothing more.
    """
    return [
        DatasetChecks(
            task.transformation_id,
            task.template,
            task.state,
            task.dataset or task.template,
            f"{plan.company}/{plan.brand}/{task.state}/{task.dataset or task.template}",
            [
                CheckRow(
                    c["id"],
                    c["kind"],
                    arguments_text(c.get("arguments")),
                    c["severity"],
                    c.get("description"),
                )
                for c in task.checks
            ],
        )
        for task in plan.tasks
        if task.state != "raw"
    ]


@dataclass(frozen=True)
class Owner:
    """Where a transformation's checks belong: its pipeline, state and dataset."""

    transformation_id: int
    template: str
    pipeline_id: int
    pipeline_name: str
    state: str
    dataset: str


def owner_of(session: Session, transformation_id: int) -> Owner:
    """The pipeline, state and output dataset of a transformation (two queries).

    Raises:
        NotFoundError: no such transformation.
    """
    row = resources.get_row(session, catalog.TRANSFORMATIONS, transformation_id)
    template = row.transformation_template
    pipeline_id, pipeline_name, state = lookups.pipeline_of_state(session, row.pipeline_state_id)
    dataset = output_dataset(template.name, template.variable_structures, row.stored_variables)
    return Owner(transformation_id, template.name, pipeline_id, pipeline_name, state, dataset)


@dataclass(frozen=True)
class Tried:
    """What trying an unsaved check found, or why it was not evaluated (nothing saved)."""

    outcome: Outcome | None = None
    arguments: str = ""
    dataset: str = ""
    run_id: int | None = None
    rows: int = 0
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def examples(self) -> list[dict[str, Any]]:
        """The outcome's example rows."""
        return as_rows(self.outcome.examples if self.outcome else [])

    @property
    def columns(self) -> list[str]:
        """The columns of the outcome's examples."""
        return example_columns(self.examples)


def try_check(
    settings: Settings, session: Session, transformation_id: int, form: CheckForm
) -> Tried:
    """Evaluate the form's check on a published run of the transformation's dataset.

    The run is the one the form names, else the latest with rows. Nothing is recorded.

    Returns:
        The outcome; or why there is none (input problems by field, a dataset never
        published, a run without rows of it, a lake that cannot be read).
    """
    try:
        spec = form.spec()
        run_id = published_run(settings, session, transformation_id, form.run_id)
        tried = try_checks(settings, session, transformation_id, run_id, [spec])
    except InvalidInputError as exc:
        return Tried(errors=form_errors(exc.problems))
    except (ConfigurationError, LakeError) as exc:
        return Tried(message=str(exc))
    arguments = arguments_text(spec.arguments)
    return Tried(tried.outcomes[0], arguments, tried.dataset, tried.run_id, tried.rows)


def published_run(settings: Settings, session: Session, transformation_id: int, text: str) -> int:
    """The run the form names (it must have rows of the dataset), else the latest one.

    Raises:
        InvalidInputError: the run id is not a whole number.
        NotFoundError, ConfigurationError: as ``core.service.checks.run_with_rows``.
    """
    if text and not text.isdigit():
        message = "expected a run id, a whole number such as 12 (empty: the latest run)"
        raise InvalidInputError([("run_id", text, message)])
    return run_with_rows(settings, session, transformation_id, int(text) if text else None)
