"""Alembic's environment for the configuration application.

The connection comes from ``config.attributes['connection']`` when CORE runs a
migration itself (``core db upgrade``, SessionHelper, tests); otherwise, when
alembic is run by hand, from CORE's settings.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from core.database.engine import get_engine, metadata_for, schema_translation
from core.models.base import AUDIT_SCHEMA
from core.models.configuration import Base

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, _parent: dict) -> bool:
    # Only CORE's schemas: the default one and auditing, never others in a shared database.
    if type_ == "schema":
        return name in (None, AUDIT_SCHEMA)
    return True


def _run(connection: Connection) -> None:
    connection = connection.execution_options(schema_translate_map=schema_translation(connection))
    context.configure(
        connection=connection,
        target_metadata=metadata_for(connection, target_metadata),
        include_schemas=connection.dialect.name == "postgresql",
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    from core.helpers.session_helper import resolve_database_url
    from core.settings import load_settings

    engine = get_engine(resolve_database_url(load_settings()))
    with engine.connect() as connection:
        _run(connection)
        connection.commit()


_main()
