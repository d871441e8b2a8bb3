"""Schemathesis against the app's OpenAPI spec: no request an admin can send is a server error.

Every operation of the spec (reads and writes) gets generated requests — valid ones
and ones that break the spec — through ASGI, authenticated as an admin with a
bearer token. The run is deterministic (a fixed seed, derandomized Hypothesis) and
bounded per operation, so it takes about a minute on two cores.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error

from core.api.app import create_app
from core.database import migrate
from core.database.engine import dispose_engines, get_engine
from core.database.seed import load_world, sample_world
from core.helpers.session_helper import make_session
from core.models.administrators import Administrator, ApiToken
from core.service import run_controls
from core.service import runs as runs_service
from core.service.users import token_hash
from core.settings import load_settings
from tests.unit.api.resource_cases import database

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 15
# The fuzzer's own admin and token have ids no generated request is likely to name
# (1, 2 and the largest id are), so that a generated DELETE /api/users/{id} or
# DELETE /api/tokens/{id} does not lock the rest of the run out.
FUZZER_ID = 765_432
CONFIG = {
    "seed": 20240601,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, str]]:
    """One app on the sample configuration for the whole run, and an admin's token.

    Once on the embedded SQLite database and once on PostgreSQL, which refuses more
    (NUL characters in text, integers beyond 32 bits, comparisons of mixed types).
    """
    home = tmp_path_factory.mktemp("fuzzed_home")
    environ = {"CORE_HOME": str(home), "CORE_CONFIG": str(Path(home) / "absent.toml")}
    if request.param == "postgresql":
        environ.update(CORE_DATABASE_URL=_seeded_postgres(request), CORE_ENVIRONMENT="dev")
    app = create_app(load_settings(environ))
    token = "core_" + secrets.token_urlsafe(32)
    with database(app) as session:
        session.add(Administrator(id=FUZZER_ID, email_address="fuzzer@example.com", role="admin"))
        session.flush()
        session.add(
            ApiToken(
                id=FUZZER_ID,
                administrator_id=FUZZER_ID,
                name="schemathesis",
                prefix=token[:12],
                token_hash=token_hash(token),
            )
        )
        session.commit()
    # The fuzzer judges answers, not runs: a run it starts is recorded but its runner
    # process is not started, else each would work for half a minute in the background
    # of the suite (the detached runner is tested in tests/unit/api/test_runs.py).
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs_service, "spawn_runner", lambda *args: None)
        patch.setattr(run_controls, "spawn_runner", lambda *args: None)
        yield app, token
    dispose_engines()


def _seeded_postgres(request: pytest.FixtureRequest) -> str:
    """A new database on the session's cluster, migrated and holding the sample world."""
    import sqlalchemy as sa

    cluster = request.getfixturevalue("postgres_cluster")
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("DROP DATABASE IF EXISTS fuzzed_api WITH (FORCE)"))
        connection.execute(sa.text("CREATE DATABASE fuzzed_api"))
    admin.dispose()
    url = cluster.url("fuzzed_api")
    migrate.upgrade(url)
    with make_session(get_engine(url), actor="seed") as session:
        load_world(session, sample_world())
        session.commit()
    return url


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: tuple[FastAPI, str]) -> Any:
    """The app's OpenAPI spec, loaded through ASGI."""
    app, _ = fuzzed_app
    config = schemathesis.Config.from_dict(CONFIG)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # Schemathesis 4.32's fixture-loaded schemas read (and rewrite, to name each
    # operation) ``item._nodeid``, which pytest 9.2 no longer has: give it one.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_no_request_is_a_server_error(case: Any, fuzzed_app: tuple[FastAPI, str]) -> None:
    _, token = fuzzed_app
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
