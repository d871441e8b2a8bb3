"""A world whose transformations name their inputs, for the lineage tests."""

from __future__ import annotations

from core.settings import Settings

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
    variables: {input: {type: string}}
  - name: broken
    entrypoint: tests.unit.transforms.sample_transforms:broken
    variables: {input: {type: string}}
pipelines:
  - name: small
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 5}}]
      - state: master
        transformations: [{template: doubled, variables: {input: numbers}}]
  - name: failing
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 3}}]
      - state: master
        transformations: [{template: broken, variables: {input: numbers}}]
"""


def lake_path(settings: Settings, state: str, dataset: str) -> str:
    """The absolute path of a dataset of acme/zentrix in the test's local lake."""
    return f"{settings.home / 'lake'}/{settings.branch}/acme/zentrix/{state}/{dataset}"


# Three pipelines: upstream writes numbers; report starts when it is published;
# summary starts when both upstream's numbers and report's output are.
CHAIN = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - name: numbers
    state: ingest
    entrypoint: tests.unit.transforms.sample_transforms:numbers
    variables: {count: {type: int}}
  - name: noop
pipelines:
  - name: upstream
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 3}}]
  - name: report
    company: acme
    brand: zentrix
    type: t
    dataset_schedule: {any: [acme/zentrix/ingest/numbers]}
    states:
      - state: metrics
        transformations: [{template: noop}]
  - name: summary
    company: acme
    brand: zentrix
    type: t
    dataset_schedule: {all: [acme/zentrix/ingest/numbers, acme/zentrix/metrics/noop]}
    states:
      - state: dimensional
        transformations: [{template: noop}]
  - name: unrelated
    company: acme
    brand: zentrix
    type: t
    states:
      - state: enrich
        transformations: [{template: noop}]
"""
