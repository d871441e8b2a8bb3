"""Fixtures every test shares: an isolated CORE environment, and real services.

Services (PostgreSQL, moto's server) are started by the tests themselves. When
one cannot start, the test is skipped with what to install, except under
CI=true, where a missing service fails the run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.database.engine import dispose_engines
from tests.support.aws import FAKE_CREDENTIALS, moto_endpoint
from tests.support.postgres import (
    PostgresCluster,
    create_database,
    find_binary,
    running_cluster,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_service(what: str, install: str) -> None:
    """Skip (on a workstation) or fail (in CI) a test whose service is missing."""
    message = f"{what} is not available; install {install}"
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def new_cluster() -> Iterator[PostgresCluster]:
    """A new PostgreSQL cluster; skipped (failed under CI) when PostgreSQL is not installed."""
    if not find_binary("initdb") or not find_binary("pg_ctl"):
        missing_service("PostgreSQL (initdb, pg_ctl)", "the postgresql package")
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def core_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private CORE_HOME for every test, and no CORE_* variable leaking in."""
    for key in list(os.environ):
        if key.startswith("CORE_"):
            monkeypatch.delenv(key)
    home = tmp_path / "core_home"
    monkeypatch.setenv("CORE_HOME", str(home))
    monkeypatch.setenv("CORE_CONFIG", str(tmp_path / "absent-core.toml"))
    yield home
    dispose_engines()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the session (initdb + pg_ctl)."""
    with new_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's cluster, for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return create_database(postgres_cluster, name)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server (S3, Secrets Manager, Batch) on a loopback port."""
    with moto_endpoint() as url:
        yield url


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Fake credentials and CORE_AWS_ENDPOINT_URL pointing at moto's server."""
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CORE_AWS_ENDPOINT_URL", moto_url)
    return moto_url


@pytest.fixture(scope="session")
def kernel() -> str:
    """The name of the Jupyter kernel notebooks run in; skipped (failed in CI) when missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        missing_service("the Jupyter kernel 'python3'", "ipykernel into .venv (script/bootstrap)")
    return "python3"


@pytest.fixture
def sales():
    """A small frame with ints, floats, strings and dates (lake tests, local and S3)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "amount": [1.5, 2.5, None],
            "region": ["east", "west", "east"],
            "day": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]).date,
        }
    )
