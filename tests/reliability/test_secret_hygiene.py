"""Secrets never appear in logs, notebooks, task runs, run events, API responses or exceptions.

Secrets hold canary values (``S3CR3T-canary-…``). A pipeline that uses them runs on the
local runner, each task a ``corebot`` worker process, at log level DEBUG:

- raw: ``extract_from_sftp`` logs in to a real SFTP server on loopback with the
  ``hub`` SFTP secret, whose password is a canary;
- ingest: a Python transform reads the ``warehouse`` database secret through
  ``ctx.secret``, logs it and builds its connection URL;
- master: a notebook transform does the same in a real kernel.

Then everything a person or another system could read is searched for the canaries;
so are the exceptions raised when a secret is missing, malformed or refused.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa
import tomli_w
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.database.engine import get_engine
from core.errors import CoreError
from core.helpers.session_helper import SessionHelper
from core.models.administrators import Administrator
from core.runner.local import LocalRunner
from core.secret import Secret, clear_cache, set_secret
from core.service.users import issue_token
from core.settings import Settings, load_settings
from tests.integration.transforms.transfer import sftp_server
from tests.reliability.secret_transforms import NOTEBOOK_SOURCE
from tests.unit.transforms.library.transfer_world import make_world

CANARY = "S3CR3T-canary-"


def canary(what: str) -> str:
    """A distinctive secret value: nothing else can contain it by chance."""
    return f"{CANARY}{what}-{uuid.uuid4().hex}"


TEMPLATES = [  # besides the transfer templates (extract_from_sftp)
    {
        "name": "database_report",
        "state": "ingest",
        "entrypoint": "tests.reliability.secret_transforms:database_report",
        "variables": {"secret_name": {"type": "string"}},
    },
    {
        "name": "vault_report",
        "state": "master",
        "kind": "notebook",
        "variables": {"secret_name": {"type": "string", "default": "warehouse"}},
    },
]
STATES = [
    {
        "state": "raw",
        "transformations": [
            {
                "template": "extract_from_sftp",
                "variables": {
                    "secret_name": "hub",
                    "remote_path": "/outgoing",
                    "prefix": "enrollments",
                    "retries": 1,
                    "backoff_seconds": 0.01,
                },
            }
        ],
    },
    {
        "state": "ingest",
        "transformations": [
            {"template": "database_report", "variables": {"secret_name": "warehouse"}}
        ],
    },
    {"state": "master", "transformations": [{"template": "vault_report"}]},
]


@dataclass
class Vault:
    """The world, its secrets' canaries, and the SFTP server the pipeline logs in to."""

    settings: Settings
    canaries: dict[str, str]
    server: sftp_server.SftpServer

    def set_sftp_password(self, password: str) -> None:
        """Store another password in the ``hub`` secret (the server keeps its own)."""
        set_secret("all/SFTP/hub/read", {"password": password}, self.settings)
        clear_cache()


def write_notebook(folder: Path) -> None:
    """``vault_report.ipynb``: reads the warehouse secret, prints it, publishes lengths."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for tag, source in NOTEBOOK_SOURCE:
        cell = nbformat.v4.new_code_cell(source)
        if tag:
            cell.metadata["tags"] = [tag]
        notebook.cells.append(cell)
    nbformat.write(notebook, folder / "vault_report.ipynb")


@pytest.fixture
def vault(
    core_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: str
) -> Iterator[Vault]:
    """Secrets with canary values (kept outside CORE_HOME), the world, a live SFTP server."""
    canaries = {"sftp": canary("sftp"), "database": canary("database")}
    transforms = tmp_path / "transforms"
    transforms.mkdir()
    write_notebook(transforms)
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(transforms))
    monkeypatch.setenv("CORE_SECRETS_FILE", str(tmp_path / "vault" / "secrets.toml"))
    monkeypatch.setenv("CORE_LOG_LEVEL", "DEBUG")
    monkeypatch.setattr(sftp_server, "PASSWORD", canaries["sftp"])
    (tmp_path / "vault").mkdir()
    root = tmp_path / "sftp_root"
    (root / "outgoing").mkdir(parents=True)
    (root / "outgoing" / "enrollments_1.csv").write_text("id\n1\n")
    settings = make_world(STATES, TEMPLATES)
    with sftp_server.running_sftp_server(root) as server:
        login = {
            "user": sftp_server.USER,
            "password": canaries["sftp"],
            "host": server.host,
            "port": server.port,
            "host_key": server.host_key,
        }
        set_secret("all/SFTP/hub/read", login, settings)
        database = {
            "user": "reporter",
            "password": canaries["database"],
            "rdbms": "postgresql",
            "host": "db.example.com",
            "port": 5432,
            "database": "warehouse",
        }
        set_secret("all/database/warehouse/read", database, settings)
        clear_cache()
        yield Vault(settings, canaries, server)
    clear_cache()


# --- where secrets could show ------------------------------------------------------------


def leaks(text: str) -> bool:
    """Whether a text holds any canary."""
    return CANARY in text


def assert_clean(where: str, text: str) -> None:
    """Fail naming the place and the context of the first canary found."""
    at = text.find(CANARY)
    assert at < 0, f"a secret value appears in {where}: …{text[max(0, at - 120) : at + 60]}…"


def database_rows(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every row of task_runs, run_events and the audit trail, every column."""
    engine = get_engine(settings.embedded_database_url)
    tables = {}
    with engine.connect() as connection:
        for name in ("task_runs", "run_events", "events"):
            rows = connection.execute(sa.select(sa.text("*")).select_from(sa.table(name)))
            tables[name] = [dict(row._mapping) for row in rows]
    return tables


