"""Airflow tests that run DAGs (``dag.test()``) against a SQLite metadata database."""

from __future__ import annotations

import pytest

from tests.support.airflow import airflow_metadata_db, configure_airflow

configure_airflow()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database, created once per session."""
    airflow_metadata_db()


from tests.unit.conftest import world  # noqa: E402, F401  (the small world of python transforms)
