"""check_notebook_parameters: what the API reports when a notebook template is saved."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from core.settings import Settings, load_settings
from core.transforms.notebook_validation import assigned_names, check_notebook_parameters

TEMPLATE = Path(__file__).resolve().parents[3] / "transforms" / "Template.ipynb"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(tmp_path / "transforms"))
    (tmp_path / "transforms").mkdir()
    shutil.copy(TEMPLATE, tmp_path / "transforms" / "scaled.ipynb")
    return load_settings()


def _write(settings: Settings, name: str, source: str | None) -> None:
    notebook = v4.new_notebook()
    cell = v4.new_code_cell(source or "x = 1")
    if source is not None:
        cell.metadata["tags"] = ["parameters"]
    notebook.cells = [v4.new_markdown_cell("# about"), cell]
    nbformat.write(notebook, settings.transforms_dir / f"{name}.ipynb")


def test_the_template_declares_its_variables(settings: Settings) -> None:
    assert check_notebook_parameters("scaled", ["source", "factor"], settings) == []
    assert check_notebook_parameters("scaled", [], settings) == []


def test_a_configured_variable_the_cell_does_not_assign_is_reported(settings: Settings) -> None:
    problems = check_notebook_parameters("scaled", ["source", "as_of", "factr"], settings)
    path = settings.transforms_dir / "scaled.ipynb"
    assert problems == [
        f"notebook template 'scaled' ({path}): variable {name!r} is configured but the "
        f"parameters cell does not assign it; add `{name} = <example value>` to the cell "
        "tagged 'parameters'"
        for name in ("as_of", "factr")
    ]


def test_a_missing_notebook_is_reported(settings: Settings) -> None:
    assert check_notebook_parameters("ghost", ["a"], settings) == [
        f"notebook template 'ghost': {settings.transforms_dir / 'ghost.ipynb'} does not exist; "
        "create it from transforms/Template.ipynb, or set CORE_TRANSFORMS_DIR to the folder "
        "holding it"
    ]


def test_a_notebook_without_a_parameters_cell_is_reported(settings: Settings) -> None:
    _write(settings, "untagged", None)
    [problem] = check_notebook_parameters("untagged", ["x"], settings)
    assert "has no code cell tagged 'parameters'" in problem


def test_a_parameters_cell_that_is_not_python_is_reported(settings: Settings) -> None:
    _write(settings, "broken", "x = = 1")
    [problem] = check_notebook_parameters("broken", ["x"], settings)
    assert "the parameters cell is not valid Python (line 1: invalid syntax)" in problem


def test_an_unreadable_notebook_is_reported(settings: Settings) -> None:
    (settings.transforms_dir / "garbage.ipynb").write_text("{not json")
    [problem] = check_notebook_parameters("garbage", ["x"], settings)
    assert "is not a readable notebook" in problem


def test_assignments_of_every_form_are_found_and_magics_ignored() -> None:
    source = "%matplotlib inline\n!ls\nx = 1\ny: int = 2\na, (b, c) = 1, (2, 3)\nd = e = 4\n"
    source += "f += 1\nif True:\n    hidden = 5\nprint(x)\n"
    assert assigned_names(source) == {"x", "y", "a", "b", "c", "d", "e", "f"}
