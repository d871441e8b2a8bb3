"""One typed Settings object for the whole of CORE.

Precedence: ``CORE_*`` environment variables > ``core.toml`` > defaults. The
TOML file is ``./core.toml`` unless ``CORE_CONFIG`` names another. Nothing here
runs at import time: entry points call :func:`load_settings` once and pass the
result down.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import SettingsError, did_you_mean

Environment = Literal["dev", "test", "uat", "prod"]
SecretsBackend = Literal["local", "aws"]
WorkerBackend = Literal["local", "batch", "kubernetes"]
OidcProvider = Literal["google", "okta"]

ENV_PREFIX = "CORE_"
CONFIG_FILE_VARIABLE = "CORE_CONFIG"
DEFAULT_CONFIG_FILE = "core.toml"
# The databases the configuration application is built and tested for.
SUPPORTED_DATABASES = ("postgresql", "sqlite")
# The lake branch each environment writes to unless CORE_BRANCH says otherwise.
DEFAULT_BRANCHES: dict[str, str] = {"dev": "dev", "test": "test", "uat": "uat", "prod": "master"}


class Settings(BaseModel):
    """Everything CORE needs to know about where it runs.

    Derived values (branch, secrets backend, lake root, secrets file) are filled
    in after loading, so every consumer sees concrete values.
    """

    # A plain model: load_settings reads the environment over the TOML file itself, so that
    # it can name the source of a bad value (pydantic-settings added 0.1 s to every start
    # for sources CORE does not use).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    environment: Environment = "dev"
    home: Path = Field(default_factory=lambda: Path.home() / ".core")
    database_url: str | None = None
    lake_root: str | None = None
    branch: str | None = None
    secrets_backend: SecretsBackend | None = None
    secrets_file: Path | None = None
    secrets_cache_seconds: float = Field(default=60, ge=0)
    lake_secret: str | None = None
    worker_backend: WorkerBackend = "local"
    # Where local workers are forked from (core/worker_server.py): one warm server shared
    # by this user's processes, ended after this many seconds without a new worker, or
    # one per process that starts workers.
    worker_server: Literal["shared", "per-process"] = "shared"
    worker_server_idle_seconds: float = Field(default=600, gt=0)
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    # Every S3 (lake) and AWS API call: retries of a failed request (500, 503, timeouts,
    # dropped connections), with exponential backoff, and the seconds one request may take.
    aws_retries: int = Field(default=10, ge=0)
    aws_timeout_seconds: float = Field(default=30, gt=0)
    batch_job_queue: str = "core"
    batch_job_definition: str | None = None
    kubernetes_namespace: str = "core"
    worker_image: str | None = None
    dag_start_date: dt.date = dt.date(2024, 1, 1)
    max_active_runs: int = Field(default=1, ge=1)
    airflow_dag_cache: Path | None = None
    # Seconds the DAG file waits for a locked or unreachable configuration database before
    # it uses the last good DAGs: well inside Airflow's dagbag_import_timeout (30 s).
    dag_database_timeout: float = Field(default=5, gt=0, le=60)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    notebook_start_timeout: float = Field(default=60, gt=0)
    notebook_execution_timeout: float | None = Field(default=3600, ge=0)
    transforms_dir: Path | None = None
    web_secret: str | None = None
    web_secure_cookies: bool = True
    # Browser sessions end after this long without a request, and this long in all.
    web_session_idle_minutes: float = Field(default=60, gt=0)
    web_session_max_hours: float = Field(default=12, gt=0)
    # The reverse proxies whose X-Forwarded-For is believed (comma-separated addresses,
    # e.g. "10.0.0.5"); unset, the client is the socket peer and the header is ignored.
    web_trusted_proxies: str | None = None
    airflow_api_url: str | None = None
    airflow_secret: str | None = None
    # OpenLineage: the client's transport as JSON ({"type": "http", "url": ...}); None = off.
    openlineage_transport: str | None = None
    openlineage_namespace: str = "core"
    oidc_provider: OidcProvider | None = None
    oidc_metadata_url: str | None = None
    oidc_secret: str | None = None
    alert_email_secret: str | None = None
    alert_webhook_secret: str | None = None
    # Where transformations may read landing files and write exports (core.roots): each a
    # directory (relative to CORE_HOME) or an s3://bucket/prefix URL; a pipeline reaches only
    # ROOT/<company>/<brand>. Default in dev and test: $CORE_HOME/landing and $CORE_HOME/outbox;
    # in uat and prod none, until an administrator names them.
    landing_roots: list[str] | None = None
    export_roots: list[str] | None = None

    @field_validator("home", mode="before")
    @classmethod
    def _home(cls, value: object) -> object:
        # Path("") is the current folder: an empty CORE_HOME would put the database, the
        # secrets and the session key wherever a command happens to start.
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "expected a folder path such as /home/core/.core (unset CORE_HOME to use ~/.core)"
            )
        return value

    @field_validator("openlineage_transport")
    @classmethod
    def _openlineage_transport(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            raise ValueError(
                "expected the OpenLineage client's transport as a JSON object with a type, "
                'such as {"type": "http", "url": "http://marquez:5000"} or '
                '{"type": "file", "log_file_path": "/tmp/lineage.jsonl", "append": true}'
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from sqlalchemy.engine import make_url  # only when a URL is configured
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in SUPPORTED_DATABASES:
            raise ValueError(
                "expected a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/"
                "configuration_application or sqlite:////path/to/configuration.db"
            )
        return value

    @field_validator("landing_roots", "export_roots", mode="before")
    @classmethod
    def _roots_list(cls, value: Any) -> Any:
        from core.roots import parse_roots  # light; kept beside the rule it serves

        try:
            return parse_roots(value)
        except ValueError:
            raise ValueError(
                'expected a JSON list such as ["/srv/landing", "s3://bucket/landing"] or '
                "directories and s3:// URLs separated by commas"
            ) from None

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        local = self.environment in ("dev", "test")
        derived = {
            "home": self.home.expanduser(),
            "branch": self.branch or DEFAULT_BRANCHES[self.environment],
            "secrets_backend": self.secrets_backend or ("local" if local else "aws"),
            "secrets_file": (self.secrets_file or self.home / "secrets.toml").expanduser(),
            # The Airflow DAG file's last good plans and its parse cache.
            "airflow_dag_cache": (self.airflow_dag_cache or self.home / "airflow").expanduser(),
            # Notebook transforms: ./transforms of the directory CORE starts in, made absolute
            # so that a kernel started elsewhere finds the same folder.
            "transforms_dir": (self.transforms_dir or Path("transforms")).expanduser().resolve(),
        }
        # uat and prod have no default lake: what touches it asks for one (require_lake_root),
        # so database-only commands (core db, core pipelines list) run without it.
        if self.lake_root is None and local:
            derived["lake_root"] = str(self.home.expanduser() / "lake")
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        self._derive_roots(local)
        return self

    def _derive_roots(self, local: bool) -> None:
        """Fill in and check landing_roots and export_roots (see core.roots)."""
        from core.roots import DEFAULT_FOLDERS, check_roots, normalize_root

        for kind, default in DEFAULT_FOLDERS.items():
            name = f"{kind}_roots"
            given = getattr(self, name)
            if given is None:
                given = [str(self.home / default)] if local else []
            try:
                roots = [normalize_root(root, self.home) for root in given]
                check_roots(self, kind, roots)  # type: ignore[arg-type]
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}: {exc}") from None
            object.__setattr__(self, name, roots)

    def require_lake_root(self) -> str:
        """The lake's root, for what reads or writes the lake.

        Raises:
            SettingsError: none is configured (uat and prod have no default).
        """
        if not self.lake_root:
            raise SettingsError(
                f"CORE_LAKE_ROOT is required when CORE_ENVIRONMENT={self.environment} to read "
                "or write the lake (expected an s3://bucket URL); commands that use only the "
                "configuration database (core db, core pipelines list) do not need it"
            )
        return self.lake_root

    def to_environment(self) -> dict[str, str]:
        """These settings as ``CORE_*`` variables, so a child process loads the same ones."""
        values = self.model_dump(exclude_none=True)
        # Lists (the roots) as JSON, which loading reads back; str() of a list would not be.
        return {
            f"{ENV_PREFIX}{name.upper()}": json.dumps(v) if isinstance(v, list) else str(v)
            for name, v in values.items()
        }

    @property
    def embedded_database_url(self) -> str:
        """The SQLite file that dev uses when no database URL is configured."""
        return f"sqlite:///{self.home / 'configuration.db'}"


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build the Settings from the environment over core.toml over defaults.

    Args:
        environ: the environment to read; ``os.environ`` when omitted.
        config_file: the TOML file; ``$CORE_CONFIG`` or ``./core.toml`` when omitted.

    Returns:
        A frozen Settings object.

    Raises:
        SettingsError: a value is invalid, a name is unknown, or the file is unreadable.
    """
    environ = os.environ if environ is None else environ
    path = config_file or Path(environ.get(CONFIG_FILE_VARIABLE, DEFAULT_CONFIG_FILE))
    file_values = _read_config_file(path)
    _refuse_unknown_variables(environ)
    env_values = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != CONFIG_FILE_VARIABLE
    }
    try:
        return Settings(**{**file_values, **env_values})
    except ValidationError as exc:
        raise SettingsError(_describe(exc, env_values, path)) from None


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix or remove the file") from exc
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        name = unknown[0]
        raise SettingsError(
            f"{path}: unknown setting {name!r}; expected one of "
            f"{', '.join(sorted(Settings.model_fields))}."
            + did_you_mean(name, Settings.model_fields)
        )
    return values


