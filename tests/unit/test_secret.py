"""Secret over the local file backend: identifiers, fallback, types, leaks, cache, CLI."""

from __future__ import annotations

import json
import logging
import os
import stat
import traceback
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from core.cli import app
from core.errors import (
    InvalidSecretError,
    ReadOnlySecretsBackendError,
    SecretError,
    SecretNotFoundError,
    SecretsBackendError,
    SettingsError,
)
from core.helpers.session_helper import resolve_database_url
from core.secret import Secret, clear_cache, list_identifiers, set_secret
from core.secrets import cache
from core.secrets.aws import AwsSecretsManagerBackend
from core.secrets.local import LocalFileBackend
from core.secrets.registry import BACKENDS, get_backend
from core.secrets.types import parse_secret
from core.settings import load_settings
from tests.support.cli import core

# Distinctive values, so that a leak anywhere is found by a plain substring search.
PASSWORD = "Pa55-VALUE-7f3a9c"
HAMBURGER = "dev/FTP/hamburger/read"
FTP = {"user": "hamburger", "password": PASSWORD, "host": "ftp.example.com", "port": 21}


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def secrets_file(core_env: Path) -> Path:
    return core_env / "secrets.toml"


def store(path: Path, tables: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(tables), encoding="utf-8")
    path.chmod(0o600)


