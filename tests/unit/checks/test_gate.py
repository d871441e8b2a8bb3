"""Checks run inside the worker before the Delta commit: nothing bad is published."""

from __future__ import annotations

from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.models.configuration import DatasetCheck, TaskRun
from core.models.dataset_checks import CheckResult
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings
from core.transforms.runtime import run_transformation


def _add(settings: Settings, template: str, kind: str, arguments: dict, severity="error") -> None:
    with SessionHelper(settings, actor="test") as session:
        task = next(t for t in load_plan(session, "small").tasks if t.template == template)
        check = DatasetCheck(
            transformation_id=task.transformation_id,
            kind=kind,
            arguments=arguments,
            severity=severity,
            description=f"{kind} on {template}",
        )
        session.add(check)
        session.commit()


def _run(settings: Settings, run_id: int | None = None):
    """Run both tasks of "small" (numbers, doubled) in a run; their outcomes."""
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, "small")
        run_id = run_id or start_run(session, plan, "test").id
        outcomes = [
            run_transformation(settings, session, t.transformation_id, run_id) for t in plan.tasks
        ]
    return run_id, outcomes


def _results(settings: Settings, run_id: int) -> list[CheckResult]:
    with SessionHelper(settings) as session:
        rows = session.scalars(select(CheckResult).where(CheckResult.run_event_id == run_id)).all()
        session.expunge_all()
        return list(rows)


DOUBLED = ("acme", "zentrix", "master", "doubled")


def test_a_failing_error_check_publishes_nothing_and_names_the_check(world: Settings) -> None:
    _, outcomes = _run(world)
    assert all(o.succeeded for o in outcomes)
    table = DatasetContract(*DOUBLED, settings=world)
    version = table.delta_table().version()
    _add(world, "doubled", "range", {"column": "n", "max": 5})  # 6 and 8 fail
    second, (numbers, doubled) = _run(world)
    assert numbers.succeeded and not doubled.succeeded and doubled.exit_code == 1
    assert "check" in doubled.message and "range" in doubled.message
    assert "failed on 2 row(s)" in doubled.message and '"n": 8' in doubled.message
    assert table.delta_table().version() == version  # the same Delta version: nothing written
    assert table.fetch_arrow(run_id=second).num_rows == 0
    (result,) = _results(world, second)
    assert (result.kind, result.status, result.failing_rows) == ("range", "fail", 2)
    assert sorted(e["n"] for e in result.examples) == [6, 8]
    with SessionHelper(world) as session:
        row = session.scalars(
            select(TaskRun).where(TaskRun.run_event_id == second, TaskRun.state == "failed")
        ).one()
        assert "range" in row.error_summary
        assert row.rows_out is None  # the run page must not say it wrote rows


def test_a_warn_check_publishes_and_records(world: Settings) -> None:
    _add(world, "doubled", "accepted_values", {"column": "n", "values": [0, 2, 4]}, "warn")
    run_id, outcomes = _run(world)
    assert all(o.succeeded for o in outcomes)
    assert DatasetContract(*DOUBLED, settings=world).fetch_arrow(run_id=run_id).num_rows == 5
    (result,) = _results(world, run_id)
    assert (result.status, result.failing_rows) == ("warn", 2)
    with SessionHelper(world) as session:
        row = session.scalars(
            select(TaskRun).where(TaskRun.run_event_id == run_id).order_by(TaskRun.id.desc())
        ).first()
        assert any("accepted_values" in n for n in row.output_references["notes"])


def test_row_count_change_without_a_previous_run_passes_with_a_note(world: Settings) -> None:
    _add(world, "numbers", "row_count_change", {"max_drop_pct": 10})
    run_id, _ = _run(world)
    (result,) = _results(world, run_id)
    assert result.status == "pass" and "no previous successful run" in result.note
    second, _ = _run(world)
    (again,) = _results(world, second)
    assert again.status == "pass" and "against 5 in the previous successful run" in again.note


def test_running_a_task_again_in_the_same_run_keeps_one_result_per_check(world: Settings) -> None:
    _add(world, "numbers", "not_null", {"columns": ["n"]})
    _add(world, "numbers", "unique", {"columns": ["n"]})
    run_id, _ = _run(world)
    _run(world, run_id)  # a retry or a resume of the same run
    results = _results(world, run_id)
    assert sorted(r.kind for r in results) == ["not_null", "unique"]
    assert {r.attempt for r in results} == {2}


def test_a_run_stopped_by_a_check_is_resumed_once_the_check_is_fixed(world: Settings) -> None:
    from core.runner.local import LocalRunner

    _add(world, "doubled", "range", {"column": "n", "max": 5})
    first = LocalRunner(world, sleep=lambda _: None).run("small")
    assert first.failed
    doubled = next(t for t in first.tasks if "doubled" in t.task_id)
    assert (
        doubled.state == "failed"
        and "range" in doubled.error
        and "nothing was published" in doubled.error
    )
    with SessionHelper(world, actor="test") as session:  # the operator widens the range
        check = session.scalars(select(DatasetCheck)).one()
        check.arguments = {"column": "n", "max": 8}
        session.commit()
    # a resume that keeps the snapshot keeps the old check: it fails the same way
    pinned = LocalRunner(world, sleep=lambda _: None).run(
        "small", resume=first.run_id, configuration="pinned"
    )
    assert pinned.failed and [r.status for r in _results(world, first.run_id)] == ["fail"]
    resumed = LocalRunner(world, sleep=lambda _: None).run(
        "small", resume=first.run_id, configuration="current"
    )
    assert resumed.state == "success" and resumed.run_id == first.run_id
    (result,) = _results(world, first.run_id)  # replaced, not added to
    assert (result.status, result.failing_rows) == ("pass", 0)
    assert DatasetContract(*DOUBLED, settings=world).fetch_arrow(run_id=first.run_id).num_rows == 5


def test_a_check_written_past_the_api_cannot_read_files_from_the_worker(
    world: Settings, tmp_path
) -> None:
    # The save path refuses it; a row written straight into the database reaches the
    # worker, which checks the arguments again and runs DuckDB without file access.
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nhunter2\n")
    query = f"SELECT * FROM data WHERE n NOT IN (SELECT 1 FROM read_csv('{secret}'))"
    _add(world, "doubled", "sql", {"query": query})
    run_id, (numbers, doubled) = _run(world)
    assert numbers.succeeded and not doubled.succeeded
    (result,) = _results(world, run_id)
    assert result.status == "error" and "hunter2" not in (result.note or "") + str(result.examples)
    assert "hunter2" not in doubled.message
    assert DatasetContract(*DOUBLED, settings=world).schema_or_none() is None  # nothing published
