"""An editor's configuration cannot make CORE read or write what it must not (core/roots.py).

The attack of issue 17: with the API alone an editor pointed ``extract_from_landing`` at
``.`` (CORE_HOME), ingested ``secrets.toml``, ran the pipeline, and a viewer read the
secrets through the dataset preview; ``web_session.key`` and ``configuration.db`` were
copied into the lake too. Here CORE_HOME holds a secrets file of canary values, and the
attack and each of its variants (``..``, absolute paths, symbolic links, hard links,
another pipeline's landing, another bucket, an export outside its root, an SFTP path
climbing with ``..``) is refused with a message naming the transformation, the variable,
the value, the allowed root and the fix: on save (422), and again at run time, where the
save is bypassed by writing the row directly or by creating the link after the save.
Then every API response, dataset, log and database row is searched for the canaries.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import tomli_w
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.database.engine import get_engine
from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings, load_settings
from core.transforms.runtime import run_transformation
from tests.unit.api.worlds import pipeline_id, transformation_ids, wait_for_run

CANARY = "S3CR3T-canary-"
PIPELINE = "acme_zentrix_patient_status"  # company acme_pharma, brand zentrix
OTHER_PIPELINE = "bluepeak_orvida_hub_services"  # SFTP
LANDING = "landing/acme_pharma/zentrix"
SQLITE_HEADER = b"SQLite format 3\x00"


def canary(what: str) -> str:
    """A distinctive secret value: nothing else can contain it by chance."""
    return f"{CANARY}{what}-{uuid.uuid4().hex}"


@dataclass
class Home:
    """CORE_HOME of the sample configuration with secrets worth stealing."""

    settings: Settings
    client: TestClient
    ids: dict[str, int]
    session_key: bytes

    @property
    def landing(self) -> Path:
        return self.settings.home / LANDING

    def patch(self, tid: int, variables: dict[str, Any], headers: dict[str, str]) -> Any:
        """PATCH a transformation's variables (all of them, as the form sends them)."""
        path = f"/api/transformations/{tid}"
        current = self.client.get(path, headers=headers).json()
        body = {"variables": {**current["variables"], **variables}, "version": current["version"]}
        return self.client.patch(path, json=body, headers=headers)


@pytest.fixture
def home(settings: Settings, users: dict[str, dict[str, str]]) -> Iterator[Home]:
    """The secrets file (canaries for SFTP, database, SMTP, webhook, admin), the app, landing."""
    secrets = {
        "all/SFTP/orvida_hub/read": {"user": "hub", "password": canary("sftp"), "host": "h"},
        "all/database/warehouse/read": {"user": "r", "password": canary("database")},
        "all/email/alerts/read": {"user": "a", "password": canary("smtp"), "host": "smtp"},
        "all/webhook/alerts/read": {"url": f"https://hooks.example.com/{canary('webhook')}"},
        "all/web_application/admin/read": {"password": canary("admin")},
    }
    Path(settings.secrets_file or "").write_text(tomli_w.dumps(secrets))
    landing = settings.home / LANDING
    landing.mkdir(parents=True)
    (landing / "pharmacy_a_1.csv").write_text("PatientID|StatusCode\n1|A\n")
    other = settings.home / "landing" / "bluepeak_bio" / "orvida"
    other.mkdir(parents=True)
    (other / "sales_1.csv").write_text(f"id,secret\n1,{canary('other-company')}\n")
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        key = (settings.home / "web_session.key").read_bytes()  # written by create_app
        ids = transformation_ids(settings, PIPELINE)
        yield Home(settings, client, ids, key)


# --- where a stolen value could show ------------------------------------------------------


def assert_clean(where: str, data: bytes | str, home: Home) -> None:
    """Fail naming the place when it holds a canary, the session key or a SQLite file."""
    raw = data.encode() if isinstance(data, str) else data
    at = raw.find(CANARY.encode())
    assert at < 0, f"a secret value appears in {where}: …{raw[max(0, at - 80) : at + 60]!r}…"
    assert home.session_key.strip() not in raw, f"the session key appears in {where}"
    assert SQLITE_HEADER not in raw, f"a SQLite database (configuration.db) is in {where}"


