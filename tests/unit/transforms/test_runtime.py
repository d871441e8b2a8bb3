import subprocess
import sys

import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runs import start_run
from core.transforms.runtime import run_transformation


def _ids(session, pipeline: str) -> list[int]:
    return [t.transformation_id for t in load_plan(session, pipeline).tasks]


def _ids_of(settings, pipeline: str) -> list[int]:
    with SessionHelper(settings) as session:
        return _ids(session, pipeline)


def _new_run(session, pipeline: str) -> int:
    return start_run(session, load_plan(session, pipeline), "test").id


def _corebot(*argv: str, settings) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "corebot", *argv],
        capture_output=True,
        text=True,
        env={**settings.to_environment(), "PATH": "/usr/bin:/bin"},
    )


def test_a_returned_table_is_published_and_recorded(world) -> None:
    with SessionHelper(world) as session:
        numbers, doubled = _ids(session, "small")
        run_id = _new_run(session, "small")
        assert run_transformation(world, session, numbers, run_id).succeeded
        outcome = run_transformation(world, session, doubled, run_id)
        assert outcome.succeeded, outcome.message
        rows = {r.transformation_id: r for r in session.scalars(select(config.TaskRun))}
    assert (rows[numbers].state, rows[numbers].rows_out, rows[numbers].attempt) == ("success", 5, 1)
    assert (rows[doubled].rows_in, rows[doubled].rows_out) == (5, 5)
    assert rows[doubled].output_references["version"] == 0
    assert rows[doubled].started_at <= rows[doubled].ended_at
    doubled_data = DatasetContract("acme", "zentrix", "master", "doubled", settings=world)
    assert sorted(doubled_data.fetch(run_id=run_id)["n"]) == [0, 2, 4, 6, 8]


def test_running_again_replaces_the_run_and_counts_attempts(world) -> None:
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        run_id = _new_run(session, "small")
        for _ in range(2):
            assert run_transformation(world, session, numbers, run_id).succeeded
        row = session.scalars(select(config.TaskRun)).one()
    assert row.attempt == 2
    output = DatasetContract("acme", "zentrix", "ingest", "numbers", settings=world)
    assert len(output.fetch(run_id=run_id)) == 5


def test_corebot_exit_codes_and_one_line_reasons(world) -> None:
    with SessionHelper(world) as session:
        numbers, broken, _, _ = _ids(session, "failing")
        run_id = _new_run(session, "failing")
    ok = _corebot("run", str(numbers), str(run_id), settings=world)
    assert ok.returncode == 0, ok.stderr
    assert "ingest/numbers" in ok.stdout and "wrote 3 rows" in ok.stdout
    failed = _corebot("run", str(broken), str(run_id), settings=world)
    assert failed.returncode == 1
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith("FAILED: ValueError: the source had no header row (at ")
    )
    missing = _corebot("run", "999", str(run_id), settings=world)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"FAILED: no transformation has id 999 in run {run_id} of 'failing': expected one of "
        f"its transformations ({', '.join(map(str, _ids_of(world, 'failing')))}); "
        f"`core runs show {run_id}` lists them"
    )
    no_run = _corebot("run", str(numbers), "4242", settings=world)
    assert no_run.returncode == 2 and "no run with id 4242" in no_run.stderr
    with SessionHelper(world) as session:
        row = session.scalars(
            select(config.TaskRun).where(config.TaskRun.transformation_id == broken)
        ).one()
    assert row.state == "failed"
    assert row.error_summary.startswith("ValueError: the source had no header row")


def test_invalid_variables_exit_2_and_are_recorded(world) -> None:
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        transformation = session.get(config.Transformation, numbers)
        transformation.set_variables({"count": "five"})
        session.commit()
        run_id = _new_run(session, "small")
        outcome = run_transformation(world, session, numbers, run_id)
        row = session.scalars(select(config.TaskRun)).one()
    assert outcome.exit_code == 2
    assert "'count'='five' is not a valid int" in outcome.message
    assert row.state == "failed" and "'count'='five'" in row.error_summary


def test_a_run_of_another_pipeline_is_refused(world) -> None:
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        other_run = _new_run(session, "failing")
        outcome = run_transformation(world, session, numbers, other_run)
    assert outcome.exit_code == 2
    assert f"no transformation has id {numbers} in run {other_run} of 'failing'" in outcome.message


@pytest.mark.parametrize(
    ("entrypoint", "expected"),
    [
        ("no_colon", "expected 'package.module:function'"),
        ("missing.module:f", "cannot import 'missing.module'"),
        ("tests.unit.transforms.sample_transforms:numbrs", "Did you mean 'numbers'"),
    ],
)
def test_bad_entrypoints_are_configuration_errors(world, entrypoint, expected) -> None:
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        session.get(config.Transformation, numbers).transformation_template.entrypoint = entrypoint
        session.commit()
        outcome = run_transformation(world, session, numbers, _new_run(session, "small"))
    assert outcome.exit_code == 2
    assert expected in outcome.message


