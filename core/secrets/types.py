"""The typed shapes of secrets: one pydantic model per type, and how payloads are parsed.

A secret is stored as a JSON object (or a TOML table). Its type (``type_of``,
compared case-insensitively) picks the model that checks and coerces it; any
other type is read as a plain object whose keys become attributes. Messages are
built from each problem's location and kind only, because pydantic's own
messages and errors carry the offending input, which here is a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
)
from sqlalchemy.engine import URL

from core.errors import InvalidSecretError
from core.secrets.base import Payload

Port = Annotated[int, Field(ge=1, le=65535)]
Text = Annotated[str, Field(min_length=1)]

# SQLAlchemy dialect+driver for each rdbms a database secret may name.
DRIVERS: dict[str, str] = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "redshift": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mssql": "mssql+pyodbc",
    "oracle": "oracle+oracledb",
}

# What each pydantic error type means, in words that never quote the input.
_EXPECTED: dict[str, str] = {
    "missing": "is required but missing",
    "string_type": "expected a string",
    "string_too_short": "expected a non-empty string",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "greater_than_equal": "expected a number of at least {ge}",
    "less_than_equal": "expected a number of at most {le}",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}
_CONSTRAINTS = ("ge", "le")


class SecretFields(BaseModel):
    """Base of every secret type: frozen, extra keys kept, values hidden from reprs.

    Keys beyond a type's fields are kept (legacy secrets carry extras) and are
    readable like the declared ones.
    """

    model_config = ConfigDict(extra="allow", frozen=True, hide_input_in_errors=True)

    # Attributes computed from the fields (e.g. a database URL), reachable on Secret.
    derived: ClassVar[tuple[str, ...]] = ()
    _identifier: str = PrivateAttr(default="")

    def plain(self) -> dict[str, Any]:
        """The stored keys and their plain values (SecretStr unwrapped, unset ones dropped).

        Returns:
            A new dict keyed by the names the secret is stored with.
        """
        dumped = self.model_dump(by_alias=True, exclude_none=True)
        return {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in dumped.items()
        }

    @classmethod
    def declared(cls) -> set[str]:
        """The names of the type's declared fields, as stored (aliases, not Python names)."""
        return {field.alias or name for name, field in cls.model_fields.items()}

    def __repr_args__(self) -> list[tuple[str | None, Any]]:
        # repr, str and rich's pretty printing all come through here: keys, never values.
        return [("keys", sorted(self.model_dump(by_alias=True, exclude_none=True)))]


class FtpSecret(SecretFields):
    """An FTP login; ``mode`` is accepted as another name for ``method``."""

    user: Text
    password: SecretStr
    host: Text
    port: Port = 21
    method: str | None = Field(default=None, validation_alias=AliasChoices("method", "mode"))


class SftpSecret(FtpSecret):
    """An SFTP login (port 22 unless stored)."""

    port: Port = 22


class DatabaseSecret(SecretFields):
    """A database login; :attr:`url` is the SQLAlchemy URL for it."""

    derived: ClassVar[tuple[str, ...]] = ("url",)

    user: Text
    password: SecretStr
    rdbms: Text
    host: Text
    port: Port | None = None
    database: Text
    # "schema" would shadow a (deprecated) BaseModel attribute; it is stored as "schema".
    schema_: str | None = Field(default=None, alias="schema")
    role: str | None = None

    @property
    def url(self) -> str:
        """The SQLAlchemy URL, e.g. ``postgresql+psycopg://user:pw@host:5432/db``.

        Returns:
            The URL as a string, user and password URL-escaped.

        Raises:
            InvalidSecretError: the rdbms has no known SQLAlchemy driver.
        """
        driver = DRIVERS.get(self.rdbms.lower())
        if driver is None:
            raise InvalidSecretError(
                f"secret {self._identifier!r}: rdbms is not one CORE can build a URL for; "
                f"expected one of {', '.join(sorted(DRIVERS))}"
            )
        url = URL.create(
            driver,
            username=self.user,
            password=self.password.get_secret_value(),
            host=self.host,
            port=self.port,
            database=self.database,
        )
        return url.render_as_string(hide_password=False)


class EmailSecret(SecretFields):
    """A mailbox login: ``address`` sends (and logs in unless ``username`` is stored)."""

    address: Text
    password: SecretStr
    host: Text
    port: Port
    username: str | None = None
    starttls: bool | None = None


