"""Typed transformation variables.

A template declares its variables in ``variable_structures``::

    {"delimiter": {"type": "string", "default": ","},
     "skip_rows": {"type": "int", "required": false, "default": 0},
     "dataset": {"type": "string", "check": "dataset_name"}}

``check`` names what the value means (core.models.variable_checks): a dataset
name, one character, a range, a pattern, SQL ... and is checked after the type.

A transformation stores each value as text; :func:`parse_variables` turns the
stored texts into typed values per the schema, and :func:`check_variables`
reports every problem at once for the API to show before anything is saved.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.errors import (
    ConfigurationError,
    ExtraTransformationVariableError,
    MissingTransformationVariableError,
    TransformationVariableError,
    TransformationVariableTypeError,
    VariableSchemaError,
    did_you_mean,
)
from core.models.variable_checks import CheckRef, check_ref

VariableType = Literal["string", "int", "float", "bool", "date", "datetime", "json", "list"]
TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}


class VariableSpec(BaseModel):
    """One declared variable of a template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: VariableType = "string"
    required: bool = True
    default: Any = None
    description: str = ""
    choices: list[Any] | None = None
    check: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _default_has_the_type(self) -> VariableSpec:
        if self.check is not None:
            check_ref(self.check)  # an unknown kind or bad arguments: the spec is invalid
        if self.default is not None:
            value = parse_value(self.type, to_text(self.default))
            refused = self.refuses(value)
            if refused:
                raise ValueError(f"default {self.default!r} is refused by its check: {refused}")
        return self

    @property
    def check_ref(self) -> CheckRef | None:
        """The check this spec names, or None."""
        return None if self.check is None else check_ref(self.check)

    def refuses(self, value: Any) -> str | None:
        """Why a typed value is refused by the spec's check (empty text is no value), or None."""
        ref = self.check_ref
        if ref is None or (value == "" and not self.required):
            return None
        return ref.refuses(value)


def load_schema(structures: Mapping[str, Any] | None, template: str) -> dict[str, VariableSpec]:
    """Validate a template's variable_structures.

    Args:
        structures: the JSON object stored on the template (None means no variables).
        template: the template's name, for messages.

    Returns:
        The declared variables by name.

    Raises:
        VariableSchemaError: the structure is not an object of valid specs.
    """
    if structures is None:
        return {}
    if not isinstance(structures, Mapping):
        raise VariableSchemaError(
            f"template {template!r}: variable_structures must be an object of "
            f"{{name: spec}}, got {type(structures).__name__}"
        )
    schema = {}
    for name, spec in structures.items():
        try:
            schema[name] = VariableSpec.model_validate(spec)
        except (ValidationError, ValueError, ConfigurationError) as exc:
            raise VariableSchemaError(
                f"template {template!r}: variable {name!r} has an invalid spec {spec!r}: "
                f"{_first_message(exc)}; expected keys type ({', '.join(VariableType.__args__)}), "
                "required, default, description, choices, check"
            ) from None
    return schema


def check_variables(
    schema: Mapping[str, VariableSpec], values: Mapping[str, str | None], owner: str
) -> list[TransformationVariableError]:
    """Every problem of a set of stored variable values against a schema.

    Args:
        schema: the template's declared variables.
        values: the stored values by variable name.
        owner: how to name the transformation in messages.

    Returns:
        One error per missing, extra or mistyped variable; empty when all is well.
    """
    problems: list[TransformationVariableError] = []
    for name in sorted(set(values) - set(schema)):
        extra = ExtraTransformationVariableError(
            f"{owner}: variable {name!r}={values[name]!r} is not declared by its template; "
            f"declared: {', '.join(sorted(schema)) or 'none'}." + did_you_mean(name, schema)
        )
        extra.variable = name
        problems.append(extra)
    for name, spec in schema.items():
        try:
            _typed(owner, name, spec, values.get(name))
        except TransformationVariableError as exc:
            exc.variable = name  # which form field the API and UI show it next to
            problems.append(exc)
    return problems


def parse_variables(
    schema: Mapping[str, VariableSpec], values: Mapping[str, str | None], owner: str
) -> dict[str, Any]:
    """Typed variable values, defaults filled in.

    Raises:
        TransformationVariableError: the first problem :func:`check_variables` finds.
    """
    problems = check_variables(schema, values, owner)
    if problems:
        raise problems[0]
    return {name: _typed(owner, name, spec, values.get(name)) for name, spec in schema.items()}


def typed_values(
    schema: Mapping[str, VariableSpec], values: Mapping[str, str | None]
) -> dict[str, Any]:
    """The stored values, each read back as its declared type (what the API shows).

    Unlike :func:`parse_variables`, nothing is refused and no default is filled in:
    a value its schema does not declare, or that does not read as its type, is
    shown as stored (text), so a row saved before a schema changed still shows.
    """
    typed: dict[str, Any] = {}
    for name, text in values.items():
        spec = schema.get(name)
        try:
            typed[name] = text if spec is None or text is None else parse_value(spec.type, text)
        except ValueError:
            typed[name] = text
    return typed


def _typed(owner: str, name: str, spec: VariableSpec, text: str | None) -> Any:
    if text is None:
        if spec.default is not None:
            return parse_value(spec.type, to_text(spec.default))
        if spec.required:
            raise MissingTransformationVariableError(
                f"{owner}: required variable {name!r} ({spec.type}) has no value and no default; "
                "set it on the transformation"
            )
        return None
    try:
        value = parse_value(spec.type, text)
    except ValueError as exc:
        raise TransformationVariableTypeError(
            f"{owner}: variable {name!r}={text!r} is not a valid {spec.type}: {exc}"
        ) from None
    if spec.choices is not None and value not in spec.choices:
        raise TransformationVariableTypeError(
            f"{owner}: variable {name!r}={text!r} is not allowed; expected one of "
            + ", ".join(repr(c) for c in spec.choices)
        )
    refused = spec.refuses(value)
    if refused:
        raise TransformationVariableTypeError(
            f"{owner}: variable {name!r}={text!r} is not valid: {refused}"
        )
    return value


def parse_value(kind: str, text: str) -> Any:
    """Read a stored text as the given variable type.

    Raises:
        ValueError: the text is not a value of that type (message says what is expected).
    """
    return _PARSERS[kind](text)


def to_text(value: Any) -> str:
    """The stored form of a typed value (the inverse of :func:`parse_value`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number such as 3") from None


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected a number such as 0.5") from None


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expected an ISO date such as 2024-01-31") from None


def _parse_datetime(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("expected an ISO date-time such as 2024-01-31T06:00:00") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected JSON ({exc.msg} at position {exc.pos})") from None


def _parse_list(text: str) -> list[Any]:
    value = _parse_json(text) if text.lstrip().startswith("[") else None
    if value is None:
        raise ValueError('expected a JSON list such as ["a", "b"]')
    return value


def _first_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "string": str,
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
    "date": _parse_date,
    "datetime": _parse_datetime,
    "json": _parse_json,
    "list": _parse_list,
}
