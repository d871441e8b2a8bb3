import sys

import pytest
import typer

from core.cli import run
from core.database import migrate
from core.settings import load_settings
from corebot.cli import app as corebot_app
from tests.support.cli import core


def test_pipelines_list_with_filters(capsys) -> None:
    assert core("pipelines", "list") == 0
    out = capsys.readouterr().out
    assert "acme_zentrix_patient_status" in out and "bluepeak_orvida_sales" in out
    assert core("pipelines", "list", "--inactive") == 0
    out = capsys.readouterr().out
    assert "bluepeak_orvida_sales" in out and "acme_zentrix_patient_status" not in out
    assert (
        core("pipelines", "list", "--company", "acme_pharma", "--type", "specialty_pharmacy") == 0
    )
    out = capsys.readouterr().out
    assert "acme_zentrix_patient_status" in out and "bluepeak" not in out
    assert core("pipelines", "list", "--brand", "nope") == 0
    assert "no pipeline matches" in capsys.readouterr().out


def test_pipelines_show_prints_groups_in_order_with_typed_variables(capsys) -> None:
    assert core("pipelines", "show", "acme_zentrix_patient_status") == 0
    out = capsys.readouterr().out
    order = [out.index(f" {state} ") for state in ("raw", "ingest", "master", "enrich", "metrics")]
    assert order == sorted(order)
    assert "skip_rows=0" in out and "header=True" in out


def test_pipelines_show_unknown_name_fails_with_a_suggestion(capsys) -> None:
    assert core("pipelines", "show", "acme_zentrix_patient_statu") == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "FAILED: no pipeline named 'acme_zentrix_patient_statu'. "
        "Did you mean 'acme_zentrix_patient_status'?"
    )


def test_debug_shows_the_traceback(capsys) -> None:
    assert core("--debug", "pipelines", "show", "nope") == 2
    assert "Traceback" in capsys.readouterr().err


def test_show_needs_a_name_or_all(capsys) -> None:
    assert core("pipelines", "show") == 2
    assert "give a pipeline NAME or --all" in capsys.readouterr().err


def test_pipelines_show_marks_invalid_variables(capsys) -> None:
    from sqlalchemy import select

    import core.models.configuration as config
    from core.helpers.session_helper import SessionHelper

    with SessionHelper() as session:
        variable = session.scalars(
            select(config.TransformationVariable).where(
                config.TransformationVariable.name == "skip_rows"
            )
        ).first()
        if variable is None:
            transformation = session.scalars(
                select(config.Transformation)
                .join(config.Transformation.transformation_template)
                .where(config.TransformationTemplate.name == "initial_ingest")
            ).first()
            transformation.set_variables({**transformation.stored_variables, "skip_rows": "x"})
        session.commit()
    assert core("pipelines", "show", "acme_zentrix_patient_status") == 0
    assert "INVALID" in capsys.readouterr().out


def test_db_commands_on_a_fresh_database(tmp_path, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("CORE_DATABASE_URL", url)
    assert core("db", "current") == 0
    assert "database: none" in capsys.readouterr().out
    assert core("db", "upgrade") == 0
    assert migrate.current_revision(url) == migrate.head_revision()
    assert core("db", "seed") == 0
    assert "added 3 pipelines" in capsys.readouterr().out
    assert core("db", "seed") == 0
    assert "nothing to add" in capsys.readouterr().out
    assert core("db", "downgrade", "base") == 0
    assert migrate.current_revision(url) is None
    assert core("db", "downgrade", "nonsense") == 1
    assert capsys.readouterr().err.startswith("FAILED: downgrade to nonsense failed")


def test_db_seed_with_a_bad_world_file_names_the_entry(tmp_path, capsys) -> None:
    bad = tmp_path / "world.yaml"
    bad.write_text("pipelines:\n  - name: x\n    company: c\n")
    assert core("db", "seed", "--file", str(bad)) == 2
    assert "world.yaml: pipelines.0.brand: Field required" in capsys.readouterr().err


def test_bad_settings_fail_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "staging")
    assert core("pipelines", "list") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "CORE_ENVIRONMENT='staging' is not valid: expected one of dev, test, uat, prod" in err


def test_usage_errors_exit_2(capsys) -> None:
    assert core("pipelines", "frobnicate") == 2
    assert "No such command" in capsys.readouterr().err


def test_version(capsys) -> None:
    assert core("--version") == 0
    assert capsys.readouterr().out.startswith("core ")


def test_corebot_info(capsys) -> None:
    assert run(typer.main.get_command(corebot_app), ["info"], "corebot") == 0
    out = capsys.readouterr().out
    assert f"home: {load_settings().home}" in out
    assert "worker_backend: local" in out


@pytest.mark.parametrize("script", ["bootstrap", "setup", "update", "test", "console", "demo"])
def test_scripts_refuse_to_run_outside_the_repository_root(script, tmp_path) -> None:
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["sh", str(root / "script" / script)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"FAILED: script/{script} must be run from the repository root" in result.stderr


@pytest.mark.parametrize("named", [None, "3.11", sys.executable])
def test_bootstrap_builds_the_venv_on_the_distributions_interpreter_unless_one_is_named(
    named,
) -> None:
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    version = (root / ".python-version").read_text().strip()
    env = {k: v for k, v in os.environ.items() if k != "CORE_PYTHON"}
    if named:
        env["CORE_PYTHON"] = named
    asked = subprocess.run(
        ["sh", "-c", ". script/lib.sh && python_request"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    distribution = Path(f"/usr/bin/python{version}")
    expected = named or (str(distribution) if os.access(distribution, os.X_OK) else version)
    assert asked == expected


def test_bootstrap_refuses_a_named_interpreter_that_is_not_there(tmp_path) -> None:
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    missing = tmp_path / "python3.11"
    env = {**os.environ, "CORE_PYTHON": str(missing)}
    result = subprocess.run(
        ["sh", "script/bootstrap"], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"FAILED: CORE_PYTHON is '{missing}', which is not an executable file" in result.stderr
    assert "unset it to use the default" in result.stderr


def test_db_revision_writes_a_migration_file(tmp_path, monkeypatch, capsys) -> None:
    import shutil

    from core.database import migrate as migrate_module

    copy = tmp_path / "database"
    shutil.copytree(migrate_module.DATABASE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate_module, "DATABASE_DIR", copy)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("CORE_DATABASE_URL", url)
    assert core("db", "upgrade") == 0
    head = migrate_module.head_revision()
    assert core("db", "revision", "-m", "add a column", "--autogenerate") == 0
    written = list((copy / "versions").glob("*add_a_column.py"))
    assert len(written) == 1
    source = written[0].read_text()
    assert f"Revises: {head}" in source
    assert "op." not in source  # no drift between the models and the migrations
    assert f"wrote {written[0]}" in capsys.readouterr().out


def test_database_commands_in_prod_need_no_lake(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "prod")
    monkeypatch.setenv("CORE_DATABASE_URL", f"sqlite:///{tmp_path / 'prod.db'}")
    assert core("db", "upgrade") == 0
    assert core("db", "current") == 0
    assert migrate.head_revision() in capsys.readouterr().out
    assert core("pipelines", "list") == 0
    assert "no pipeline matches" in capsys.readouterr().out
    assert core("db", "downgrade", "base") == 0
    assert core("lake", "ls") == 2  # what touches the lake asks for it, in one line
    err = capsys.readouterr().err
    assert err.startswith("FAILED: CORE_LAKE_ROOT is required when CORE_ENVIRONMENT=prod")
