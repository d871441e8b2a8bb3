"""The bad input catalogue, run: each case gets its clear error and loses nothing.

The cases are in ``bad_input_cases.py``; ``docs/reliability.md`` shows them as a
table rendered by ``catalogue.py`` (the last test here checks it is current).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.database.engine import get_engine
from core.errors import ContractNotFoundError
from core.lake import DatasetContract, RawContract
from core.settings import Settings, load_settings
from tests.reliability import catalogue
from tests.reliability.bad_input_cases import (
    API,
    CASES,
    CONFIGURATION,
    GOOD_FILE,
    GOOD_ROWS,
    INGEST,
    LAKE,
    NO_BODY,
    ApiCase,
    IngestCase,
    LakeCase,
    case_ids,
    unique_ids,
)
from tests.unit.api.resource_cases import World, load_world
from tests.unit.transforms.library.data_world import Pipeline, ingest_step, make_pipeline

# The template the variable cases configure: one variable of each kind they try.
TYPED_TEMPLATE = {
    "name": "typed",
    "variable_structures": {
        "dataset": {"type": "string"},
        "rows": {"type": "int"},
        "since": {"type": "date"},
        "options": {"type": "json", "required": False},
        "columns": {"type": "list", "required": False},
    },
}


def test_the_catalogue_holds_at_least_sixty_distinct_cases() -> None:
    assert unique_ids()
    assert len(CASES) >= 60
    assert len(CONFIGURATION) >= 20 and len(API) >= 15 and len(INGEST) + len(LAKE) >= 15


# --- the API -------------------------------------------------------------------------


@dataclass
class Api:
    """What an API case's checks use: the client, users' headers and the world's ids."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    world: World
    sign_in: Callable[[str], str]

    def get(self, path: str, role: str = "viewer") -> Any:
        """GET as a user of this role (a bearer token)."""
        return self.client.get(path, headers=self.headers[role])


def path_ids(world: World) -> dict[str, int]:
    """The ids a case's path may name: ``{pipeline}`` is acme_zentrix_patient_status."""
    ids = {"pipeline": world.pipeline["acme_zentrix_patient_status"]}
    # issue 17 (sec): the rows whose changes would rewrite history or break pipelines
    ids.update(
        ingest_state=world.state[("acme_zentrix_patient_status", "ingest")],
        raw_state=world.state[("acme_zentrix_patient_status", "raw")],
        raw_type=world.state_type["raw"],
        ingest_template=world.template["initial_ingest"],
        transformation=world.transformations["acme_zentrix_patient_status"][0],
    )
    return ids


def row_counts(app: FastAPI) -> dict[str, int]:
    """Rows of every table of the configuration database (the audit trail included)."""
    engine = get_engine(app.state.database_url)
    names = sa.inspect(engine).get_table_names()
    with engine.connect() as connection:
        counts = {
            name: connection.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) or 0
            for name in names
        }
        # A check that signs in (the UI's pages) records a browser session and its audit
        # row: the sign-in's writes, not the case's.
        if "web_sessions" in counts:
            counts.pop("web_sessions")
            events = sa.table("events", sa.column("table_name"))
            query = sa.select(sa.func.count()).select_from(events)
            sessions = query.where(events.c.table_name == "web_sessions")
            counts["events"] -= connection.scalar(sessions) or 0
        return counts


@pytest.fixture
def api(
    app: FastAPI,
    client: TestClient,
    users: dict[str, dict[str, str]],
    sign_in: Callable[[str], str],
) -> Api:
    """The sample world, the ``typed`` template the variable cases use, and the users."""
    created = client.post("/api/templates", json=TYPED_TEMPLATE, headers=users["admin"])
    assert created.status_code == 201, created.text
    for headers in users.values():  # a token's first use records it (an audited update)
        assert client.get("/api/session", headers=headers).status_code == 200
    return Api(client, users, load_world(app), sign_in)


def send(api: Api, case: ApiCase) -> Any:
    """Send the case's request as its role."""
    headers = dict(api.headers[case.role])
    options: dict[str, Any] = {}
    if case.content is not None:
        content = case.content() if callable(case.content) else case.content
        options["content"] = content
        headers["Content-Type"] = case.content_type
    elif case.body is not NO_BODY:
        options["json"] = case.body(api.world) if callable(case.body) else case.body
    path = case.path.format(**path_ids(api.world))
    return api.client.request(case.method, path, headers=headers, **options)


@pytest.mark.parametrize("case", [*CONFIGURATION, *API], ids=case_ids([*CONFIGURATION, *API]))
def test_an_api_request(case: ApiCase, api: Api, app: FastAPI) -> None:
    before = row_counts(app)
    response = send(api, case)
    assert response.status_code == case.status, response.text[:2000]
    assert response.status_code < 500
    for words in case.says:
        assert words in response.text, f"{words!r} not in {response.text[:2000]}"
    if case.loc is not None:
        problems = response.json()["detail"]
        assert list(case.loc) in [p["loc"] for p in problems], problems
    if case.check is not None:
        case.check(response, api)
    if not case.writes:
        assert row_counts(app) == before, "a refused request changed the database"