def assert_nothing_stolen(home: Home, viewer: dict[str, str], run_ids: list[int]) -> None:
    """Search every API response, dataset file, log and database row of the runs."""
    settings, client = home.settings, home.client
    paths = ["/api/runs", "/api/transformations", "/api/pipelines", "/api/audit?limit=500"]
    for run_id in run_ids:
        paths.append(f"/api/runs/{run_id}")
        paths += [f"/api/datasets/{tid}/preview?run_id={run_id}" for tid in home.ids.values()]
    paths += [f"/api/datasets/{tid}/preview" for tid in home.ids.values()]
    for path in paths:
        response = client.get(path, headers=viewer)
        assert response.status_code < 500, f"{path}: {response.text}"
        assert_clean(f"the response of GET {path}", response.text, home)
    lake = Path(settings.lake_root or "")
    for path in sorted(lake.rglob("*")) if lake.exists() else []:
        if path.is_file():
            assert path.name not in ("secrets.toml", "web_session.key", "configuration.db")
            assert_clean(f"the lake file {path}", path.read_bytes(), home)
    for path in sorted((settings.home / "logs").rglob("*")):
        if path.is_file():
            assert_clean(f"the log {path}", path.read_bytes(), home)
    engine = get_engine(settings.embedded_database_url)
    with engine.connect() as connection:
        for table in ("task_runs", "run_events", "events"):
            for row in connection.execute(sa.select(sa.text("*")).select_from(sa.table(table))):
                assert_clean(
                    f"{table} row {row._mapping.get('id')}", repr(dict(row._mapping)), home
                )


# --- bypassing the save: the run-time check alone ---------------------------------------


def write_variable(settings: Settings, tid: int, name: str, value: str) -> None:
    """Store a variable straight in the database, past every check of the API."""
    with SessionHelper(settings, actor="test") as session:
        session.execute(
            sa.update(cfg.TransformationVariable)
            .where(cfg.TransformationVariable.transformation_id == tid)
            .where(cfg.TransformationVariable.name == name)
            .values(value=value)
        )
        session.commit()


def run_one(settings: Settings, tid: int) -> tuple[int, str]:
    """Run one transformation in a new run: its exit code and its recorded error."""
    with SessionHelper(settings, actor="test") as session:
        run_id = start_run(session, load_plan(session, PIPELINE), "test").id
        outcome = run_transformation(settings, session, tid, run_id)
        row = session.scalars(
            sa.select(cfg.TaskRun)
            .where(cfg.TaskRun.run_event_id == run_id)
            .where(cfg.TaskRun.transformation_id == tid)
        ).one()
        return outcome.exit_code, row.error_summary or ""


# --- the attack, end to end --------------------------------------------------------------


def test_the_attack_of_issue_17_is_refused_on_save_and_at_run_time(
    home: Home, editor: dict[str, str], viewer: dict[str, str]
) -> None:
    extract, ingest = home.ids["extract_from_landing"], home.ids["initial_ingest"]
    refused = home.patch(extract, {"source": "."}, editor)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "variables", "source"]
    message = problem["msg"]
    assert f"transformation {extract} (extract_from_landing)" in message
    assert "variable 'source'='.' is refused" in message
    assert str(home.settings.home / LANDING) in message  # the allowed root
    assert f"set it to {LANDING!r}" in message  # the fix
    # The ingest half of the attack is a valid configuration on its own.
    ingest_secrets = {"prefix": "secrets", "suffix": ".toml", "delimiter": "|"}
    assert home.patch(ingest, ingest_secrets, editor).status_code == 200
    # Past the API (a row written directly): the run refuses the source, copies nothing.
    write_variable(home.settings, extract, "source", ".")
    pid = pipeline_id(home.settings, PIPELINE)
    started = home.client.post(f"/api/pipelines/{pid}/runs", headers=editor)
    assert started.status_code == 202, started.text
    run = wait_for_run(home.client, viewer, started.json()["run_id"], timeout=300)
    assert run["state"] == "failed", run
    [task] = [t for t in run["tasks"] if t["transformation_id"] == extract]
    assert task["state"] == "failed"
    assert "variable 'source'='.' is refused" in (task["error_summary"] or ""), task
    assert_nothing_stolen(home, viewer, [run["id"]])


# --- every variant, on save --------------------------------------------------------------

LANDING_VARIANTS = {
    "core-home": (".", "outside the landing of acme_pharma/zentrix"),
    "dot-dot": ("..", "'..' is not allowed"),
    "dot-dot-inside": (f"{LANDING}/../../..", "'..' is not allowed"),
    "dot-dot-back-in": (f"{LANDING}/../zentrix", "'..' is not allowed"),
    "absolute-home": ("{home}", "outside the landing"),
    "absolute-etc": ("/etc", "it is /etc, outside the landing"),
    "file-url-home": ("file://{home}", "outside the landing"),
    "the-secrets-file": ("secrets.toml", "outside the landing"),
    "the-landing-root": ("landing", "outside the landing of acme_pharma/zentrix"),
    "another-pipelines-landing": ("landing/bluepeak_bio/orvida", "outside the landing"),
    "another-company-same-brand-name": ("landing/bluepeak_bio/zentrix", "outside the landing"),
    "another-bucket": ("s3://elsewhere/landing/acme_pharma/zentrix", "outside the landing"),
    "an-unknown-scheme": ("ftp://example.com/landing", "not a location CORE confines"),
}