class CountingReads:
    """Wraps LocalFileBackend.read to count the calls that reach the file."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        original = LocalFileBackend.read

        def read(backend: LocalFileBackend, identifier: str) -> Any:
            self.calls.append(identifier)
            return original(backend, identifier)

        monkeypatch.setattr(LocalFileBackend, "read", read)


# --- identifiers and fallback -------------------------------------------------------------


def test_the_dev_guide_example_works_as_written(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: {**FTP, "password": "hamburger_password"}})

    s = Secret(name="hamburger", type_of="FTP", env="dev", mode="read")

    assert s.password == "hamburger_password"
    assert type(s.password) is str
    assert s.identifier == HAMBURGER
    assert s.backend == "local"


def test_a_whole_identifier_is_used_exactly_and_gives_the_type(secrets_file: Path) -> None:
    store(secrets_file, {"all/FTP/hamburger/read": {**FTP, "port": "2121"}})

    s = Secret(identifier="all/FTP/hamburger/read")
    assert (s.env, s.type_of, s.name, s.mode) == ("all", "FTP", "hamburger", "read")
    assert s.port == 2121
    with pytest.raises(SecretNotFoundError) as caught:
        Secret(identifier=HAMBURGER)
    # Only the identifier given was tried (all/ may still be suggested as a near miss).
    assert str(caught.value).startswith(f"no secret '{HAMBURGER}' in the local secrets file")


def test_env_defaults_to_the_settings_environment(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "test")
    mailbox = {"address": "a@example.com", "password": PASSWORD, "host": "smtp", "port": 587}
    store(secrets_file, {"test/email/alerts/send": mailbox})

    s = Secret(name="alerts", type_of="email", mode="send")

    assert s.identifier == "test/email/alerts/send"
    assert s.env == "test"


def test_falls_back_to_all_and_logs_the_identifier_used(
    secrets_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store(secrets_file, {"all/FTP/hamburger/read": FTP})

    with caplog.at_level(logging.INFO, logger="core.secret"):
        s = Secret(name="hamburger", type_of="FTP", env="dev", mode="read")

    assert s.identifier == "all/FTP/hamburger/read"
    assert s.tried == (HAMBURGER, "all/FTP/hamburger/read")
    messages = [r.getMessage() for r in caplog.records if r.name == "core.secret"]
    assert any(HAMBURGER in m and "using all/FTP/hamburger/read" in m for m in messages)
    assert PASSWORD not in caplog.text


def test_the_environment_secret_wins_over_all(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: FTP, "all/FTP/hamburger/read": {**FTP, "user": "shared"}})

    assert Secret(name="hamburger", type_of="FTP", env="dev", mode="read").user == "hamburger"


def test_force_env_refuses_the_fallback(secrets_file: Path) -> None:
    store(secrets_file, {"all/FTP/hamburger/read": FTP})

    with pytest.raises(SecretNotFoundError) as caught:
        Secret(name="hamburger", type_of="FTP", env="dev", mode="read", force_env=True)

    assert str(caught.value).startswith(f"no secret '{HAMBURGER}' in the local secrets file")
    assert "Did you mean 'all/FTP/hamburger/read'?" in str(caught.value)


def test_not_found_names_every_identifier_tried_and_suggests(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: FTP})

    with pytest.raises(SecretNotFoundError) as caught:
        Secret(name="hamburgr", type_of="FTP", env="dev", mode="read")

    message = str(caught.value)
    assert "'dev/FTP/hamburgr/read'" in message
    assert "'all/FTP/hamburgr/read'" in message
    assert f"Did you mean '{HAMBURGER}'?" in message
    assert str(secrets_file) in message
    assert "core secrets set dev/FTP/hamburgr/read" in message


def test_not_found_when_there_is_no_file_at_all(secrets_file: Path) -> None:
    with pytest.raises(SecretNotFoundError, match="hamburger"):
        Secret(name="hamburger", type_of="FTP", env="dev", mode="read")
    assert not secrets_file.exists()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "x", "type_of": "FTP"}, "missing: mode"),
        ({"type_of": "FTP", "mode": "read"}, "missing: name"),
        ({"name": "a/b", "type_of": "FTP", "mode": "read"}, "name must not contain '/'"),
        ({"identifier": " "}, "non-empty identifier"),
    ],
)
def test_incomplete_requests_are_refused(
    secrets_file: Path, kwargs: dict[str, str], expected: str
) -> None:
    with pytest.raises(SecretError, match=expected):
        Secret(**kwargs)


# --- typed fields --------------------------------------------------------------------------


def test_ftp_port_is_coerced_to_int_and_mode_is_read_as_method(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: {**FTP, "port": "2121", "mode": "passive"}})

    s = Secret(name="hamburger", type_of="FTP", env="dev", mode="read")

    assert s.port == 2121
    assert type(s.port) is int
    assert s.method == "passive"
    assert s.mode == "read"  # the access mode of the request, not the stored key


@pytest.mark.parametrize(("type_of", "port"), [("FTP", 21), ("sftp", 22), ("SFTP", 22)])
def test_ftp_and_sftp_default_ports_and_case_insensitive_types(
    secrets_file: Path, type_of: str, port: int
) -> None:
    values = {key: value for key, value in FTP.items() if key != "port"}
    store(secrets_file, {f"dev/{type_of}/box/read": values})

    s = Secret(name="box", type_of=type_of, env="dev", mode="read")

    assert s.port == port
    assert s.method is None


def test_database_fields_and_url_with_an_escaped_password(secrets_file: Path) -> None:
    password = "p@ss:w/rd%" + PASSWORD
    database = {
        "user": "app",
        "password": password,
        "rdbms": "Postgres",
        "host": "db.example.com",
        "port": "5432",
        "database": "config",
        "schema": "public",
        "role": "reader",
    }
    store(secrets_file, {"dev/Database/config/write": database})

    s = Secret(name="config", type_of="Database", env="dev", mode="write")

    assert (s.port, s.schema, s.role, s.rdbms) == (5432, "public", "reader", "Postgres")
    assert s.url == (
        f"postgresql+psycopg://app:p%40ss%3Aw%2Frd%25{PASSWORD}@db.example.com:5432/config"
    )
    assert make_url(s.url).password == password
    assert s.keys() == ["database", "host", "password", "port", "rdbms", "role", "schema", "user"]


def test_a_database_url_for_an_unknown_rdbms_is_refused_by_name(secrets_file: Path) -> None:
    database = {"user": "u", "password": PASSWORD, "rdbms": "db2", "host": "h", "database": "d"}
    store(secrets_file, {"dev/database/x/read": database})
    s = Secret(identifier="dev/database/x/read")

    with pytest.raises(InvalidSecretError) as caught:
        _ = s.url

    assert "rdbms" in str(caught.value)
    assert "postgresql" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_resolve_database_url_reads_the_configuration_application_secret(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_ENVIRONMENT", "uat")
    monkeypatch.setenv("CORE_LAKE_ROOT", "s3://lake")
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "local")
    database = {"user": "u", "password": "pw", "rdbms": "postgresql", "host": "h", "port": 5433}
    store(
        secrets_file,
        {"uat/database/configuration_application/write": {**database, "database": "c"}},
    )

    assert resolve_database_url(load_settings()) == "postgresql+psycopg://u:pw@h:5433/c"


def test_email_fields(secrets_file: Path) -> None:
    mailbox = {"address": "ops@example.com", "password": PASSWORD, "host": "smtp", "port": "465"}
    store(secrets_file, {"dev/EMAIL/ops/send": mailbox})

    s = Secret(name="ops", type_of="EMAIL", env="dev", mode="send")

    assert (s.address, s.password, s.host, s.port) == ("ops@example.com", PASSWORD, "smtp", 465)


def test_s3_keys_are_optional(secrets_file: Path) -> None:
    with_keys = {"bucket": "b", "region": "eu-west-1", "aws_access_key_id": "AKIA"}
    store(
        secrets_file,
        {
            "dev/s3/plain/read": {"bucket": "b", "region": "eu-west-1"},
            "dev/S3/keyed/read": {**with_keys, "aws_secret_access_key": PASSWORD},
        },
    )

    plain = Secret(name="plain", type_of="s3", env="dev", mode="read")
    keyed = Secret(name="keyed", type_of="S3", env="dev", mode="read")

    assert (plain.bucket, plain.region, plain.aws_access_key_id) == ("b", "eu-west-1", None)
    assert plain.keys() == ["bucket", "region"]
    assert keyed.aws_secret_access_key == PASSWORD
    assert PASSWORD not in repr(keyed)


def test_any_other_type_is_a_json_object_whose_keys_become_attributes(secrets_file: Path) -> None:
    payload = {"token": PASSWORD, "retries": 3, "options": {"verify": True}, "name": "stored"}
    store(secrets_file, {"dev/api/partner/read": json.dumps(payload)})

    s = Secret(name="partner", type_of="api", env="dev", mode="read")

    assert (s.token, s.retries, s.options) == (PASSWORD, 3, {"verify": True})
    assert s["name"] == "stored"  # a key that clashes with an attribute is read by item
    assert s.name == "partner"
    assert s.to_dict() == payload
    with pytest.raises(AttributeError, match="no key 'tokn'.*Did you mean 'token'"):
        _ = s.tokn


# --- invalid secrets: clear messages that never quote a value ------------------------------


def test_malformed_json_names_the_identifier_but_not_the_text(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: f'{{"user": "u", "password": "{PASSWORD}" "host": 1}}'})

    with pytest.raises(InvalidSecretError) as caught:
        Secret(identifier=HAMBURGER)

    message = str(caught.value)
    assert HAMBURGER in message
    assert "not valid JSON" in message
    assert "line 1" in message
    assert PASSWORD not in message
    assert '"u"' not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_json_that_is_not_an_object_is_refused(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: json.dumps([PASSWORD])})

    with pytest.raises(InvalidSecretError, match="found a JSON array") as caught:
        Secret(identifier=HAMBURGER)
    assert PASSWORD not in str(caught.value)


def test_a_missing_field_is_named_with_what_is_expected(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: {"user": "hamburger", "host": PASSWORD}})

    with pytest.raises(InvalidSecretError) as caught:
        Secret(identifier=HAMBURGER)

    message = str(caught.value)
    assert f"secret '{HAMBURGER}' is not a valid FTP secret" in message
    assert "password: is required but missing" in message
    assert PASSWORD not in message
    assert "hamburger'" not in message.replace(f"'{HAMBURGER}'", "")


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (PASSWORD, "port: expected an integer"),
        (70000, "port: expected a number of at most 65535"),
        (0, "port: expected a number of at least 1"),
    ],
)
def test_an_invalid_field_is_named_without_its_value(
    secrets_file: Path, port: Any, expected: str
) -> None:
    store(secrets_file, {HAMBURGER: {**FTP, "port": port}})

    with pytest.raises(InvalidSecretError) as caught:
        Secret(identifier=HAMBURGER)

    assert expected in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert str(port) not in str(caught.value).replace("65535", "")
    # pydantic's error (which holds the input) is not chained, so no traceback shows it.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


def test_an_unreadable_toml_file_is_a_backend_error(secrets_file: Path) -> None:
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_text(f'["{HAMBURGER}"]\npassword = "{PASSWORD}\n')

    with pytest.raises(SecretsBackendError) as caught:
        Secret(identifier=HAMBURGER)

    assert str(secrets_file) in str(caught.value)
    assert PASSWORD not in str(caught.value)


# --- no value leaks ------------------------------------------------------------------------


def test_values_never_appear_in_repr_str_logs_or_errors(
    secrets_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store(secrets_file, {HAMBURGER: FTP, "dev/FTP/broken/read": {**FTP, "port": "x"}})
    errors: list[str] = []

    with caplog.at_level(logging.DEBUG):
        s = Secret(name="hamburger", type_of="FTP", env="dev", mode="read")
        for bad in (lambda: s.nothing, lambda: Secret(identifier="dev/FTP/broken/read")):
            with pytest.raises((AttributeError, InvalidSecretError)) as caught:
                bad()
            errors.append(str(caught.value))
        set_secret(HAMBURGER, {"password": PASSWORD + "-new"})

    assert repr(s) == (
        f"Secret(identifier='{HAMBURGER}', keys=['host', 'password', 'port', 'user'])"
    )
    assert str(s) == repr(s)
    assert f"using secret {HAMBURGER}" in caplog.text  # the log did record the read
    for text in (repr(s), str(s), f"{s!s}", caplog.text, *errors):
        assert PASSWORD not in text
    fields = parse_secret(HAMBURGER, "FTP", FTP)
    assert PASSWORD not in repr(fields) + str(fields) + fields.model_dump_json()


# --- cache ---------------------------------------------------------------------------------


def test_reads_are_cached_until_the_ttl_expires(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(cache, "clock", lambda: now[0])
    reads = CountingReads(monkeypatch)
    store(secrets_file, {HAMBURGER: FTP})

    assert Secret(identifier=HAMBURGER).password == PASSWORD
    store(secrets_file, {HAMBURGER: {**FTP, "password": "rotated"}})
    now[0] += 59
    assert Secret(identifier=HAMBURGER).password == PASSWORD
    assert reads.calls == [HAMBURGER]

    now[0] += 2
    assert Secret(identifier=HAMBURGER).password == "rotated"
    assert reads.calls == [HAMBURGER, HAMBURGER]


def test_the_fallback_miss_is_cached_too(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(monkeypatch)
    store(secrets_file, {"all/FTP/hamburger/read": FTP})

    for _ in range(3):
        Secret(name="hamburger", type_of="FTP", env="dev", mode="read")

    assert reads.calls == [HAMBURGER, "all/FTP/hamburger/read"]


def test_a_zero_ttl_disables_the_cache(secrets_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_SECRETS_CACHE_SECONDS", "0")
    reads = CountingReads(monkeypatch)
    store(secrets_file, {HAMBURGER: FTP})

    Secret(identifier=HAMBURGER)
    Secret(identifier=HAMBURGER)

    assert load_settings().secrets_cache_seconds == 0
    assert reads.calls == [HAMBURGER, HAMBURGER]


def test_a_negative_ttl_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_SECRETS_CACHE_SECONDS", "-1")

    with pytest.raises(SettingsError, match="CORE_SECRETS_CACHE_SECONDS"):
        load_settings()


def test_clear_cache_and_writes_make_the_next_read_reach_the_backend(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = CountingReads(monkeypatch)
    store(secrets_file, {HAMBURGER: FTP})

    Secret(identifier=HAMBURGER)
    set_secret(HAMBURGER, {"password": "rotated"})
    assert Secret(identifier=HAMBURGER).password == "rotated"
    clear_cache()
    Secret(identifier=HAMBURGER)

    assert reads.calls == [HAMBURGER, HAMBURGER, HAMBURGER]


# --- local file writes and the backend registry --------------------------------------------


def test_set_secret_creates_a_0600_file_and_merges(secrets_file: Path) -> None:
    assert set_secret(HAMBURGER, {"user": "hamburger", "port": "21"}) == ["password", "host"]
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    assert set_secret(HAMBURGER, {"password": PASSWORD, "host": "ftp"}) == []

    s = Secret(identifier=HAMBURGER)
    assert (s.user, s.password, s.host, s.port) == ("hamburger", PASSWORD, "ftp", 21)
    assert sorted(p.name for p in secrets_file.parent.iterdir()) == [
        "secrets.toml",
        "secrets.toml.lock",
    ]


def test_set_secret_tightens_a_shared_file_which_reading_warns_about(
    secrets_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store(secrets_file, {HAMBURGER: FTP})
    secrets_file.chmod(0o644)

    with caplog.at_level(logging.WARNING, logger="core.secret"):
        Secret(identifier=HAMBURGER)
    set_secret("dev/api/x/read", {"token": "t"})

    assert "readable by others" in caplog.text
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert list_identifiers() == [HAMBURGER, "dev/api/x/read"]


def test_an_interrupted_write_leaves_the_file_as_it_was(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(secrets_file, {HAMBURGER: FTP})
    before = secrets_file.read_bytes()

    def refuse(source: Any, target: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SecretsBackendError, match="No space left"):
        set_secret(HAMBURGER, {"password": "new"})

    assert secrets_file.read_bytes() == before
    assert not [p for p in secrets_file.parent.iterdir() if p.name.startswith(".")]


def test_set_secret_refuses_a_value_that_does_not_fit(secrets_file: Path) -> None:
    store(secrets_file, {HAMBURGER: FTP})
    before = secrets_file.read_bytes()

    with pytest.raises(InvalidSecretError, match="port: expected an integer"):
        set_secret(HAMBURGER, {"port": PASSWORD})

    assert secrets_file.read_bytes() == before


def test_backends_are_chosen_by_name_from_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "aws")
    settings = load_settings()

    assert sorted(BACKENDS) == ["aws", "local"]
    assert isinstance(get_backend(settings), AwsSecretsManagerBackend)
    with pytest.raises(ReadOnlySecretsBackendError, match="CORE_SECRETS_BACKEND=local"):
        set_secret(HAMBURGER, {"user": "u"}, settings=settings)
    with pytest.raises(SettingsError, match="expected one of aws, local"):
        get_backend(settings.model_copy(update={"secrets_backend": "vault"}))


def test_a_registered_backend_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    class Memory:
        name = "local"
        cache_key = "memory"
        suggests = False

        def __init__(self, settings: Any) -> None:
            pass

        def read(self, identifier: str) -> Any:
            return {"token": "from-memory"} if identifier == "dev/api/x/read" else None

    monkeypatch.setitem(BACKENDS, "local", Memory)

    assert Secret(identifier="dev/api/x/read").token == "from-memory"


# --- CLI -----------------------------------------------------------------------------------


def test_cli_get_masks_values_unless_show(
    secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store(secrets_file, {HAMBURGER: FTP})

    assert core("secrets", "get", HAMBURGER) == 0
    masked = capsys.readouterr().out
    assert core("secrets", "get", HAMBURGER, "--show") == 0
    shown = capsys.readouterr().out

    assert masked.splitlines() == [
        f"{key}: ********" for key in ("host", "password", "port", "user")
    ]
    assert PASSWORD not in masked
    assert f"password: {PASSWORD}" in shown.splitlines()
    assert "port: 21" in shown.splitlines()


def test_cli_get_of_a_missing_secret_fails(
    secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("secrets", "get", HAMBURGER) == 1
    assert f"FAILED: no secret '{HAMBURGER}'" in capsys.readouterr().err


def test_cli_set_merges_and_never_prints_values(
    secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("secrets", "set", HAMBURGER, "user=hamburger", f"password={PASSWORD}") == 0
    first = capsys.readouterr().out
    assert core("secrets", "set", HAMBURGER, "host=ftp=with=equals") == 0
    second = capsys.readouterr().out

    assert f"stored {HAMBURGER}: set password, user" in first
    assert "still lacks host" in first
    assert "still lacks" not in second
    assert PASSWORD not in first + second
    s = Secret(identifier=HAMBURGER)
    assert (s.user, s.password, s.host) == ("hamburger", PASSWORD, "ftp=with=equals")


def test_cli_set_prompts_for_a_bare_key_without_echoing_it(secrets_file: Path) -> None:
    result = CliRunner().invoke(app, ["secrets", "set", "dev/api/x/read", "token"], input=PASSWORD)

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert Secret(identifier="dev/api/x/read").token == PASSWORD


def test_cli_set_refuses_a_pair_without_a_key(
    secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("secrets", "set", HAMBURGER, f"={PASSWORD}") == 1

    err = capsys.readouterr().err
    assert "FAILED: expected KEY=VALUE" in err
    assert PASSWORD not in err
    assert not secrets_file.exists()


def test_cli_set_is_refused_with_the_aws_backend(
    secrets_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "aws")

    assert core("secrets", "set", HAMBURGER, f"password={PASSWORD}") == 1

    err = capsys.readouterr().err
    assert "FAILED: cannot write" in err
    assert "read-only" in err
    assert "CORE_SECRETS_BACKEND=local" in err
    assert PASSWORD not in err
    assert not secrets_file.exists()


def test_cli_list_prints_identifiers_only(
    secrets_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert core("secrets", "list") == 0
    assert "no secrets" in capsys.readouterr().err

    store(secrets_file, {HAMBURGER: FTP, "all/email/ops/send": {"password": PASSWORD}})
    assert core("secrets", "list") == 0

    out = capsys.readouterr().out
    assert out.splitlines() == ["all/email/ops/send", HAMBURGER]
    assert PASSWORD not in out
