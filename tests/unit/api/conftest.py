"""An application on the sample configuration, and users of each role with API tokens.

The migrated and seeded embedded database is built once per session and copied
into each test's private CORE_HOME, so every test starts from the same rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.helpers.session_helper import prepare_database
from core.settings import Settings, load_settings
from tests.unit.api.worlds import PASSWORD, users_for  # noqa: F401 - PASSWORD: shared


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated embedded database holding the sample configuration."""
    home = tmp_path_factory.mktemp("seeded_home")
    settings = load_settings({"CORE_HOME": str(home)})
    prepare_database(settings, settings.embedded_database_url)
    return home / "configuration.db"


@pytest.fixture
def settings(core_env: Path, seeded_database: Path) -> Settings:
    """Dev settings whose embedded database is a fresh copy of the seeded one."""
    core_env.mkdir(parents=True, exist_ok=True)
    shutil.copy(seeded_database, core_env / "configuration.db")
    return load_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The web application on these settings."""
    return create_app(settings)


@pytest.fixture
def users(settings: Settings) -> dict[str, dict[str, str]]:
    """role -> the Authorization header of a user with that role (email ROLE@example.com)."""
    return users_for(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the app over HTTPS (the session cookie is Secure)."""
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def admin(users: dict[str, dict[str, str]]) -> dict[str, str]:
    """An admin's Authorization header."""
    return users["admin"]


@pytest.fixture
def editor(users: dict[str, dict[str, str]]) -> dict[str, str]:
    """An editor's Authorization header."""
    return users["editor"]


@pytest.fixture
def viewer(users: dict[str, dict[str, str]]) -> dict[str, str]:
    """A viewer's Authorization header."""
    return users["viewer"]