@pytest.mark.parametrize("case", LANDING_VARIANTS, ids=list(LANDING_VARIANTS))
def test_a_landing_source_outside_its_root_is_a_422_naming_everything(
    case: str, home: Home, editor: dict[str, str]
) -> None:
    value, says = LANDING_VARIANTS[case]
    value = value.format(home=home.settings.home)
    extract = home.ids["extract_from_landing"]
    before = home.client.get(f"/api/transformations/{extract}", headers=editor).json()
    response = home.patch(extract, {"source": value}, editor)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "variables", "source"]
    assert f"variable 'source'={value!r} is refused" in problem["msg"]
    assert says in problem["msg"], problem["msg"]
    after = home.client.get(f"/api/transformations/{extract}", headers=editor).json()
    assert after["variables"] == before["variables"]


def test_a_symbolic_link_out_of_the_landing_is_refused_on_save(
    home: Home, editor: dict[str, str]
) -> None:
    (home.landing / "link").symlink_to(home.settings.home)
    response = home.patch(home.ids["extract_from_landing"], {"source": f"{LANDING}/link"}, editor)
    assert response.status_code == 422, response.text
    message = response.json()["detail"][0]["msg"]
    assert "a symbolic link on its way resolves to" in message
    assert str(home.settings.home) in message


def test_a_folder_of_the_own_landing_and_a_link_inside_it_are_accepted(
    home: Home, editor: dict[str, str]
) -> None:
    (home.landing / "inbox").mkdir()
    (home.landing / "current").symlink_to(home.landing / "inbox")
    extract = home.ids["extract_from_landing"]
    assert home.patch(extract, {"source": f"{LANDING}/inbox"}, editor).status_code == 200
    assert home.patch(extract, {"source": f"{LANDING}/current"}, editor).status_code == 200
    assert home.patch(extract, {"source": str(home.landing)}, editor).status_code == 200


EXPORT_VARIANTS = {
    "core-home": ".",
    "the-logs": "logs",
    "the-lake": "lake",
    "dot-dot": "outbox/acme_pharma/zentrix/../../bluepeak_bio/orvida",
    "another-pipelines-outbox": "outbox/bluepeak_bio/orvida",
    "absolute": "/tmp",
    "another-bucket": "s3://elsewhere/outbox/acme_pharma/zentrix",
}


@pytest.mark.parametrize("case", EXPORT_VARIANTS, ids=list(EXPORT_VARIANTS))
def test_an_export_destination_outside_its_root_is_a_422(
    case: str, home: Home, editor: dict[str, str]
) -> None:
    value = EXPORT_VARIANTS[case]
    response = home.patch(home.ids["publish_to_s3"], {"destination": value}, editor)
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "variables", "destination"]
    assert f"variable 'destination'={value!r} is refused" in problem["msg"]
    assert "outbox/acme_pharma/zentrix" in problem["msg"]


def test_an_sftp_path_climbing_with_dot_dot_is_a_422(home: Home, editor: dict[str, str]) -> None:
    sftp = transformation_ids(home.settings, OTHER_PIPELINE)["extract_from_sftp"]
    response = home.patch(sftp, {"remote_path": "/outgoing/../../etc"}, editor)
    assert response.status_code == 422, response.text
    assert "variable 'remote_path'='/outgoing/../../etc' is refused" in response.text
    assert home.patch(sftp, {"remote_path": "/outgoing/today"}, editor).status_code == 200


