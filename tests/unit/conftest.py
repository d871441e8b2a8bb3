"""A small world for runtime and runner tests: pipelines of python sample transforms."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.database.seed import load_world, read_world
from core.helpers.session_helper import SessionHelper

WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - name: numbers
    state: ingest
    entrypoint: tests.unit.transforms.sample_transforms:numbers
    variables: {count: {type: int}}
  - name: doubled
    entrypoint: tests.unit.transforms.sample_transforms:doubled
  - name: broken
    entrypoint: tests.unit.transforms.sample_transforms:broken
  - name: noop
pipelines:
  - name: small
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 5}}]
      - state: master
        transformations: [{template: doubled}]
  - name: failing
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations:
          - {template: numbers, variables: {count: 3}}
          - {template: broken, retries: 1, retry_delay_seconds: 0}
      - state: master
        transformations: [{template: doubled}]
      - state: metrics
        transformations: [{template: noop}]
"""


@pytest.fixture
def world(core_env: Path, tmp_path: Path):
    """The dev database of this test, holding only the small world."""
    path = tmp_path / "world.yaml"
    path.write_text(WORLD)
    (core_env).mkdir(parents=True, exist_ok=True)
    from core.database import migrate
    from core.settings import load_settings

    settings = load_settings()
    migrate.upgrade(settings.embedded_database_url)  # migrated, so never seeded with the sample
    with SessionHelper(settings) as session:
        load_world(session, read_world(path))
        session.commit()
    return settings
