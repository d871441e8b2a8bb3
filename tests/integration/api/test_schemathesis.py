"""Schemathesis against the app's OpenAPI spec: no request an admin can send is a server error.

Every operation of the spec (reads and writes) gets generated requests — valid ones
and ones that break the spec — through ASGI, authenticated as an admin with a
bearer token. The run is deterministic (a fixed seed, derandomized Hypothesis) and
bounded per operation (see MAX_EXAMPLES).
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

# PostgreSQL, which refuses more (NUL characters, integers beyond 32 bits, mixed-type
# comparisons), is fuzzed deepest: Schemathesis's coverage phase (every parameter's
# boundary and invalid values, about half of the run) and 15 generated examples per
# operation. The embedded SQLite database sees every operation with 5 generated
# examples, valid and invalid, and no coverage phase (alone: 34 s -> 13 s).
MAX_EXAMPLES = {"postgresql": 15, "sqlite": 5}
COVERAGE_PHASE = {"postgresql": True, "sqlite": False}
# The fuzzer's own admin and token have ids no generated request is likely to name
# (1, 2 and the largest id are), so that a generated DELETE /api/users/{id} or
# DELETE /api/tokens/{id} does not lock the rest of the run out.
FUZZER_ID = 765_432


def _config(backend: str) -> dict[str, Any]:
    generation = {"max-examples": MAX_EXAMPLES[backend], "deterministic": True, "database": "none"}
    phases = {"coverage": {"enabled": COVERAGE_PHASE[backend]}}
    return {"seed": 20240601, "generation": generation, "phases": phases}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, str, str]]:
    """One app on the sample configuration for the whole run, an admin's token, the backend.

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
        yield app, token, request.param
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
def api_schema(fuzzed_app: tuple[FastAPI, str, str]) -> Any:
    """The app's OpenAPI spec, loaded through ASGI."""
    app, _, backend = fuzzed_app
    config = schemathesis.Config.from_dict(_config(backend))
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # Schemathesis 4.32's fixture-loaded schemas read (and rewrite, to name each
    # operation) ``item._nodeid``, which pytest 9.2 no longer has: give it one.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_no_request_is_a_server_error(case: Any, fuzzed_app: tuple[FastAPI, str, str]) -> None:
    _, token, _ = fuzzed_app
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