def api_client(settings: Settings) -> tuple[TestClient, dict[str, str]]:
    """A client of the app on these settings, and an admin's Authorization header."""
    with SessionHelper(settings, actor="test") as session:
        user = Administrator(email_address="auditor@example.com", role="admin")
        session.add(user)
        session.commit()
        token = issue_token(session, user.id, "hygiene").token
    client = TestClient(create_app(settings), base_url="https://testserver")
    return client, {"Authorization": f"Bearer {token}"}


def api_bodies(settings: Settings, run_id: int) -> dict[str, str]:
    """The bodies of the API routes that show runs, pipelines, transformations and audit."""
    client, headers = api_client(settings)
    with client:
        run = client.get(f"/api/runs/{run_id}", headers=headers)
        assert run.status_code == 200, run.text
        paths = [
            "/api/runs",
            f"/api/runs/{run_id}",
            "/api/pipelines",
            "/api/pipelines/1",
            "/api/pipelines/1/plan",
            "/api/transformations",
            "/api/templates",
            "/api/audit?limit=500",
        ]
        paths += [t["notebook_url"] for t in run.json()["tasks"] if t["notebook_url"]]
        paths += [f"/api/datasets/{t['transformation_id']}/preview" for t in run.json()["tasks"]]
        bodies = {}
        for path in paths:
            response = client.get(path, headers=headers)
            assert response.status_code < 500, f"{path}: {response.text}"
            bodies[path] = response.text
    return bodies


def assert_nothing_leaked(vault: Vault, run_id: int, caplog: pytest.LogCaptureFixture) -> None:
    """Search every place a person or system could read for the canaries."""
    settings = vault.settings
    assert_clean("the captured logs", caplog.text)
    logs = sorted((settings.home / "logs").rglob("*.log"))
    assert logs, "the workers wrote no logs"
    for log in logs:
        assert_clean(f"worker log {log.name}", log.read_text(errors="replace"))
    for table, rows in database_rows(settings).items():
        for row in rows:
            assert_clean(f"{table} row {row.get('id')}", repr(row))
    for path, body in api_bodies(settings, run_id).items():
        assert_clean(f"the response of GET {path}", body)
    secrets_file = Path(settings.secrets_file or "")
    for path in settings.home.rglob("*"):  # every file: lake, notebooks, database, logs
        if path.is_file() and path != secrets_file:
            assert CANARY.encode() not in path.read_bytes(), f"a secret value is in {path}"


# --- the tests --------------------------------------------------------------------------


