import re

from core.helpers.session_helper import SessionHelper
from core.plan import load_plan
from tests.support.cli import core


def test_core_run_prints_progress_and_a_summary(world, capsys) -> None:
    assert core("run", "small", "--workers", "2") == 0
    out = capsys.readouterr().out
    assert "started" in out and "✓" in out
    assert out.startswith("core run: running small with 2 workers\n")  # before any import
    assert re.search(r"✓ task 1 of 2, \d\d:\d\d\.\d: ingest_numbers_\d+ finished", out)
    assert "run 1 of small: success" in out
    assert "ingest_numbers_" in out and "master_doubled_" in out


def test_core_run_exits_1_when_a_task_failed_and_runs_show_explains(world, capsys) -> None:
    assert core("run", "failing") == 1
    out = capsys.readouterr().out
    assert "upstream_failed" in out and "ValueError: the source had no header row" in out
    assert core("runs", "list") == 0
    assert "failing" in capsys.readouterr().out
    assert core("runs", "show", "1") == 0
    shown = capsys.readouterr().out
    assert "failed" in shown and "log of ingest_broken_" in shown


def test_core_run_unknown_pipeline(world, capsys) -> None:
    assert core("run", "nope") == 2
    assert capsys.readouterr().err.startswith("FAILED: no pipeline named 'nope'")


def test_transforms_run_creates_a_run_and_reports(world, capsys) -> None:
    with SessionHelper(world) as session:
        numbers = load_plan(session, "small").tasks[0].transformation_id
    assert core("transforms", "run", str(numbers)) == 0
    assert "wrote 5 rows" in capsys.readouterr().out
    assert core("transforms", "run", str(numbers), "--run-id", "1") == 0
    assert core("transforms", "run", "999") == 2
    assert "no transformation has id 999" in capsys.readouterr().err


def test_transforms_list_and_register(world, capsys) -> None:
    assert core("transforms", "register") == 0
    assert "standard transforms registered" in capsys.readouterr().out
    assert core("transforms", "list") == 0
    out = capsys.readouterr().out
    assert "noop" in out and "numbers" in out


def test_a_resume_says_which_configuration_and_runs_show_lists_the_changes(world, capsys) -> None:
    from core.models import configuration as config

    assert core("run", "failing") == 1
    with SessionHelper(world, actor="ana@example.com") as session:
        numbers = load_plan(session, "failing").tasks[0].transformation_id
        session.get(config.Transformation, numbers).set_variables({"count": 4})
        session.commit()
    capsys.readouterr()
    assert core("run", "failing", "--resume", "1", "--configuration", "pinned") == 1
    assert "(configuration: as it was, the snapshot kept on resume, resumed by core run)" in (
        " ".join(capsys.readouterr().out.split())
    )
    assert core("run", "failing", "--resume", "1", "--configuration", "latest") == 2
    assert "expected current (the configuration now) or pinned" in capsys.readouterr().err
    assert core("run", "failing") == 1  # run 2, with count 4
    capsys.readouterr()
    assert core("runs", "show", "2") == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "changes since run 1" in shown and "variable count │ 3 │ 4" in shown


def test_core_run_refuses_configuration_without_resume(world, capsys) -> None:
    assert core("run", "small", "--configuration", "pinned") == 2
    err = capsys.readouterr().err
    assert "--configuration pinned chooses what a resumed run uses" in err
    assert "--resume RUN_ID" in err
    with SessionHelper(world) as session:  # nothing was started
        from core.models.runs import RunEvent

        assert session.query(RunEvent).count() == 0


def test_core_runs_list_filters_as_the_ui_and_the_api_do(world, capsys) -> None:
    assert core("run", "failing") == 1
    capsys.readouterr()
    assert core("runs", "list", "--state", "failed", "--started-by", "CORE RUN") == 0
    assert "failing" in capsys.readouterr().out
    assert core("runs", "list", "--state", "success") == 0
    assert "failing" not in capsys.readouterr().out
    assert core("runs", "list", "--since", "2026-12-05", "--until", "2026-12-01") == 2
    assert "until: expected a day on or after since" in capsys.readouterr().err
    assert core("runs", "list", "--pipeline", "failin") == 2
    assert "Did you mean 'failing'?" in capsys.readouterr().err


def test_runs_log_prints_a_task_s_log_and_the_worker_records_airflow_s_try(
    world, capsys, monkeypatch
) -> None:
    from core.runs import task_runs

    monkeypatch.setenv("AIRFLOW_CTX_TRY_NUMBER", "4")  # as Airflow exports it to its task
    assert core("run", "failing") == 1
    with SessionHelper(world) as session:
        broken = load_plan(session, "failing").tasks[1].transformation_id
        assert task_runs(session, 1)[broken].try_number == 4
    capsys.readouterr()
    assert core("runs", "log", "1", str(broken), "--tail", "1") == 0  # of its 2 tries' lines
    out = capsys.readouterr().out
    assert "ValueError: the source had no header row" in out and len(out.splitlines()) == 1
    assert core("runs", "log", "1", "999") == 2
    assert "FAILED: run 1 has no task of transformation 999" in capsys.readouterr().err
