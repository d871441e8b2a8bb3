"""``core checks``: run saved and new checks on a published run, list, add and delete them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.helpers.session_helper import SessionHelper
from core.models.dataset_checks import CheckResult, DatasetCheck
from core.plan import load_plan
from core.runner.local import LocalRunner
from core.settings import Settings
from tests.support.cli import core

# n = 0, 2, 4, 6, 8 in the small world; the pipeline "failing" writes a doubled too
DOUBLED = "acme/zentrix/master/doubled"
SMALL = ("--pipeline", "small")
TOO_BIG = '{"column": "n", "max": 5}'


@pytest.fixture
def published(world: Settings) -> dict[str, int]:
    """The small world run once: run id and transformation ids by template."""
    report = LocalRunner(world, sleep=lambda _: None).run("small")
    assert report.state == "success"
    with SessionHelper(world) as session:
        ids = {t.template: t.transformation_id for t in load_plan(session, "small").tasks}
    return {"run": report.run_id, **ids}


def _saved(settings: Settings) -> list[DatasetCheck]:
    with SessionHelper(settings) as session:
        rows = list(session.scalars(select(DatasetCheck).order_by(DatasetCheck.id)))
        session.expunge_all()
        return rows


def test_saved_checks_pass_on_the_latest_run_and_nothing_is_recorded(
    world: Settings, published: dict[str, int], capsys
) -> None:
    doubled = str(published["doubled"])
    assert core("checks", "add", doubled, "not_null", "--arguments", '{"columns": ["n"]}') == 0
    out = capsys.readouterr().out
    assert f"added check 1 (not_null, error) to dataset {DOUBLED} of transformation {doubled}" in (
        out
    )
    assert core("checks", "add", doubled, "unique", "--arguments", '{"columns": ["n"]}') == 0
    capsys.readouterr()
    assert core("checks", "run", DOUBLED, *SMALL) == 0
    out = capsys.readouterr().out
    assert f"dataset {DOUBLED}, run {published['run']}: 5 rows" in out
    assert 'PASS  check 1 not_null(columns=["n"]): no failing row' in out
    assert 'PASS  check 2 unique(columns=["n"]): no failing row' in out
    assert out.rstrip().endswith("2 check(s): 2 pass")
    with SessionHelper(world) as session:
        assert session.scalar(select(func.count(CheckResult.id))) == 0


def test_a_failing_error_check_exits_1_and_prints_the_failing_rows(
    published: dict[str, int], capsys
) -> None:
    new = ("--kind", "range", "--arguments", TOO_BIG)
    assert core("checks", "run", DOUBLED, *SMALL, "--run-id", str(published["run"]), *new) == 1
    out = capsys.readouterr().out
    assert 'FAIL  check (new) range(column="n", max=5): 2 failing row(s)' in out
    assert '      e.g. {"n": 6' in out and '      e.g. {"n": 8' in out
    assert f"1 error check(s) failed: a run would publish nothing to {DOUBLED}" in out
    # the same check as a warning: reported, and the exit says nothing blocked
    assert core("checks", "run", DOUBLED, *SMALL, *new, "--severity", "warn") == 0
    out = capsys.readouterr().out
    assert "WARN  check (new) range" in out and out.rstrip().endswith("1 check(s): 1 warn")


def test_bad_input_exits_2_naming_each_field(
    world: Settings, published: dict[str, int], capsys
) -> None:
    bad = ("--kind", "range", "--arguments", '{"colum": "n"}', "--severity", "fatal")
    assert core("checks", "run", DOUBLED, *SMALL, *bad) == 2
    err = capsys.readouterr().err
    assert "  severity: expected one of error, warn (got 'fatal')" in err
    assert "  arguments.column: range: Field required" in err
    assert "  arguments.colum: range: Extra inputs are not permitted" in err
    assert err.rstrip().endswith("FAILED: checks not run: 3 problems (listed above)")
    not_json = ("--kind", "range", "--arguments", "{column: n}")
    assert core("checks", "run", DOUBLED, *SMALL, *not_json) == 2
    assert "arguments: is not JSON" in capsys.readouterr().err
    assert core("checks", "run", DOUBLED, *SMALL, "--arguments", TOO_BIG) == 2
    assert "--arguments and --severity describe a new check: add --kind" in capsys.readouterr().err
    doubled = str(published["doubled"])
    assert core("checks", "add", doubled, "not_nul", "--arguments", '{"columns": ["n"]}') == 2
    err = capsys.readouterr().err
    assert "  kind: expected one of" in err and "Did you mean 'not_null'?" in err
    assert core("checks", "add", doubled, "not_null", "--arguments", '{"columns": ["m"]}') == 2
    err = capsys.readouterr().err
    assert "  arguments: dataset has no column 'm' in its last published schema" in err
    assert "FAILED: check not saved: 1 problem (listed above)" in err
    assert core("checks", "add", str(published["numbers"]), "row_count", "--severity", "x") == 2
    err = capsys.readouterr().err
    assert "  severity: expected one of error, warn (got 'x')" in err
    assert "  arguments: row_count: Value error, expected min, max or both" in err
    assert _saved(world) == []


def test_an_unknown_dataset_or_run_is_named_with_what_exists(
    published: dict[str, int], capsys
) -> None:
    assert core("checks", "run", "acme/zentrix/master/double") == 2
    assert capsys.readouterr().err.startswith(
        "FAILED: no pipeline writes dataset 'acme/zentrix/master/double': expected "
        "company/brand/state/dataset of a transformation's output. "
        f"Did you mean '{DOUBLED}' or "
    )
    assert core("checks", "run", "acme/zentrix/master/double", *SMALL) == 2
    assert "FAILED: pipeline 'small' writes no dataset 'acme/zentrix/master/double'" in (
        capsys.readouterr().err
    )
    assert core("checks", "run", DOUBLED) == 2
    failing = published["doubled"] + 3  # the failing pipeline's doubled, added after small's
    assert (
        f"is written by several pipelines: 'failing' (transformation {failing}), 'small' "
        f"(transformation {published['doubled']}); expected the one meant to be named too "
        "(core checks run --pipeline NAME)"
    ) in capsys.readouterr().err
    assert core("checks", "run", DOUBLED, "--pipeline", "smal") == 2
    assert "no pipeline named 'smal'. Did you mean 'small'?" in capsys.readouterr().err
    assert core("checks", "run", DOUBLED, *SMALL, "--run-id", "99") == 2
    assert (
        f"has no rows of run 99: expected one of the runs that published it ({published['run']})"
        in capsys.readouterr().err
    )
    assert core("checks", "run", DOUBLED, *SMALL) == 0
    assert f"dataset {DOUBLED} has no checks: try one with --kind" in capsys.readouterr().out


def test_a_dataset_never_published_has_no_rows_to_check(world: Settings, capsys) -> None:
    assert (
        core("checks", "run", DOUBLED, *SMALL, "--kind", "row_count", "--arguments", '{"min": 1}')
        == 2
    )
    assert "has never been published, so there are no rows to check" in capsys.readouterr().err


def test_list_pipelines_show_and_delete(world: Settings, published: dict[str, int], capsys) -> None:
    assert core("checks", "list") == 0
    assert "no dataset has checks yet" in capsys.readouterr().out
    assert core("pipelines", "show", "small") == 0
    assert "no checks on its datasets" in capsys.readouterr().out
    doubled = str(published["doubled"])
    add = ("checks", "add", doubled, "range", "--arguments", TOO_BIG, "--severity", "warn")
    assert core(*add, "--description", "small numbers") == 0
    capsys.readouterr()
    for argv in (("checks", "list"), ("checks", "list", "small"), ("pipelines", "show", "small")):
        assert core(*argv) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if "range(" in line)
        for cell in ("1", DOUBLED, doubled, 'range(column="n", max=5)', "warn", "small numbers"):
            assert f" {cell} " in row
    assert core("checks", "list", "smal") == 2
    assert "Did you mean 'small'?" in capsys.readouterr().err
    assert core("checks", "delete", "1") == 0
    assert f"deleted check 1 (range) of transformation {doubled}" in capsys.readouterr().out
    assert _saved(world) == []
    assert core("checks", "delete", "1") == 2
    assert "FAILED: no check with id 1" in capsys.readouterr().err