# --- data: initial_ingest --------------------------------------------------------------


def raw_files(pipeline: Pipeline, scratch: Path) -> dict[str, bytes]:
    """The raw folder's files and their bytes."""
    return {
        f.name: pipeline.raw.get_file(f.name, scratch / "copy").read_bytes()
        for f in pipeline.raw.list_files()
    }


@pytest.mark.parametrize("case", INGEST, ids=case_ids(INGEST))
def test_a_raw_file(
    case: IngestCase, core_env: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline = make_pipeline([ingest_step(cumulate_flag=True)])
    pipeline.raw.put_file(GOOD_FILE, "a_good.csv")
    first = pipeline.run(0)
    assert first.state == "success", first.error
    table = pipeline.contract("ingest", "data")
    version, rows = table.delta_table().version(), table.fetch_arrow().num_rows
    pipeline.new_run()
    files = case.files() if callable(case.files) else case.files
    for name, data in files.items():
        pipeline.store_as_is(data, name)
    if case.variables:
        pipeline.set_variables(0, **case.variables)
    stored = raw_files(pipeline, tmp_path)

    with caplog.at_level(logging.WARNING, "core.transforms"):
        result = pipeline.run(0)

    assert raw_files(pipeline, tmp_path) == stored, "the raw folder changed"
    if case.outcome == "failed":
        assert result.state == "failed"
        assert result.outcome.exit_code == case.exit_code
        for words in case.says:
            assert words in (result.error or ""), result.error
        assert table.delta_table().version() == version, "a failed ingest wrote a version"
        assert table.fetch_arrow().num_rows == rows
        assert table.fetch_arrow(run_id=pipeline.run_id).num_rows == 0
    else:
        assert result.state == "success", result.error
        published = pipeline.output("ingest", "data")
        assert published.num_rows == GOOD_ROWS + case.rows
        assert sorted(published.column_names) == ["__metadata_source_file", "id", "name"]
        if case.warns:
            assert case.warns in caplog.text


# --- data: the lake's contracts and tables ----------------------------------------------


@dataclass
class Lake:
    """A published dataset and a raw folder, for the lake cases to misuse."""

    settings: Settings
    table: DatasetContract
    raw: RawContract
    scratch: Path

    def state(self) -> tuple[int, list[dict[str, Any]], list[tuple[str, int]], list[str]]:
        """The table's version and rows, the raw folder's files, and the lake's paths."""
        rows = self.table.fetch_arrow(columns=["id", "name"]).sort_by("id").to_pylist()
        files = [(f.name, f.size) for f in self.raw.list_files()]
        root = Path(self.settings.lake_root or "")
        paths = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        return self.table.delta_table().version(), rows, files, paths


@pytest.fixture
def lake(core_env: Path, tmp_path: Path) -> Lake:
    """Dataset ``sales`` (run 1: id int64, name string, 2 rows) and raw folder ``drop``."""
    core_env.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    table = DatasetContract("acme", "zentrix", "ingest", "sales", settings=settings)
    table.publish(pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["ann", "bo"]}), 1)
    raw = RawContract("acme", "zentrix", "raw", "drop", settings=settings)
    raw.put_file(b"id\n1\n", "kept.csv")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return Lake(settings, table, raw, scratch)


@pytest.mark.parametrize("case", LAKE, ids=case_ids(LAKE))
def test_a_lake_call(case: LakeCase, lake: Lake) -> None:
    before = lake.state()
    with pytest.raises(case.error) as raised:
        case.call(lake)
    for words in case.says:
        assert words in str(raised.value), str(raised.value)
    assert lake.state() == before, "a refused call changed the lake"
    assert not list(lake.scratch.iterdir())


def test_a_table_that_was_never_published_is_not_created_by_a_refused_publish(
    lake: Lake,
) -> None:
    fresh = DatasetContract("acme", "zentrix", "ingest", "fresh", settings=lake.settings)
    with pytest.raises(Exception, match="more than once"):
        fresh.publish(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]), 1)
    with pytest.raises(ContractNotFoundError):
        fresh.delta_table()


# --- the document ------------------------------------------------------------------------


def test_docs_reliability_shows_the_current_catalogue() -> None:
    document = catalogue.DOCUMENT.read_text(encoding="utf-8")
    assert catalogue.section(CASES) in document, (
        "docs/reliability.md is out of date: run `.venv/bin/python -m tests.reliability.catalogue"
        " --write`"
    )
    for case in CASES:
        assert f"`{case.id}`" in document
