"""The reliability suite's fixtures: the API and UI tests' app, users and signed-in clients.

``settings`` is the API tests' one (a fresh copy of the seeded database), with a
folder of notebook transforms holding ``report.ipynb`` (its parameters cell assigns
``dataset`` only), so that notebook templates can be checked against a real file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from core.settings import Settings, load_settings
from tests.unit.web.conftest import *  # noqa: F403 - app, client, users, sign_in, ...

NOTEBOOK_PARAMETERS = "dataset = 'example'\n"


@pytest.fixture
def settings(
    core_env: Path, seeded_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Dev settings on a fresh copy of the seeded database, with a notebook transforms folder."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(NOTEBOOK_PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell("print(dataset)")]
    nbformat.write(notebook, notebooks / "report.ipynb")
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(notebooks))
    core_env.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded_database, core_env / "configuration.db")
    return load_settings()