def _refuse_unknown_variables(environ: Mapping[str, str]) -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_FILE_VARIABLE}
    for key in sorted(environ):
        if key.startswith(ENV_PREFIX) and key not in known:
            raise SettingsError(
                f"unknown environment variable {key}; CORE reads {', '.join(sorted(known))}."
                + did_you_mean(key, known)
            )


def _describe(exc: ValidationError, env_values: Mapping[str, str], path: Path) -> str:
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        source = (
            f"{ENV_PREFIX}{field.upper()}"
            if field in env_values
            else (f"{path}: {field}" if field else "settings")
        )
        expected = _expected(field, error)
        received = f"={_shown(field, error['input'])!r}" if field else ""
        problems.append(f"{source}{received} is not valid: {expected}")
    return "; ".join(problems)


def _expected(field: str, error: Any) -> str:
    annotation = Settings.model_fields[field].annotation if field else None
    choices = _literal_choices(annotation)
    if choices:
        return "expected one of " + ", ".join(choices)
    return str(error["msg"]).removeprefix("Value error, ")


def _literal_choices(annotation: Any) -> list[str]:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if getattr(candidate, "__origin__", None) is Literal:
            return [str(choice) for choice in candidate.__args__]
    return []


def _shown(field: str, value: Any) -> Any:
    """A received value fit for a message: a database URL's credentials hidden."""
    if field == "database_url" and isinstance(value, str):
        return re.sub(r"(?<=://)[^/@]*@", "***@", value)
    return value
