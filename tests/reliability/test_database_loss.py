"""Issue 17 item 3: a lost configuration database never re-seeds itself.

Renaming the embedded ``configuration.db`` made the DAG file create and seed a fresh
one: the custom pipelines' DAGs vanished, the sample's appeared and the last good plans
were overwritten. Once CORE has created (or used) an embedded database it records that
beside it; from then on a missing or empty database is refused by every process (DAG
file, worker, API, runner) with an error that says how to restore or re-create it, and
the DAG file keeps its last good DAGs. A locked database makes the DAG file fall back
within ``dag_database_timeout`` (default 5 s), well inside Airflow's 30 s
``dagbag_import_timeout`` (it took 64.6 s). PostgreSQL: an empty database is refused
the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.database.engine import dispose_engines
from core.errors import DatabaseError, SettingsError
from core.helpers.session_helper import SessionHelper, created_marker
from core.models import configuration as cfg
from core.settings import Settings, load_settings
from tests.support.worlds import load_test_world

CUSTOM_WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}]}]
templates:
  - name: noop
pipelines:
  - name: custom_claims
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: noop}]
"""
RESTORE_HINT = "`core db upgrade` then `core db seed`"


@pytest.fixture
def custom(core_env: Path) -> Settings:
    """Dev settings on an embedded database holding only the custom pipeline."""
    return load_test_world(CUSTOM_WORLD)


def database_of(settings: Settings) -> Path:
    return settings.home / "configuration.db"


def lose(settings: Settings) -> Path:
    """Move the embedded database away, as an operator's mistake would; its new path."""
    dispose_engines()
    moved = database_of(settings).with_name("configuration.db.moved")
    database_of(settings).rename(moved)
    return moved


def fresh_process_state() -> None:
    """Forget what this process prepared, as a new worker or DAG parse would."""
    from core.helpers import session_helper

    session_helper._PREPARED.clear()
    dispose_engines()


def test_the_first_use_records_that_core_created_the_database(core_env: Path) -> None:
    settings = load_settings()
    with SessionHelper(settings) as session:  # the seed's promise: created and seeded
        assert session.query(cfg.Pipeline).count() == 3
    assert created_marker(database_of(settings)).exists()


def test_a_lost_embedded_database_is_refused_not_seeded_again(custom: Settings) -> None:
    lose(custom)
    fresh_process_state()
    with pytest.raises(DatabaseError) as raised:
        SessionHelper(custom)
    message = str(raised.value)
    assert f"the configuration database {database_of(custom)} is missing" in message
    assert RESTORE_HINT in message and "Restore it from a backup" in message
    assert not database_of(custom).exists(), "a new database was created in its place"


def test_an_emptied_embedded_database_is_refused(custom: Settings) -> None:
    dispose_engines()
    database_of(custom).write_bytes(b"")
    fresh_process_state()
    with pytest.raises(DatabaseError, match="is empty, but CORE created it before"):
        SessionHelper(custom)
    assert database_of(custom).stat().st_size == 0


def test_re_creating_on_purpose_works(custom: Settings) -> None:
    from typer.testing import CliRunner

    from core.cli import app

    lose(custom)
    fresh_process_state()
    runner = CliRunner()
    upgrade = runner.invoke(app, ["db", "upgrade"])
    assert upgrade.exit_code == 0, upgrade.output
    seed = runner.invoke(app, ["db", "seed"])
    assert seed.exit_code == 0, seed.output
    fresh_process_state()
    with SessionHelper(custom) as session:
        assert session.query(cfg.Pipeline).count() == 3  # the sample, as asked


def test_the_api_refuses_to_start_on_a_lost_database(custom: Settings) -> None:
    from core.api.app import create_app

    lose(custom)
    fresh_process_state()
    with pytest.raises(DatabaseError, match="is missing, but CORE created it before"):
        create_app(custom)
    assert not database_of(custom).exists()


def run_cli(settings: Settings, module: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    code = f"import sys; from {module} import main; main(sys.argv[1:])"
    process = subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**env, **settings.to_environment()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return process.returncode, process.stdout + process.stderr


def test_a_worker_and_the_runner_whose_database_vanished_say_so(custom: Settings) -> None:
    lose(custom)
    code, output = run_cli(custom, "corebot.cli", "run", "1", "2")
    assert code != 0
    assert "Traceback" not in output, output
    assert "no run with id" not in output, output
    assert f"FAILED: the configuration database {database_of(custom)} is missing" in output
    assert RESTORE_HINT in output
    code, output = run_cli(custom, "core.cli", "run", "custom_claims")
    assert code != 0 and "Traceback" not in output, output
    assert "is missing, but CORE created it before" in output
    assert not database_of(custom).exists()


def test_a_database_that_vanishes_while_open_is_not_recreated(custom: Settings) -> None:
    from sqlalchemy import text

    from core.database.engine import database_lost_means

    helper = SessionHelper(custom)
    helper.close()
    database_of(custom).rename(database_of(custom).with_name("gone.db"))
    dispose_engines()  # the pool's open connections would still see the moved file
    with (
        pytest.raises(DatabaseError) as raised,
        database_lost_means("nothing was recorded"),
        SessionHelper(custom) as session,
    ):
        session.execute(text("SELECT count(*) FROM pipelines"))
    assert "does not exist (moved or deleted?)" in str(raised.value)
    assert not database_of(custom).exists()


def test_an_empty_core_home_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"CORE_HOME='' is not valid: expected a folder"):
        load_settings({"CORE_HOME": ""})
    with pytest.raises(SettingsError, match="CORE_HOME"):
        load_settings({"CORE_HOME": "  "})