class WebhookSecret(SecretFields):
    """A webhook (e.g. Slack's incoming webhook): its URL is the credential."""

    url: SecretStr


class S3Secret(SecretFields):
    """An S3 bucket, with keys when the bucket is not reachable by the ambient role."""

    bucket: Text
    region: Text
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None


class GenericSecret(SecretFields):
    """Any other type: a JSON object whose keys become attributes."""


TYPES: dict[str, type[SecretFields]] = {
    "ftp": FtpSecret,
    "sftp": SftpSecret,
    "database": DatabaseSecret,
    "email": EmailSecret,
    "s3": S3Secret,
    "webhook": WebhookSecret,
}


def model_for(type_of: str | None) -> type[SecretFields]:
    """The model for a secret type (case-insensitive); GenericSecret for any other.

    Args:
        type_of: the type as written in the identifier, e.g. ``FTP``.

    Returns:
        A SecretFields subclass.
    """
    return TYPES.get((type_of or "").lower(), GenericSecret)


def parse_secret(identifier: str, type_of: str | None, payload: Payload) -> SecretFields:
    """Check and coerce a stored payload into its type's model.

    Args:
        identifier: where the payload came from (named in errors).
        type_of: the secret's type; unknown types give a GenericSecret.
        payload: JSON text or an already parsed object.

    Returns:
        The validated fields.

    Raises:
        InvalidSecretError: the payload is not a JSON object or does not fit the type.
    """
    values = as_object(identifier, payload)
    try:
        fields = model_for(type_of).model_validate(values)
    except ValidationError as exc:
        # "from None": a chained ValidationError would print inputs in a traceback.
        raise InvalidSecretError(_describe(identifier, type_of, exc.errors())) from None
    fields._identifier = identifier
    return fields


def missing_fields(identifier: str, type_of: str | None, values: Mapping[str, Any]) -> list[str]:
    """The required fields ``values`` still lacks; other problems are refused.

    Used when a secret is written key by key: absent fields may follow later,
    but a present field of the wrong kind is stopped where it enters.

    Args:
        identifier: the secret being written (named in errors).
        type_of: its type.
        values: the whole object that would be stored.

    Returns:
        The names of the missing required fields, in declaration order.

    Raises:
        InvalidSecretError: a present field does not fit its type.
    """
    try:
        model_for(type_of).model_validate(dict(values))
    except ValidationError as exc:
        errors = exc.errors()
        wrong = [error for error in errors if error["type"] != "missing"]
        if wrong:
            raise InvalidSecretError(_describe(identifier, type_of, wrong)) from None
        return [_location(error) for error in errors]
    return []


def as_object(identifier: str, payload: Payload) -> dict[str, Any]:
    """Decode JSON text if need be and require an object of key/value pairs.

    Args:
        identifier: where the payload came from (named in errors).
        payload: JSON text (str or bytes) or a parsed object.

    Returns:
        The payload as a dict.

    Raises:
        InvalidSecretError: the text is not JSON, or the JSON is not an object.
    """
    value: Any = payload
    if isinstance(payload, str | bytes):
        value = _decode_json(identifier, payload)
    if not isinstance(value, dict):
        raise InvalidSecretError(
            f"secret {identifier!r} must be a JSON object of key/value pairs; "
            f"found a JSON {_json_kind(value)}"
        )
    return value


def _decode_json(identifier: str, text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the parser's position and reason: the document itself is the secret.
        raise InvalidSecretError(
            f"secret {identifier!r} is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); store a JSON object such as "
            '{"user": "...", "password": "..."}'
        ) from None
    except UnicodeDecodeError:
        raise InvalidSecretError(f"secret {identifier!r} is not UTF-8 text") from None


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _describe(identifier: str, type_of: str | None, errors: list[Any]) -> str:
    kind = model_for(type_of)
    label = f"{type_of} secret" if kind is not GenericSecret else "secret"
    problems = "; ".join(f"{_location(error)}: {_expected(error)}" for error in errors)
    return f"secret {identifier!r} is not a valid {label}: {problems}"


def _location(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(the object)"


def _expected(error: Any) -> str:
    template = _EXPECTED.get(error["type"], "is not valid ({type})")
    # ctx holds the constraint (e.g. ge=1), never the input; only known keys are used.
    context = error.get("ctx") or {}
    constraints = {key: context.get(key, "") for key in _CONSTRAINTS}
    return template.format(type=error["type"], **constraints)
