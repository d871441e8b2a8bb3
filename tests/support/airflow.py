"""A private Airflow for the tests: AIRFLOW_HOME in a temporary folder, set before import.

Airflow reads AIRFLOW_HOME when it is first imported, so the Airflow test packages
call :func:`configure_airflow` from their conftest, at import. The metadata
database (SQLite in that folder) is created once per session by
:func:`airflow_metadata_db`, only for tests that need it (``dag.test()``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPOSITORY / "core" / "airflow" / "dags"
EXECUTOR = DAGS_FOLDER / "executor.py"
_HOME: list[Path] = []


def configure_airflow() -> Path:
    """Point Airflow at a private home (once per process) and return it."""
    if _HOME:
        return _HOME[0]
    home = Path(tempfile.mkdtemp(prefix="core-tests-airflow-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    _HOME.append(home)
    return home


def airflow_metadata_db() -> None:
    """Create Airflow's metadata tables in the private home (idempotent)."""
    from airflow.utils import db

    db.initdb()
