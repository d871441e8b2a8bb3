"""Checks of a notebook transform's file, for the API to run when a template is saved.

A notebook template ``NAME`` is the file ``{settings.transforms_dir}/NAME.ipynb``. Its
cell tagged ``parameters`` must assign every variable the template configures, so
that the notebook also runs in Jupyter with its example values, and so that a
misspelt variable is caught when it is saved rather than when it runs.
Importing this module does not import papermill or start anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.settings import Settings

PARAMETERS_TAG = "parameters"
# IPython syntax that is not Python: magics, shell escapes, help.
IPYTHON_PREFIXES = ("%", "!", "?")


def notebook_path(settings: Settings, template_name: str) -> Path:
    """The notebook file of a notebook template: ``{transforms_dir}/{template_name}.ipynb``."""
    return Path(settings.transforms_dir or "transforms") / f"{template_name}.ipynb"


def check_notebook_parameters(
    template_name: str, variable_names: Iterable[str], settings: Settings
) -> list[str]:
    """Every problem of a notebook template's parameters cell, as sentences.

    Args:
        template_name: the template's name (the notebook is ``{name}.ipynb``).
        variable_names: the variables the template configures.
        settings: CORE's settings (for ``transforms_dir``).

    Returns:
        One message per problem: the notebook is missing or unreadable, it has no
        cell tagged ``parameters``, the cell is not valid Python, or a configured
        variable is not assigned there. Empty when all is well.
    """
    path = notebook_path(settings, template_name)
    if not path.is_file():
        return [
            f"notebook template {template_name!r}: {path} does not exist; create it from "
            "transforms/Template.ipynb, or set CORE_TRANSFORMS_DIR to the folder holding it"
        ]
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:  # nbformat's NotJSONError is a ValueError
        return [f"notebook template {template_name!r}: {path} is not a readable notebook: {exc}"]
    return _check_cell(template_name, path, parameters_cell(notebook), list(variable_names))


def parameters_cell(notebook: Any) -> Any | None:
    """The first code cell tagged ``parameters``, or None."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.metadata.get("tags", []):
            return cell
    return None


def assigned_names(source: str) -> set[str]:
    """The names a cell assigns at top level (``x = 1``, ``x: int = 1``, ``a, b = …``).

    Raises:
        SyntaxError: the cell is not valid Python (IPython magics are ignored).
    """
    lines = [
        "" if line.lstrip().startswith(IPYTHON_PREFIXES) else line for line in source.splitlines()
    ]
    names: set[str] = set()
    for statement in ast.parse("\n".join(lines)).body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            targets = [statement.target]
        for target in targets:
            names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _check_cell(template: str, path: Path, cell: Any | None, variables: list[str]) -> list[str]:
    where = f"notebook template {template!r} ({path})"
    if cell is None:
        return [
            f"{where} has no code cell tagged {PARAMETERS_TAG!r}; tag the cell that assigns "
            "transform_id, run_id and the variables (Jupyter: the cell's property inspector)"
        ]
    try:
        declared = assigned_names(cell.source)
    except SyntaxError as exc:
        return [f"{where}: the parameters cell is not valid Python (line {exc.lineno}: {exc.msg})"]
    return [
        f"{where}: variable {name!r} is configured but the parameters cell does not assign it; "
        f"add `{name} = <example value>` to the cell tagged {PARAMETERS_TAG!r}"
        for name in variables
        if name not in declared
    ]