# --- the DAG file ---------------------------------------------------------------------


@pytest.fixture
def dag_builder() -> type:
    from tests.support.airflow import configure_airflow

    configure_airflow()  # before Airflow is imported
    from core.airflow.dagbuilder.dag_builder import DagBuilder

    return DagBuilder


def test_the_dag_file_keeps_the_last_good_dags_when_the_database_is_lost(
    custom: Settings, dag_builder: type
) -> None:
    good = dag_builder(custom).do_build_dags()
    assert sorted(good) == ["custom_claims"]
    plans = custom.airflow_dag_cache / "plans.json"
    saved = plans.read_bytes()
    lose(custom)
    fresh_process_state()
    builder = dag_builder(custom)
    kept = builder.do_build_dags()
    assert sorted(kept) == ["custom_claims"], "the sample's DAGs replaced the custom ones"
    assert "is missing, but CORE created it before" in builder.problems["*"]
    assert not database_of(custom).exists()
    assert cached_pipelines(plans.read_bytes()) == cached_pipelines(saved) == ["custom_claims"]


def cached_pipelines(data: bytes) -> list[str]:
    """The pipelines whose last good plans a plans.json holds."""
    return sorted(json.loads(data)["plans"])


@pytest.fixture
def locked(custom: Settings) -> Iterator[None]:
    """Another process holds an exclusive lock on the embedded database."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
            str(database_of(custom)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate(input="", timeout=60)


def test_a_locked_database_falls_back_within_the_dag_timeout(
    custom: Settings, dag_builder: type, request: pytest.FixtureRequest
) -> None:
    good = dag_builder(custom).do_build_dags()
    fresh_process_state()
    request.getfixturevalue("locked")
    builder = dag_builder(custom)
    kept = builder.do_build_dags()
    assert sorted(kept) == sorted(good)
    assert "database is locked" in builder.problems["*"]
    # That it waits dag_database_timeout once (not three times over, 64.6 s before),
    # within Airflow's 30 s dagbag_import_timeout: the next test counts the waits.


def test_a_locked_database_is_waited_for_only_once(
    custom: Settings,
    dag_builder: type,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.airflow.dagbuilder import dag_builder as module

    dag_builder(custom).do_build_dags()
    fresh_process_state()
    request.getfixturevalue("locked")
    waits: list[float] = []
    real = module.SessionHelper

    def waiting(*args: object, **kwargs: object) -> object:
        waits.append(kwargs["lock_timeout"])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "SessionHelper", waiting)
    dag_builder(custom).do_build_dags()
    assert waits == [custom.dag_database_timeout], "the DAG file waited for the lock again"


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.mark.integration
def test_an_empty_postgresql_database_is_refused_naming_the_fix(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    settings = load_settings()
    with pytest.raises(DatabaseError) as raised:
        SessionHelper(settings)
    message = str(raised.value)
    assert "is empty (no CORE tables)" in message
    assert "`core db upgrade`" in message and "`core db seed`" in message


@pytest.mark.integration
def test_the_dag_file_keeps_its_dags_when_postgresql_is_emptied(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, dag_builder: type
) -> None:
    from core.database import migrate

    monkeypatch.setenv("CORE_DATABASE_URL", postgres_url)
    settings = load_test_world(CUSTOM_WORLD)
    good = dag_builder(settings).do_build_dags()
    migrate.downgrade(postgres_url, "base")  # every table dropped
    fresh_process_state()
    builder = dag_builder(settings)
    assert sorted(builder.do_build_dags()) == sorted(good) == ["custom_claims"]
    assert "is empty (no CORE tables)" in builder.problems["*"]


def test_a_missing_sqlite_file_named_by_url_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "elsewhere" / "configuration.db"
    monkeypatch.setenv("CORE_DATABASE_URL", f"sqlite:///{missing}")
    with pytest.raises(DatabaseError, match="does not exist: restore it from a backup"):
        SessionHelper(load_settings())
    assert not missing.exists()
