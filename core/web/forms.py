"""Forms generated from a template's variable schema, and reading them back.

Each declared variable becomes one input named ``variables.NAME`` (the field name
InvalidInputError uses, so every problem lands next to its input). The input
fits the type: a number for int and float, a checkbox for bool, a date or
date-time picker, a select when the schema lists choices, a text area for json
and list; the description is the help text and the default the placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from core.models.variables import VariableSpec, load_schema, parse_value, to_text

PREFIX = "variables."
INPUTS = {
    "string": "text",
    "int": "number",
    "float": "number",
    "bool": "checkbox",
    "date": "date",
    "datetime": "datetime-local",
    "json": "textarea",
    "list": "textarea",
}


async def submitted(request: Request) -> FormData:
    """The submitted form, parsed once (the CSRF check reads the same one).

    As a dependency it lets the handlers that use it be plain functions, which FastAPI
    runs in its thread pool, so their database work never blocks the event loop.
    """
    return await request.form()


Submitted = Annotated[FormData, Depends(submitted)]


@dataclass(frozen=True)
class VariableField:
    """One input of a variables form."""

    name: str
    type: str
    input: str
    value: str
    placeholder: str
    description: str
    required: bool
    choices: tuple[str, ...] = ()
    step: str | None = None

    @property
    def field(self) -> str:
        """The input's name, and the field its problems are reported under."""
        return PREFIX + self.name

    @property
    def checked(self) -> bool:
        """For a checkbox: whether the value is true."""
        return self.value.strip().lower() in ("true", "yes", "1", "on")


def variable_fields(
    structures: Mapping[str, Any] | None, template: str, values: Mapping[str, str | None]
) -> list[VariableField]:
    """The inputs of a template's variables, filled with the given values.

    Args:
        structures: the template's variable_structures.
        template: the template's name (for messages about a broken schema).
        values: the stored (or just submitted) values, as text.

    Returns:
        One field per declared variable, in the schema's order.

    Raises:
        VariableSchemaError: the template's schema is invalid.
    """
    return [
        _field(name, spec, values.get(name))
        for name, spec in load_schema(structures, template).items()
    ]


def _field(name: str, spec: VariableSpec, value: str | None) -> VariableField:
    default = "" if spec.default is None else to_text(spec.default)
    kind = "select" if spec.choices is not None else INPUTS[spec.type]
    step = {"int": "1", "float": "any"}.get(spec.type)
    if spec.type == "bool" and value is None:
        value = default
    return VariableField(
        name=name,
        type=spec.type,
        input=kind,
        value=value or "",
        placeholder=default,
        description=spec.description,
        required=spec.required and spec.default is None,
        choices=tuple(to_text(c) for c in spec.choices or ()),
        step=step,
    )


def undeclared(structures: Mapping[str, Any] | None, values: Mapping[str, Any]) -> list[str]:
    """Stored variables the template does not declare (saving the form drops them)."""
    return sorted(set(values) - set(structures or {}))


def variables_from_form(
    structures: Mapping[str, Any] | None, template: str, form: Mapping[str, Any]
) -> dict[str, str]:
    """The variable values a submitted form sets, as text.

    An empty input is left out, so the default applies (or "required" is reported);
    an unchecked checkbox is ``false``, and a checkbox left at its default is left out.

    Raises:
        VariableSchemaError: the template's schema is invalid.
    """
    values: dict[str, str] = {}
    for name, spec in load_schema(structures, template).items():
        raw = form.get(PREFIX + name)
        if spec.type == "bool" and spec.choices is None:
            checked = raw not in (None, "", "false")
            default = None if spec.default is None else parse_value("bool", to_text(spec.default))
            if checked != default:  # a box left at its default needs no value
                values[name] = "true" if checked else "false"
        elif isinstance(raw, str) and raw.strip():
            values[name] = raw if spec.type in ("string", "json", "list") else raw.strip()
    return values
