"""Notebook transforms without a kernel: the template file, settings, parameters, location."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pyarrow as pa
import pytest

from core.errors import SettingsError
from core.lake import DatasetContract
from core.settings import load_settings
from core.transforms.notebook import (
    NotebookError,
    load_context,
    notebook_location,
    notebook_parameters,
    published_since,
)
from core.transforms.notebook_validation import parameters_cell

TEMPLATE = Path(__file__).resolve().parents[3] / "transforms" / "Template.ipynb"


def test_the_template_is_a_valid_v4_notebook_for_the_python3_kernel() -> None:
    notebook = nbformat.read(TEMPLATE, as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.cells[0].cell_type == "markdown"
    cell = parameters_cell(notebook)
    assert "transform_id = None" in cell.source and "run_id = None" in cell.source
    assert all(not c.get("outputs") for c in notebook.cells)  # committed without outputs


def test_notebook_settings_have_defaults_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.transforms_dir == tmp_path.resolve() / "transforms"
    assert (settings.notebook_start_timeout, settings.notebook_execution_timeout) == (60, 3600)
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", "elsewhere")
    monkeypatch.setenv("CORE_NOTEBOOK_EXECUTION_TIMEOUT", "0")
    settings = load_settings()
    assert settings.transforms_dir == tmp_path.resolve() / "elsewhere"
    assert settings.notebook_execution_timeout == 0
    monkeypatch.setenv("CORE_NOTEBOOK_START_TIMEOUT", "0")
    with pytest.raises(SettingsError, match="CORE_NOTEBOOK_START_TIMEOUT='0' is not valid"):
        load_settings()


def _ctx(**variables) -> SimpleNamespace:
    output = DatasetContract("acme", "zentrix", "master", "scaled", settings=load_settings())
    return SimpleNamespace(
        transform_id=7, run_id=42, template="scaled", output=output, variables=variables
    )


def test_parameters_are_the_variables_with_dates_as_iso_strings_then_the_ids() -> None:
    ctx = _ctx(
        as_of=dt.date(2024, 5, 31),
        at=dt.datetime(2024, 5, 31, 8, 30, tzinfo=dt.UTC),
        columns=["a", "b"],
        options={"k": 1},
        factor=1.5,
        transform_id=99,  # the runtime's ids win over a variable of the same name
    )
    assert notebook_parameters(ctx) == {
        "as_of": "2024-05-31",
        "at": "2024-05-31T08:30:00+00:00",
        "columns": ["a", "b"],
        "options": {"k": 1},
        "factor": 1.5,
        "transform_id": 7,
        "run_id": 42,
    }


def test_the_location_is_under_notebooks_then_the_contract_key_and_run() -> None:
    ctx = _ctx()
    assert notebook_location(ctx, 3) == (
        f"{ctx.output.root}/notebooks/dev/acme/zentrix/master/scaled/run_id=42/"
        "scaled_7_attempt3.ipynb"
    )


def test_load_context_without_ids_explains_how_to_work_interactively() -> None:
    with pytest.raises(NotebookError, match="corebot injects them"):
        load_context(None, None)


def test_what_a_kernel_published_is_read_back_from_the_run_s_commit() -> None:
    output = DatasetContract("acme", "zentrix", "master", "scaled", settings=load_settings())
    assert published_since(output, 1, None) is None  # no table yet
    output.publish(pa.table({"n": [1, 2, 3]}), 1)
    summary = published_since(output, 1, None)
    assert (summary.run_id, summary.rows, summary.files, summary.version) == (1, 3, 1, 0)
    assert published_since(output, 1, 0) is None  # nothing since version 0
    output.publish(pa.table({"n": [4]}), 2)  # another run's commit is not this run's
    assert published_since(output, 1, 0) is None
    assert published_since(output, 2, 0).rows == 1
