from pathlib import Path

import pytest

from core.errors import SettingsError
from core.lake import DatasetContract
from core.settings import load_settings


def test_defaults_for_dev(tmp_path: Path) -> None:
    settings = load_settings({"CORE_HOME": str(tmp_path)}, tmp_path / "none.toml")
    assert settings.environment == "dev"
    assert settings.branch == "dev"
    assert settings.secrets_backend == "local"
    assert settings.worker_backend == "local"
    assert settings.batch_job_queue == "core"
    assert settings.lake_root == str(tmp_path / "lake")
    assert settings.secrets_file == tmp_path / "secrets.toml"
    assert settings.embedded_database_url == f"sqlite:///{tmp_path / 'configuration.db'}"


def test_environment_overrides_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "core.toml"
    config.write_text('branch = "feature-x"\nbatch_job_queue = "from-file"\n')
    settings = load_settings({"CORE_BATCH_JOB_QUEUE": "from-env"}, config)
    assert settings.branch == "feature-x"
    assert settings.batch_job_queue == "from-env"


def test_config_file_named_by_core_config(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('worker_backend = "batch"\n')
    assert load_settings({"CORE_CONFIG": str(config)}).worker_backend == "batch"


def test_prod_derives_aws_secrets_and_master_branch() -> None:
    settings = load_settings(
        {"CORE_ENVIRONMENT": "prod", "CORE_LAKE_ROOT": "s3://lake"}, Path("/nonexistent")
    )
    assert (settings.branch, settings.secrets_backend) == ("master", "aws")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CORE_ENVIRONMENT", "staging", "expected one of dev, test, uat, prod"),
        ("CORE_SECRETS_BACKEND", "vault", "expected one of local, aws"),
        ("CORE_WORKER_BACKEND", "ssh", "expected one of local, batch, kubernetes"),
    ],
)
def test_invalid_value_names_the_variable_and_the_allowed_values(
    variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value}, Path("/nonexistent"))
    assert f"{variable}='{value}'" in str(caught.value)
    assert expected in str(caught.value)


def test_invalid_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "core.toml"
    config.write_text('environment = "qa"\n')
    with pytest.raises(SettingsError, match=r"core.toml: environment='qa' .*dev, test, uat, prod"):
        load_settings({}, config)


def test_unknown_variable_is_refused_with_a_suggestion() -> None:
    with pytest.raises(SettingsError, match="CORE_ENVIRONEMNT.*Did you mean 'CORE_ENVIRONMENT'"):
        load_settings({"CORE_ENVIRONEMNT": "dev"}, Path("/nonexistent"))


def test_unknown_file_key_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "core.toml"
    config.write_text('lake_rot = "/x"\n')
    with pytest.raises(SettingsError, match="unknown setting 'lake_rot'.*Did you mean 'lake_root'"):
        load_settings({}, config)


def test_malformed_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    config = tmp_path / "core.toml"
    config.write_text("environment = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, config)


@pytest.mark.parametrize("environment", ["uat", "prod"])
def test_uat_and_prod_need_a_lake_root_only_to_touch_the_lake(environment: str) -> None:
    settings = load_settings({"CORE_ENVIRONMENT": environment}, Path("/nonexistent"))
    assert settings.lake_root is None
    with pytest.raises(SettingsError, match=f"CORE_LAKE_ROOT is required .*={environment}"):
        settings.require_lake_root()
    with pytest.raises(SettingsError, match="CORE_LAKE_ROOT is required"):
        DatasetContract("acme", "zentrix", "ingest", "numbers", settings=settings)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings({}, tmp_path / "none.toml")
    with pytest.raises(ValueError, match="frozen"):
        settings.branch = "other"  # type: ignore[misc]


def test_importing_core_reads_no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import subprocess
    import sys

    # A bad value would fail at load: importing every module must not load settings.
    modules = [
        "core.settings",
        "core.models.configuration",
        "core.helpers.session_helper",
        "core.cli",
        "corebot.cli",
        "core.plan",
        "core.database.migrate",
    ]
    code = "; ".join(f"import {m}" for m in modules)
    env = {"CORE_ENVIRONMENT": "broken", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert importlib.import_module("core.settings")


@pytest.mark.parametrize("url", ["notaurl", "mysql://bob:hunter2@db/configuration"])
def test_an_unusable_database_url_fails_at_load_without_echoing_credentials(url) -> None:
    with pytest.raises(
        SettingsError,
        match="CORE_DATABASE_URL=.* is not valid: expected a SQLAlchemy URL such as postgresql",
    ) as caught:
        load_settings({"CORE_DATABASE_URL": url}, Path("/nonexistent"))
    assert "hunter2" not in str(caught.value)
