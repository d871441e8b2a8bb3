"""A small world for runtime and runner tests: pipelines of python sample transforms."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.settings import Settings
from tests.support.servers import private_temporary
from tests.support.worlds import load_test_world

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
def world(core_env: Path) -> Settings:
    """The dev database of this test, holding only the small world."""
    return load_test_world(WORLD)


@pytest.fixture
def temporary() -> Iterator[Path]:
    """A TMPDIR of the test's own for senders of warm workers (tests.support.servers)."""
    with private_temporary() as directory:
        yield directory