def test_an_allowed_bucket_is_accepted_and_another_refused(
    home: Home, editor: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_LANDING_ROOTS", "s3://partner-drop/landing")
    settings = load_settings()
    extract = home.ids["extract_from_landing"]
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        home = Home(settings, client, home.ids, home.session_key)
        allowed = "s3://partner-drop/landing/acme_pharma/zentrix/daily"
        assert home.patch(extract, {"source": allowed}, editor).status_code == 200
        for value in (
            "s3://partner-drop-2/landing/acme_pharma/zentrix",  # a bucket sharing a prefix
            "s3://partner-drop/landing/bluepeak_bio/orvida",
            "s3://partner-drop/landing/acme_pharma/zentrix/../../bluepeak_bio/orvida",
            "s3://partner-drop/landing/acme_pharma//zentrix",
            str(home.landing),  # the local landing is no longer a root
        ):
            response = home.patch(extract, {"source": value}, editor)
            assert response.status_code == 422, (value, response.text)
            assert "s3://partner-drop/landing/acme_pharma/zentrix" in response.text


# --- every variant, at run time ----------------------------------------------------------

RUN_TIME_VARIANTS = [
    ".",
    "..",
    f"{LANDING}/../../..",
    "{home}",
    "/etc",
    "landing/bluepeak_bio/orvida",
    "s3://elsewhere/landing/acme_pharma/zentrix",
]


@pytest.mark.parametrize("value", RUN_TIME_VARIANTS)
def test_a_source_written_past_the_api_is_refused_when_it_runs(home: Home, value: str) -> None:
    value = value.format(home=home.settings.home)
    extract = home.ids["extract_from_landing"]
    write_variable(home.settings, extract, "source", value)
    code, error = run_one(home.settings, extract)
    assert code == 2, error
    assert f"variable 'source'={value!r} is refused" in error
    assert str(home.landing) in error
    lake = Path(home.settings.lake_root or "")
    assert not [p for p in lake.rglob("*") if p.is_file()] if lake.exists() else True


def test_a_link_made_after_the_save_is_refused_when_it_runs(
    home: Home, editor: dict[str, str]
) -> None:
    inbox = home.landing / "inbox"
    inbox.mkdir()
    extract = home.ids["extract_from_landing"]
    assert home.patch(extract, {"source": f"{LANDING}/inbox"}, editor).status_code == 200
    inbox.rmdir()
    inbox.symlink_to(home.settings.home)  # after the save: only the run can see it
    code, error = run_one(home.settings, extract)
    assert code == 2, error
    assert "a symbolic link on its way resolves to" in error


def test_a_file_linked_out_of_the_landing_fails_the_task_naming_it(home: Home) -> None:
    link = home.landing / "pharmacy_a_2.csv"
    link.symlink_to(home.settings.secrets_file or "")
    code, error = run_one(home.settings, home.ids["extract_from_landing"])
    assert code == 2, error
    assert f"the file {link} is a symbolic link" in error
    assert str(home.settings.secrets_file) in error


def test_a_hard_link_to_the_secrets_file_fails_the_task(home: Home) -> None:
    link = home.landing / "pharmacy_a_3.csv"
    os.link(home.settings.secrets_file or "", link)
    code, error = run_one(home.settings, home.ids["extract_from_landing"])
    assert code == 2, error
    assert f"the file {link} is a hard link to one of CORE's own state files" in error


def test_an_export_written_past_the_api_is_refused_when_it_runs(home: Home) -> None:
    publish = home.ids["publish_to_s3"]
    write_variable(home.settings, publish, "destination", ".")
    code, error = run_one(home.settings, publish)
    assert code == 2, error
    assert "variable 'destination'='.' is refused" in error
    assert str(home.settings.home / "outbox" / "acme_pharma" / "zentrix") in error


def test_the_own_landing_still_runs(home: Home) -> None:
    code, error = run_one(home.settings, home.ids["extract_from_landing"])
    assert code == 0, error


# --- the settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roots", "exposes"),
    [
        ("{home}", "CORE_HOME"),
        ("{home}/..", "'..'"),
        ("/", "CORE_HOME"),
        ("{home}/logs", "the logs"),
        ("{home}/lake/dev", "the lake"),
        ("{home}/airflow", "the Airflow DAG cache"),
        ("{secrets_dir}", "the secrets file"),
    ],
)
def test_a_root_that_would_expose_cores_state_is_refused_by_the_settings(
    core_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roots: str, exposes: str
) -> None:
    from core.errors import SettingsError

    secrets_dir = tmp_path / "vault"
    monkeypatch.setenv("CORE_SECRETS_FILE", str(secrets_dir / "secrets.toml"))
    for name in ("CORE_LANDING_ROOTS", "CORE_EXPORT_ROOTS"):
        monkeypatch.setenv(name, roots.format(home=core_env, secrets_dir=secrets_dir))
        with pytest.raises(SettingsError) as raised:
            load_settings()
        assert name in str(raised.value) and exposes in str(raised.value), str(raised.value)
        monkeypatch.delenv(name)
