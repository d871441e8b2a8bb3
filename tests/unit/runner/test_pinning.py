"""Runs are pinned to their configuration snapshot; a resume re-pins or keeps it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.errors import InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.models.runs import RunSnapshot
from core.runner.local import LocalRunner
from tests.support.worlds import load_test_world

WORLD = """
builtins: true
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - name: numbers
    state: ingest
    entrypoint: tests.unit.transforms.sample_transforms:numbers
    variables: {count: {type: int}}
pipelines:
  - name: pinned
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 3}}]
      - state: master
        transformations:
          - template: sql
            variables:
              inputs: [numbers]
              dataset: scaled
              query: "select n * 2 as n from numbers"
"""


@pytest.fixture
def world(core_env):
    return load_test_world(WORLD)


def _set_query(settings, query: str) -> None:
    """Save a new query on the pipeline's SQL transformation, as an editor would."""
    with SessionHelper(settings, actor="editor@example.com") as session:
        sql = session.scalars(
            select(config.Transformation)
            .join(config.Transformation.transformation_template)
            .where(config.TransformationTemplate.name == "sql")
        ).one()
        sql.set_variables({**sql.stored_variables, "query": query})
        session.commit()


def _scaled(settings, run_id: int) -> list[int]:
    contract = DatasetContract("acme", "zentrix", "master", "scaled", settings=settings)
    return sorted(contract.fetch(run_id=run_id)["n"])


def test_an_edit_between_groups_reaches_the_next_run_not_this_one(world) -> None:
    def edit_after_ingest(event: str, task, detail: str) -> None:
        if event == "finished" and task.state == "ingest":
            _set_query(world, "select n * 10 as n from numbers")

    first = LocalRunner(world, listener=edit_after_ingest).run("pinned")
    assert first.state == "success"
    assert _scaled(world, first.run_id) == [0, 2, 4]  # the pinned query, not the edit
    second = LocalRunner(world).run("pinned")
    assert _scaled(world, second.run_id) == [0, 10, 20]  # the next run has the new one


def test_resume_as_it_was_keeps_the_snapshot_and_current_re_pins(world) -> None:
    _set_query(world, "select nope from numbers")
    runner = LocalRunner(world, sleep=lambda _: None)
    failed = runner.run("pinned")
    assert failed.failed and "nope" in (failed.tasks[1].error or "")
    _set_query(world, "select n + 1 as n from numbers")  # the fix

    as_it_was = runner.run("pinned", resume=failed.run_id, configuration="pinned")
    assert as_it_was.failed and "nope" in (as_it_was.tasks[1].error or "")
    assert as_it_was.configuration == "pinned"
    assert as_it_was.tasks[0].attempt == 1  # what succeeded is not run again

    current = runner.run("pinned", resume=failed.run_id)  # the default after a fix
    assert current.state == "success" and current.configuration == "current"
    assert current.resumed_by == "core run"
    assert _scaled(world, failed.run_id) == [1, 2, 3]
    with SessionHelper(world) as session:
        history = session.scalars(select(RunSnapshot).order_by(RunSnapshot.number)).all()
        queries = [
            history_row.snapshot["groups"][1]["tasks"][0]["variables"]["query"]
            for history_row in history
        ]
        assert queries == ["select nope from numbers", "select n + 1 as n from numbers"]
        assert [row.pinned_by for row in history] == ["core run", "core run"]
        event = session.get(config.RunEvent, failed.run_id)
        assert event.idle_seconds > 0  # the time it spent failed is not its duration


def test_an_unknown_resume_choice_is_refused(world) -> None:
    first = LocalRunner(world).run("pinned")
    with pytest.raises(InvalidInputError, match="expected current .* or pinned"):
        LocalRunner(world).run("pinned", resume=first.run_id, configuration="latest")


def test_a_pinned_resume_is_checked_against_the_specs_it_was_pinned_with(world) -> None:
    from core.plan.check import PipelineCheckError

    _set_query(world, "select nope from numbers")
    runner = LocalRunner(world, sleep=lambda _: None)
    failed = runner.run("pinned")
    with SessionHelper(world, actor="test") as session:  # past the checks, as an old row might
        numbers = session.scalars(
            select(config.TransformationTemplate).where(
                config.TransformationTemplate.name == "numbers"
            )
        ).one()
        numbers.variable_structures = {
            "count": {"type": "int"},
            "colour": {"type": "string", "required": True},
        }
        session.commit()
    with pytest.raises(PipelineCheckError, match="colour"):
        runner.run("pinned")  # a new run has the template's spec now
    with pytest.raises(PipelineCheckError, match="colour"):
        runner.run("pinned", resume=failed.run_id)  # so has a resume re-pinned to it
    as_it_was = runner.run("pinned", resume=failed.run_id, configuration="pinned")
    assert as_it_was.configuration == "pinned"  # its snapshot's specs: it runs
    assert "nope" in (as_it_was.tasks[1].error or "")
