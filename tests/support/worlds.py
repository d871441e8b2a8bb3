"""A test's own configuration database, holding only the world the test describes."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from core.database import migrate
from core.database.engine import get_engine
from core.database.seed import World, load_world
from core.helpers.session_helper import SessionHelper, resolve_database_url
from core.settings import Settings, load_settings


def load_test_world(world: World | dict[str, Any] | str) -> Settings:
    """Migrate this test's configuration database and load ``world`` into it.

    The database is the one the environment names (CORE_DATABASE_URL, else the
    embedded dev database under CORE_HOME). Migrating it first means it is never
    seeded with the sample configuration.

    Args:
        world: a World, its dict, or its YAML text.

    Returns:
        The settings of that database.
    """
    if isinstance(world, str):
        world = yaml.safe_load(world)
    if not isinstance(world, World):
        world = World.model_validate(world)
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    url = resolve_database_url(settings)
    path = Path(make_url(url).database or "")
    if url == settings.embedded_database_url and not path.exists():
        shutil.copy(_migrated_embedded_database(), path)  # what upgrade makes, 50x faster
    else:
        migrate.upgrade(url)
    with SessionHelper(settings) as session:
        load_world(session, world)
        session.commit()
    return settings


@cache
def _migrated_embedded_database() -> Path:
    """An embedded database migrated to the newest revision, made once per process."""
    folder = tempfile.mkdtemp(prefix="core-migrated-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    url = f"sqlite:///{folder}/configuration.db"
    migrate.upgrade(url)
    get_engine(url).dispose()  # nothing of it stays open while it is copied
    return Path(folder) / "configuration.db"