def test_the_worker_path_imports_nothing_it_does_not_need() -> None:
    # Worker start-up time is paid by every task: keep heavy libraries off its path.
    heavy = (
        "pandas",
        "alembic",
        "typer.rich_utils",
        "duckdb",
        "papermill",
        "paramiko",
        "core.cli",
        "airflow",
    )
    code = (
        "import sys, corebot.cli, core.helpers.session_helper, core.transforms.runtime, "
        "core.transforms.library.noop; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_a_module_failing_at_import_is_a_configuration_error(world) -> None:
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        template = session.get(config.Transformation, numbers).transformation_template
        template.entrypoint = "tests.unit.transforms.raising_module:anything"
        session.commit()
        outcome = run_transformation(world, session, numbers, _new_run(session, "small"))
    assert outcome.exit_code == 2
    assert "raised RuntimeError: the module failed while importing; fix the module" in (
        outcome.message
    )


def test_an_unusable_output_contract_fails_the_task_and_leaves_no_running_row(
    world, monkeypatch
) -> None:
    from core.settings import load_settings

    monkeypatch.setenv("CORE_BRANCH", "master")  # protected: refused in dev
    settings = load_settings()
    with SessionHelper(settings) as session:
        numbers, _ = _ids(session, "small")
        outcome = run_transformation(settings, session, numbers, _new_run(session, "small"))
        row = session.scalars(select(config.TaskRun)).one()
    assert outcome.exit_code == 2 and "protected" in outcome.message
    assert row.state == "failed" and "protected" in row.error_summary


def test_sys_exit_while_the_task_is_set_up_fails_it_and_exits_1_not_0(world, monkeypatch) -> None:
    # A worker exiting 0 is a success to Batch, Kubernetes and Airflow: a sys.exit(0) from
    # a transform's set-up (a variable's default computed by a helper that exits) must not
    # pass through the worker as its exit code.
    from core.transforms import runtime

    def exits(*args):
        raise SystemExit(0)

    monkeypatch.setattr(runtime, "_context", exits)
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        outcome = run_transformation(world, session, numbers, _new_run(session, "small"))
        row = session.scalars(select(config.TaskRun)).one()
    assert outcome.exit_code == 1 and outcome.message.startswith("SystemExit: 0")
    assert row.state == "failed" and row.error_summary.startswith("SystemExit: 0")


def test_the_configuration_transaction_is_closed_while_the_transform_runs(world) -> None:
    from core.transforms.runtime import build_context

    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        ctx = build_context(world, session, numbers, _new_run(session, "small"))
        assert ctx.variables == {"count": 5}
        assert not session.in_transaction()


@pytest.mark.parametrize("when", ["entering", "leaving"])
def test_a_stop_landing_as_the_guard_is_entered_or_left_still_ends_the_task(
    world, monkeypatch, when: str
) -> None:
    """A SIGTERM inside stop_guard's own set-up escaped as Terminated: the worker exited 1,
    which says "recorded", and left its row running for good (seen when a run was stopped
    just as its workers started). One landing as the guard is left follows a task that
    has ended: its outcome stands."""
    import contextlib

    import core.transforms.runtime as runtime
    from core.stop import Terminated

    @contextlib.contextmanager
    def stopped_guard(*_args, **_kwargs):
        if when == "entering":
            raise Terminated("terminated by signal SIGTERM")
        yield
        raise Terminated("terminated by signal SIGTERM")

    monkeypatch.setattr(runtime, "stop_guard", stopped_guard)
    with SessionHelper(world) as session:
        numbers, _ = _ids(session, "small")
        outcome = run_transformation(world, session, numbers, _new_run(session, "small"))
        row = session.scalars(select(config.TaskRun)).one()
    if when == "entering":
        assert (outcome.exit_code, row.state) == (1, "failed")
        assert "SIGTERM" in outcome.message and "SIGTERM" in row.error_summary
    else:
        assert (outcome.exit_code, row.state) == (0, "success")


class _Session:
    """What a held worker's wait does with its session: end its read transaction."""

    def __init__(self) -> None:
        self.rolled_back = False

    def rollback(self) -> None:
        self.rolled_back = True


@pytest.mark.parametrize(("template", "prepared"), [("sql", True), ("value_mapping", False)])
def test_a_held_worker_opens_the_database_its_template_reads_files_with(
    template: str, prepared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.helpers import duckdb_helper
    from core.transforms.runtime import prepare_worker

    monkeypatch.setattr(duckdb_helper, "_database", {})
    session = _Session()
    prepare_worker(session, template)  # type: ignore[arg-type]
    assert session.rolled_back
    assert ("spare" in duckdb_helper._database) is prepared
    assert "shared" in duckdb_helper._database  # the locked one, for every template
