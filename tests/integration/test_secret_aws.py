"""Secret over the aws backend, against moto's Secrets Manager on loopback."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from core.errors import InvalidSecretError, SecretNotFoundError, SecretsBackendError
from core.helpers.session_helper import resolve_database_url
from core.secret import Secret, clear_cache
from core.secrets.aws import AwsSecretsManagerBackend
from core.settings import load_settings
from tests.support.cli import core

pytestmark = pytest.mark.integration

PASSWORD = "Aws-VALUE-91c2e4"


@pytest.fixture(autouse=True)
def fresh_cache() -> Any:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def sm(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Secrets Manager client on moto, with CORE configured for the aws backend."""
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "aws")
    return boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env)


@pytest.fixture
def name() -> str:
    # moto's server lives for the whole session: every test uses names of its own.
    return f"hamburger-{uuid.uuid4().hex[:10]}"


def put(sm: Any, identifier: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        sm.create_secret(Name=identifier, SecretString=text)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=identifier, SecretString=text)


def ftp(password: str = PASSWORD) -> dict[str, Any]:
    return {"user": "hamburger", "password": password, "host": "ftp.example.com", "port": "21"}


def test_the_dev_guide_example_over_secrets_manager(sm: Any, name: str) -> None:
    put(sm, f"dev/FTP/{name}/read", ftp("hamburger_password"))

    s = Secret(name=name, type_of="FTP", env="dev", mode="read")

    assert s.password == "hamburger_password"
    assert s.port == 21
    assert s.backend == "aws"


def test_a_missing_secret_falls_back_to_all_and_logs_it(
    sm: Any, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    put(sm, f"all/FTP/{name}/read", ftp())

    with caplog.at_level(logging.DEBUG):
        s = Secret(name=name, type_of="FTP", env="dev", mode="read")

    assert s.identifier == f"all/FTP/{name}/read"
    assert f"secret dev/FTP/{name}/read not found; using all/FTP/{name}/read" in caplog.text
    assert PASSWORD not in caplog.text + repr(s) + str(s)
    # botocore dumps response bodies at DEBUG; the one holding the secret is redacted.
    assert "redacted by core.secrets" in caplog.text


def test_force_env_and_not_found_name_every_identifier_tried(sm: Any, name: str) -> None:
    put(sm, f"all/FTP/{name}/read", ftp())

    with pytest.raises(SecretNotFoundError) as forced:
        Secret(name=name, type_of="FTP", env="uat", mode="read", force_env=True)
    with pytest.raises(SecretNotFoundError) as absent:
        Secret(name=name, type_of="FTP", env="uat", mode="write")

    assert str(forced.value).startswith(f"no secret 'uat/FTP/{name}/read' in AWS Secrets Manager")
    message = str(absent.value)
    assert f"'uat/FTP/{name}/write' or 'all/FTP/{name}/write'" in message
    assert "aws secretsmanager create-secret" in message


def test_database_secret_and_the_configuration_url(
    sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = {"user": "configurator", "password": "p@ss/" + PASSWORD, "rdbms": "postgresql"}
    database |= {"host": "db.internal", "port": 5432, "database": "configuration_application"}
    put(sm, "uat/database/configuration_application/write", database)
    monkeypatch.setenv("CORE_ENVIRONMENT", "uat")
    monkeypatch.setenv("CORE_LAKE_ROOT", "s3://lake")

    url = resolve_database_url(load_settings())

    assert url == (
        f"postgresql+psycopg://configurator:p%40ss%2F{PASSWORD}"
        "@db.internal:5432/configuration_application"
    )


def test_malformed_json_is_reported_without_the_text(sm: Any, name: str) -> None:
    put(sm, f"dev/FTP/{name}/read", f'{{"password": "{PASSWORD}",}}')

    with pytest.raises(InvalidSecretError) as caught:
        Secret(identifier=f"dev/FTP/{name}/read")

    assert f"secret 'dev/FTP/{name}/read' is not valid JSON" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_missing_field_is_named_without_values(sm: Any, name: str) -> None:
    put(sm, f"dev/email/{name}/send", {"address": PASSWORD, "password": PASSWORD, "port": 25})

    with pytest.raises(InvalidSecretError) as caught:
        Secret(name=name, type_of="email", env="dev", mode="send")

    assert "host: is required but missing" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_binary_secret_holding_json_is_read(sm: Any, name: str) -> None:
    payload = json.dumps({"bucket": "b", "region": "us-east-1"}).encode()
    sm.create_secret(Name=f"dev/s3/{name}/read", SecretBinary=payload)

    s = Secret(name=name, type_of="s3", env="dev", mode="read")

    assert (s.bucket, s.region, s.aws_access_key_id) == ("b", "us-east-1", None)


def test_other_aws_errors_are_wrapped_not_taken_for_absence(sm: Any, name: str) -> None:
    put(sm, f"dev/FTP/{name}/read", ftp())
    sm.delete_secret(SecretId=f"dev/FTP/{name}/read", RecoveryWindowInDays=7)
    put(sm, f"all/FTP/{name}/read", ftp())

    with pytest.raises(SecretsBackendError) as caught:
        Secret(name=name, type_of="FTP", env="dev", mode="read")

    assert "refused to read" in str(caught.value)
    assert "InvalidRequestException" in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


def test_an_unreachable_endpoint_is_a_backend_error(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CORE_SECRETS_BACKEND", "aws")
    monkeypatch.setenv("CORE_AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    # CORE sets botocore's retries itself (10 by default, with backoff: half a minute on a
    # refused connection); AWS_MAX_ATTEMPTS does not reach them, CORE_AWS_RETRIES does.
    monkeypatch.setenv("CORE_AWS_RETRIES", "1")

    with pytest.raises(SecretsBackendError) as caught:
        Secret(identifier="dev/FTP/anything/read")

    assert "could not be reached" in str(caught.value)
    assert "CORE_AWS_ENDPOINT_URL" in str(caught.value)
    assert isinstance(caught.value.__cause__, BotoCoreError)


def test_reads_are_cached_per_endpoint(sm: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = AwsSecretsManagerBackend.read

    def read(backend: AwsSecretsManagerBackend, identifier: str) -> Any:
        calls.append(identifier)
        return original(backend, identifier)

    monkeypatch.setattr(AwsSecretsManagerBackend, "read", read)
    put(sm, f"dev/FTP/{name}/read", ftp())

    first = Secret(identifier=f"dev/FTP/{name}/read")
    put(sm, f"dev/FTP/{name}/read", ftp("rotated"))
    second = Secret(identifier=f"dev/FTP/{name}/read")
    clear_cache()
    third = Secret(identifier=f"dev/FTP/{name}/read")

    assert (first.password, second.password, third.password) == (PASSWORD, PASSWORD, "rotated")
    assert len(calls) == 2


def test_cli_get_list_and_the_set_refusal(
    sm: Any, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put(sm, f"dev/FTP/{name}/read", ftp())

    assert core("secrets", "get", f"dev/FTP/{name}/read") == 0
    assert "password: ********" in capsys.readouterr().out.splitlines()
    assert core("secrets", "list") == 0
    assert f"dev/FTP/{name}/read" in capsys.readouterr().out.splitlines()
    assert core("secrets", "set", f"dev/FTP/{name}/read", "password=new") == 1

    err = capsys.readouterr().err
    assert "read-only" in err
    assert "CORE_SECRETS_BACKEND=local" in err
    assert sm.get_secret_value(SecretId=f"dev/FTP/{name}/read")["SecretString"] == json.dumps(ftp())