def test_a_pipeline_using_secrets_leaves_them_nowhere(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = LocalRunner(vault.settings, sleep=lambda _: None).run("p")
    states = {task.task_id.rsplit("_", 1)[0]: task.state for task in report.tasks}
    failures = [(t.task_id, t.error) for t in report.tasks if t.state != "success"]
    assert report.state == "success", failures
    assert states == {
        "raw_extract_from_sftp": "success",
        "ingest_database_report": "success",
        "master_vault_report": "success",
    }
    assert vault.server.logins, "the SFTP transform never logged in"
    notebooks = list(Path(vault.settings.lake_root or "").rglob("*.ipynb"))
    assert notebooks, "the executed notebook was not stored"
    executed = notebooks[0].read_text()
    assert "Secret(identifier='all/database/warehouse/read'" in executed  # it did print it
    assert_nothing_leaked(vault, report.run_id, caplog)


def test_a_login_refused_by_the_server_leaves_the_wrong_password_nowhere(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.set_sftp_password(canary("wrong"))
    report = LocalRunner(vault.settings, sleep=lambda _: None).run("p")
    extract = next(t for t in report.tasks if "extract_from_sftp" in t.task_id)
    assert extract.state == "failed"
    assert "all/SFTP/hub/read" in (extract.error or ""), extract.error
    assert_nothing_leaked(vault, report.run_id, caplog)


# --- exceptions about secrets ------------------------------------------------------------

SECRET = "S3CR3T-canary-exception"


def store(settings: Settings, identifier: str, payload: Any) -> None:
    """Write a (possibly broken) secret straight into the local file, past validation."""
    path = Path(settings.secrets_file or settings.home / "secrets.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({identifier: payload}))
    clear_cache()


def database(**changes: Any) -> dict[str, Any]:
    """A database secret holding the canary as its password, with ``changes``."""
    values = {
        "user": "reporter",
        "password": SECRET,
        "rdbms": "postgresql",
        "host": "db.example.com",
        "database": "warehouse",
        **changes,
    }
    return {k: v for k, v in values.items() if v is not None}


def read(identifier: str = "all/database/warehouse/read") -> Callable[[Settings], Any]:
    """Read the secret by its parts (database type)."""
    name = identifier.split("/")[2]
    return lambda settings: Secret(name=name, type_of="database", mode="read", settings=settings)


@dataclass(frozen=True)
class BrokenSecret:
    """A stored secret that cannot be used, and the use that must fail cleanly."""

    id: str
    payload: Any
    use: Callable[[Settings], Any]
    error: type[BaseException]
    says: str


BROKEN = [
    BrokenSecret(
        "missing-secret",
        database(),
        read("all/database/warehous/read"),
        CoreError,
        "all/database/warehouse/read",  # suggested by name, never by value
    ),
    BrokenSecret("port-not-a-number", database(port="fifty"), read(), CoreError, "port"),
    BrokenSecret(
        "password-not-text", database(password=[SECRET, 1]), read(), CoreError, "password"
    ),
    BrokenSecret("required-field-missing", database(host=None), read(), CoreError, "host"),
    BrokenSecret(
        "json-not-parseable",
        '{"user": "reporter", "password": "' + SECRET + '", "host": ',
        read(),
        CoreError,
        "is not valid JSON",
    ),
    BrokenSecret(
        "json-not-an-object",
        '["' + SECRET + '"]',
        read(),
        CoreError,
        "must be a JSON object",
    ),
    BrokenSecret(
        "unknown-rdbms",
        database(rdbms="oracle7"),
        lambda settings: read()(settings).url,
        CoreError,
        "rdbms is not one CORE can build a URL for",
    ),
    BrokenSecret(
        "misspelt-key",
        database(),
        lambda settings: read()(settings)["passwrd"],
        KeyError,
        "did you mean 'password'",
    ),
    BrokenSecret(
        "misspelt-attribute",
        database(),
        lambda settings: read()(settings).pasword,
        AttributeError,
        "has no key 'pasword'",
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=[case.id for case in BROKEN])
def test_an_exception_about_a_secret_never_holds_its_value(
    case: BrokenSecret, core_env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    store(settings, "all/database/warehouse/read", case.payload)
    with pytest.raises(case.error) as raised:
        case.use(settings)
    text = "".join(traceback.format_exception(raised.value))  # the whole chain, causes too
    assert case.says.lower() in text.lower(), text
    assert SECRET not in text, text
    assert SECRET not in repr(raised.value)
    assert SECRET not in caplog.text
    clear_cache()


def test_a_secret_shows_its_keys_never_its_values(core_env: Path) -> None:
    settings = load_settings()
    store(settings, "all/database/warehouse/read", database())
    secret = read()(settings)
    assert secret.password == SECRET  # readable by the code that uses it
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", str(dir(secret))):
        assert SECRET not in shown
    assert "password" in repr(secret)
    clear_cache()
