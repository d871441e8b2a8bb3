"""Airflow tests without a metadata database: DAG structure, parsing, operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from tests.support.airflow import configure_airflow
from tests.support.worlds import load_test_world

configure_airflow()  # before anything imports Airflow

SHAPES = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - {name: noop}
  - {name: other}
pipelines:
  - name: mixed
    company: acme
    brand: zentrix
    type: t
    run_frequency: hourly
    description: Several groups in one state, an empty state.
    states:
      - state: ingest
        transformations:
          - {template: noop, graph_order: 1}
          - {template: other, graph_order: 0, retries: 3, retry_delay_seconds: 30}
          - {template: noop, graph_order: 0}
      - state: master
        transformations: []
      - state: metrics
        transformations: [{template: noop, graph_order: 2}]
  - name: single
    company: acme
    brand: zentrix
    type: t
    run_frequency: "0 6 * * 1-5"
    states:
      - state: enrich
        transformations: [{template: other}]
  - name: empty
    company: acme
    brand: zentrix
    type: t
    states: [{state: raw, transformations: []}]
  - name: asleep
    company: acme
    brand: zentrix
    type: t
    active: false
    states:
      - state: raw
        transformations: [{template: noop}]
"""


@pytest.fixture
def shapes(core_env: Path) -> Settings:
    """The settings of a dev database holding only the SHAPES world."""
    return load_test_world(SHAPES)
