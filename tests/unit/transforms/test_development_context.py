"""development_context: a transformation's context on real upstream data, publishing to a
development branch of the lake, never to the branch of the run."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.errors import ConfigurationError, ContractError, NotFoundError
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings
from core.transforms.authoring import development_branch, development_context
from core.transforms.runtime import build_context, run_transformation


def _ids(session, pipeline: str) -> dict[str, int]:
    return {t.template: t.transformation_id for t in load_plan(session, pipeline).tasks}


def _run_numbers(settings: Settings, count_runs: int = 1) -> tuple[dict[str, int], list[int]]:
    """Runs of the pipeline 'small' in which only 'numbers' ran (5 rows each)."""
    runs = []
    with SessionHelper(settings) as session:
        ids = _ids(session, "small")
        for _ in range(count_runs):
            run_id = start_run(session, load_plan(session, "small"), "test").id
            assert run_transformation(settings, session, ids["numbers"], run_id).succeeded
            runs.append(run_id)
    return ids, runs


def test_reads_the_run_s_upstream_data_and_publishes_to_the_development_branch(world) -> None:
    ids, (run_id,) = _run_numbers(world)
    ctx = development_context(ids["doubled"], run_id, branch="dev-ana")
    assert (ctx.run_id, ctx.template, ctx.state) == (run_id, "doubled", "master")
    upstream = ctx.input("numbers")
    assert sorted(upstream["n"].to_pylist()) == [0, 1, 2, 3, 4]
    summary = ctx.publish(pa.table({"n": pa.compute.multiply(upstream["n"], 2)}))
    assert summary.rows == 5
    assert ctx.output.uri == f"{world.lake_root}/dev-ana/acme/zentrix/master/doubled"
    on_dev = DatasetContract(
        "acme", "zentrix", "master", "doubled", branch="dev-ana", settings=world
    )
    assert sorted(on_dev.fetch(run_id=run_id)["n"]) == [0, 2, 4, 6, 8]
    on_run_branch = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert not on_run_branch.exists()
    with SessionHelper(world) as session:  # the run's records are untouched
        rows = session.scalars(select(config.TaskRun)).all()
    assert [r.transformation_id for r in rows] == [ids["numbers"]]


def test_without_a_run_id_the_latest_run_and_dev_user_branch_are_used(world) -> None:
    ids, runs = _run_numbers(world, count_runs=2)
    ctx = development_context(ids["doubled"])
    assert ctx.run_id == runs[-1]
    assert ctx.output.branch == development_branch() and ctx.output.branch.startswith("dev-")
    assert ctx.input("numbers").num_rows == 5  # only the latest run's rows


def test_the_development_branch_is_a_path_part_of_the_user() -> None:
    assert development_branch("Ana María.Silva") == "dev-ana-mar-a-silva"
    assert development_branch("???") == "dev-author"


@pytest.mark.parametrize("branch", ["dev", "master", "uat", "test", "prod"])
def test_the_run_s_branch_and_protected_branches_are_refused(world, branch: str) -> None:
    ids, (run_id,) = _run_numbers(world)
    with pytest.raises(ContractError, match=rf"development branch '{branch}' is not allowed"):
        development_context(ids["doubled"], run_id, branch=branch)


def test_an_invalid_branch_names_the_rule(world) -> None:
    ids, (run_id,) = _run_numbers(world)
    with pytest.raises(ContractError, match="contract branch 'Dev Ana'"):
        development_context(ids["doubled"], run_id, branch="Dev Ana")


def test_a_pipeline_that_never_ran_says_how_to_run_it(world) -> None:
    with SessionHelper(world) as session:
        ids = _ids(session, "small")
    with pytest.raises(NotFoundError, match="has no run yet.*`core run small`"):
        development_context(ids["doubled"])


def test_a_run_of_another_pipeline_is_refused(world) -> None:
    _, (run_id,) = _run_numbers(world)
    with SessionHelper(world) as session:
        failing = _ids(session, "failing")
    with pytest.raises(ConfigurationError, match=f"run {run_id} belongs to another pipeline"):
        development_context(failing["doubled"], run_id, branch="dev-ana")


def test_authoring_uses_the_configuration_being_edited_not_the_run_s_snapshot(world) -> None:
    ids, (run_id,) = _run_numbers(world)
    with SessionHelper(world) as session:
        session.get(config.Transformation, ids["numbers"]).set_variables({"count": 9})
        session.commit()
    ctx = development_context(ids["numbers"], run_id, branch="dev-ana")
    assert ctx.variables == {"count": 9}
    with SessionHelper(world) as session:  # a worker of the run still sees its snapshot
        pinned = build_context(world, session, ids["numbers"], run_id)
    assert pinned.variables == {"count": 5}


def test_checks_stop_a_development_publish_but_leave_the_run_s_results_alone(world) -> None:
    from core.checks.evaluate import CheckFailedError
    from core.models.dataset_checks import CheckResult, DatasetCheck

    with SessionHelper(world, actor="test") as session:  # pinned by the run that follows
        doubled = _ids(session, "small")["doubled"]
        session.add(DatasetCheck(transformation_id=doubled, kind="row_count", arguments={"min": 1}))
        session.commit()
    ids, (run_id,) = _run_numbers(world)
    with SessionHelper(world, actor="test") as session:
        assert run_transformation(world, session, ids["doubled"], run_id).succeeded
    recorded = [("row_count", "pass")]

    def results() -> list[tuple[str, str]]:
        with SessionHelper(world) as session:
            return [(r.kind, r.status) for r in session.scalars(select(CheckResult))]

    assert results() == recorded
    ctx = development_context(ids["doubled"], run_id, branch="dev-ana")
    with pytest.raises(CheckFailedError, match=r"row_count\(min=1\)"):
        ctx.publish(pa.table({"n": pa.array([], pa.int64())}))  # what a run would refuse
    assert results() == recorded  # the run's own results are not the author's
    on_dev = DatasetContract(
        "acme", "zentrix", "master", "doubled", branch="dev-ana", settings=world
    )
    assert on_dev.schema_or_none() is None  # nothing published
