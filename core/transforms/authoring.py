"""Authoring notebook transforms: a new notebook from the template, registered as a template.

``core transforms new NAME --state STATE`` copies ``transforms/Template.ipynb`` to
``transforms/NAME.ipynb`` and registers a notebook template ``NAME`` whose variables
are the ones its ``parameters`` cell assigns, typed from their example values.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConfigurationError, DuplicateError, NotFoundError, did_you_mean
from core.models import configuration as cfg
from core.names import validate_path_part
from core.settings import Settings
from core.transforms.notebook_validation import IPYTHON_PREFIXES, notebook_path, parameters_cell

TEMPLATE_NOTEBOOK = "Template"
# Set by corebot in a cell of its own: never template variables.
INJECTED = ("transform_id", "run_id")
# The variable type of an example value (bool before int: True is an int too).
LITERAL_TYPES = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "string"),
    (list, "list"),
    (dict, "json"),
)


def new_notebook_template(
    settings: Settings, session: Session, name: str, state: str
) -> tuple[Path, cfg.TransformationTemplate]:
    """Create ``{transforms_dir}/{name}.ipynb`` from the template and register it (committed).

    Raises:
        InvalidNameError: the name is not a valid template name.
        NotFoundError: the state does not exist.
        DuplicateError: a template or a notebook of that name exists already.
        ConfigurationError: the template notebook is missing or its parameters cell is not
            Python.
    """
    validate_path_part(name, "transformation template name")
    state_type = _state_type(session, state)
    if (
        session.scalar(
            select(cfg.TransformationTemplate).where(cfg.TransformationTemplate.name == name)
        )
        is not None
    ):
        raise DuplicateError(
            f"a transformation template named {name!r} exists already; pick another name"
        )
    target, source = notebook_path(settings, name), notebook_path(settings, TEMPLATE_NOTEBOOK)
    if target.exists():
        raise DuplicateError(f"{target} exists already; pick another name or register it")
    variables = notebook_variables(source)
    shutil.copyfile(source, target)
    try:
        template = cfg.TransformationTemplate(
            name=name,
            kind="notebook",
            pipeline_state_type=state_type,
            description=f"Notebook transform {name} (transforms/{name}.ipynb).",
            variable_structures=variables,
        )
        session.add(template)
        session.commit()
    except BaseException:
        target.unlink(missing_ok=True)  # nothing half-made stays behind
        raise
    return target, template


def notebook_variables(path: Path) -> dict[str, dict[str, Any]]:
    """The variables a notebook's parameters cell assigns, typed from their example values.

    Raises:
        ConfigurationError: the notebook cannot be read, has no parameters cell, or the cell
            is not Python.
    """
    import nbformat

    try:
        cell = parameters_cell(nbformat.read(path, as_version=4))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the notebook {path}: {exc}") from exc
    if cell is None:
        raise ConfigurationError(f"{path} has no code cell tagged 'parameters'; tag one")
    lines = [
        "" if line.lstrip().startswith(IPYTHON_PREFIXES) else line
        for line in cell.source.splitlines()
    ]
    try:
        statements = ast.parse("\n".join(lines)).body
    except SyntaxError as exc:
        raise ConfigurationError(f"{path}: the parameters cell is not Python: {exc}") from exc
    return dict(_variable(s) for s in statements if _is_variable(s))


def _is_variable(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
        and statement.targets[0].id not in INJECTED
    )


def _variable(statement: ast.Assign) -> tuple[str, dict[str, Any]]:
    name = statement.targets[0].id  # type: ignore[attr-defined]
    try:
        value = ast.literal_eval(statement.value)
    except ValueError:
        value = None  # an expression, not a literal: a required string
    kind = next((k for t, k in LITERAL_TYPES if isinstance(value, t)), "string")
    spec: dict[str, Any] = {"type": kind, "required": value is None}
    if value is not None:
        spec["default"] = value
    return name, spec


def _state_type(session: Session, state: str) -> cfg.PipelineStateType:
    known = {t.name: t for t in session.scalars(select(cfg.PipelineStateType))}
    if state not in known:
        raise NotFoundError(
            f"no pipeline state {state!r}; expected one of "
            f"{', '.join(sorted(known))}." + did_you_mean(state, known)
        )
    return known[state]
