"""A world of notebook transforms, run in a real kernel.

The notebooks live in a private transforms folder (CORE_TRANSFORMS_DIR): ``scaled``
is the repository's ``transforms/Template.ipynb`` itself, ``failing`` and ``sleepy``
come from ``notebooks/`` next to this file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.settings import Settings
from tests.support.worlds import load_test_world

REPOSITORY = Path(__file__).resolve().parents[3]
TEMPLATE = REPOSITORY / "transforms" / "Template.ipynb"
TEST_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"

WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - name: numbers
    state: ingest
    entrypoint: tests.unit.transforms.sample_transforms:numbers
    variables: {count: {type: int}}
  - name: scaled
    kind: notebook
    variables:
      source: {type: string, default: numbers}
      factor: {type: int, default: 2}
      as_of: {type: date}
  - {name: failing, kind: notebook}
  - {name: sleepy, kind: notebook}
  - {name: ghost, kind: notebook}
pipelines:
  - name: notebooks
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 4}}]
      - state: master
        transformations:
          - {template: scaled, variables: {factor: 3, as_of: "2024-05-31"}}
          - {template: failing}
          - {template: sleepy}
          - {template: ghost}
"""


@pytest.fixture
def notebook_world(core_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The dev database holding the notebook world, and its transforms folder."""
    transforms = tmp_path / "transforms"
    transforms.mkdir()
    shutil.copy(TEMPLATE, transforms / "scaled.ipynb")
    for notebook in TEST_NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, transforms / notebook.name)
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(transforms))
    return load_test_world(WORLD)
