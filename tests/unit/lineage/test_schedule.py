"""Pipelines that start when datasets of other pipelines are published: validated on save."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.cli import app
from core.errors import ConfigurationError, InvalidInputError
from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.runner.local import LocalRunner
from core.service.catalog import PIPELINES
from core.service.resources import update_row
from tests.support.lineage import CHAIN
from tests.support.worlds import load_test_world


@pytest.fixture
def chain(core_env):
    return load_test_world(CHAIN)


def _update(settings, name: str, values: dict):
    with SessionHelper(settings) as session:
        row = session.scalars(select(cfg.Pipeline).where(cfg.Pipeline.name == name)).one()
        return update_row(session, PIPELINES, row.id, values, row.version, settings=settings)


def _schedule(settings, name: str):
    with SessionHelper(settings) as session:
        return session.scalar(
            select(cfg.Pipeline.dataset_schedule).where(cfg.Pipeline.name == name)
        )


def test_a_cycle_of_pipelines_is_refused_and_named(chain) -> None:
    with pytest.raises(InvalidInputError) as caught:
        _update(chain, "upstream", {"dataset_schedule": {"any": ["acme/zentrix/dimensional/noop"]}})
    (field, _, message) = caught.value.problems[0]
    assert field == "dataset_schedule"
    assert "cycle of pipelines: upstream -> report -> summary -> upstream" in message
    assert _schedule(chain, "upstream") is None  # nothing written


def test_a_dataset_no_other_pipeline_writes_is_refused_with_close_names(chain) -> None:
    with pytest.raises(InvalidInputError, match="no other pipeline writes dataset") as caught:
        _update(chain, "unrelated", {"dataset_schedule": {"all": ["acme/zentrix/ingest/numbrs"]}})
    assert "acme/zentrix/ingest/numbers" in str(caught.value)  # did you mean
    with pytest.raises(InvalidInputError, match="no other pipeline writes"):  # its own
        _update(chain, "unrelated", {"dataset_schedule": {"any": ["acme/zentrix/enrich/noop"]}})


@pytest.mark.parametrize(
    "value",
    [
        {"some": ["acme/zentrix/ingest/numbers"]},
        {"any": []},
        {"any": ["acme/zentrix/numbers"]},
        {"any": ["acme/zentrix/ingest/bad name"]},
        ["acme/zentrix/ingest/numbers"],
    ],
)
def test_a_malformed_schedule_is_refused(chain, value) -> None:
    with pytest.raises((InvalidInputError, ConfigurationError), match="dataset_schedule"):
        _update(chain, "unrelated", {"dataset_schedule": value})


def test_a_cron_and_a_dataset_schedule_together_are_refused(chain) -> None:
    with pytest.raises(InvalidInputError, match="set run_frequency to none"):
        _update(
            chain,
            "unrelated",
            {
                "run_frequency": "daily",
                "dataset_schedule": {"any": ["acme/zentrix/ingest/numbers"]},
            },
        )


def test_a_valid_schedule_is_saved_and_can_be_cleared(chain) -> None:
    _update(chain, "unrelated", {"dataset_schedule": {"any": ["acme/zentrix/metrics/noop"]}})
    assert _schedule(chain, "unrelated") == {"any": ["acme/zentrix/metrics/noop"]}
    _update(chain, "unrelated", {"dataset_schedule": None})
    assert _schedule(chain, "unrelated") is None


def test_core_run_with_dependants_runs_the_chain_in_order(chain) -> None:
    reports = LocalRunner(chain).run_with_dependants("upstream")
    assert [(r.pipeline, r.state) for r in reports] == [
        ("upstream", "success"),
        ("report", "success"),
        ("summary", "success"),
    ]
    assert [r.pipeline for r in LocalRunner(chain).run_with_dependants("report")] == ["report"]


def test_core_pipelines_graph_shows_the_edges(chain) -> None:
    result = CliRunner().invoke(app, ["pipelines", "graph"])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert any("upstream acme/zentrix/ingest/numbers report any(" in line for line in lines)
    assert any("report acme/zentrix/metrics/noop summary all(" in line for line in lines)
    assert "not linked: unrelated" in result.output
