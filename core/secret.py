"""Secret: credentials and connection details by identifier, never by value in code.

    from core.secret import Secret
    s = Secret(name='hamburger', type_of='FTP', env='dev', mode='read')
    s.password        # 'hamburger_password'

A secret lives under the identifier ``{env}/{type_of}/{name}/{mode}``. When the
environment has none, ``all/{type_of}/{name}/{mode}`` is used instead (unless
``force_env=True``). The ``secrets_backend`` setting picks where secrets are kept
(``aws``: AWS Secrets Manager; ``local``: a TOML file); reads are cached for
``secrets_cache_seconds``. Values never appear in reprs, logs or error messages.
See docs/secrets.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.errors import SecretError, SecretNotFoundError, did_you_mean
from core.secrets.base import Payload, SecretsBackend
from core.secrets.cache import clear_cache, forget, read_through
from core.secrets.registry import get_backend
from core.secrets.types import SecretFields, as_object, missing_fields, parse_secret
from core.settings import Settings, load_settings

__all__ = [
    "FALLBACK_ENV",
    "Secret",
    "clear_cache",
    "list_identifiers",
    "set_secret",
    "type_from_identifier",
]

logger = logging.getLogger("core.secret")

# The environment whose secrets every environment falls back to.
FALLBACK_ENV = "all"
_PARTS = ("env", "type_of", "name", "mode")


class Secret:
    """One secret, read on construction, its keys readable as attributes.

    Keys that clash with the attributes below (e.g. a stored ``name``) are read
    with ``secret["name"]``.

    Args:
        name: the secret's name, e.g. ``hamburger``.
        type_of: its type (``FTP``, ``SFTP``, ``database``, ``email``, ``s3`` or any other).
        env: its environment; ``settings.environment`` when omitted.
        mode: its access mode, e.g. ``read`` or ``write``.
        identifier: a whole identifier instead of the four parts; used exactly, no fallback.
        force_env: refuse the ``all/`` fallback.
        settings: the settings; loaded from the environment when omitted.

    Attributes:
        identifier: the identifier the secret was found under.
        tried: every identifier looked up, in order.
        backend: the name of the backend it came from.

    Raises:
        SecretError: neither a whole identifier nor name, type_of and mode were given.
        SecretNotFoundError: no identifier tried holds a secret.
        InvalidSecretError: the stored secret is not a JSON object fitting its type.
        SecretsBackendError: the backend could not be read.
    """

    def __init__(
        self,
        name: str | None = None,
        type_of: str | None = None,
        env: str | None = None,
        mode: str | None = None,
        identifier: str | None = None,
        force_env: bool = False,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.force_env = force_env
        if identifier is not None:
            self._from_identifier(identifier, type_of)
        else:
            self._from_parts(name, type_of, env, mode)
        backend = get_backend(self.settings)
        self.backend = backend.name
        self.identifier, payload = _first_found(
            backend, self.tried, self.settings.secrets_cache_seconds
        )
        self._fields: SecretFields = parse_secret(self.identifier, self.type_of, payload)
        self._values = self._fields.plain()

    def _from_identifier(self, identifier: str, type_of: str | None) -> None:
        if not identifier.strip():
            raise SecretError("Secret(identifier=...) needs a non-empty identifier")
        parts = identifier.split("/")
        env, found_type, name, mode = parts if len(parts) == len(_PARTS) else (None,) * 4
        self.env, self.name, self.mode = env, name, mode
        self.type_of = type_of or found_type
        self.tried: tuple[str, ...] = (identifier,)

    def _from_parts(
        self, name: str | None, type_of: str | None, env: str | None, mode: str | None
    ) -> None:
        self.env = env or self.settings.environment
        self.name, self.type_of, self.mode = name, type_of, mode
        given = {"env": self.env, "type_of": type_of, "name": name, "mode": mode}
        _check_parts(given)
        own = "/".join(str(given[part]) for part in _PARTS)
        if self.force_env or self.env == FALLBACK_ENV:
            self.tried = (own,)
        else:
            self.tried = (own, "/".join((FALLBACK_ENV, *own.split("/")[1:])))

    def keys(self) -> list[str]:
        """The stored keys that have a value, sorted."""
        return sorted(self._values)

    def to_dict(self) -> dict[str, Any]:
        """The stored keys and their plain values, e.g. to pass to a client library.

        Returns:
            A new dict; handle it as carefully as the secret itself.
        """
        return dict(self._values)

    def __getitem__(self, key: str) -> Any:
        return self._lookup(key, KeyError)

    def __getattr__(self, key: str) -> Any:
        # Only called for names that are not ordinary attributes: the secret's keys.
        if key.startswith("_") or "_values" not in self.__dict__:
            raise AttributeError(key)
        return self._lookup(key, AttributeError)

    def _lookup(self, key: str, error: type[LookupError] | type[AttributeError]) -> Any:
        if key in self._values:
            return self._values[key]
        if key in type(self._fields).derived:
            return getattr(self._fields, key)
        if key in type(self._fields).declared():
            return None  # an optional field of the type that this secret does not set
        raise error(
            f"secret {self.identifier!r} has no key {key!r}; it has "
            f"{', '.join(self.keys()) or 'none'}." + did_you_mean(key, self._values)
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._values, *type(self._fields).derived})

    def __repr__(self) -> str:
        return f"Secret(identifier={self.identifier!r}, keys={self.keys()!r})"

    __str__ = __repr__


def type_from_identifier(identifier: str) -> str | None:
    """The type part of an ``env/type/name/mode`` identifier, or None for other shapes.

    Args:
        identifier: a secret identifier.

    Returns:
        The second of four parts, or None.
    """
    parts = identifier.split("/")
    return parts[1] if len(parts) == len(_PARTS) else None


def set_secret(
    identifier: str, values: Mapping[str, Any], settings: Settings | None = None
) -> list[str]:
    """Merge ``values`` into the secret stored under ``identifier`` (creating it).

    Args:
        identifier: the whole identifier, e.g. ``dev/FTP/hamburger/read``.
        values: the keys to set; other stored keys are kept.
        settings: the settings; loaded from the environment when omitted.

    Returns:
        The fields the secret's type requires that it still lacks.

    Raises:
        ReadOnlySecretsBackendError: the backend cannot be written through CORE (aws).
        InvalidSecretError: a value does not fit its field, or the stored secret is unusable.
        SecretsBackendError: the backend could not be read or written.
    """
    settings = settings or load_settings()
    backend = get_backend(settings)
    type_of = type_from_identifier(identifier)
    missing: list[str] = []

    def merge(old: Payload | None) -> dict[str, Any]:
        merged = {**(as_object(identifier, old) if old is not None else {}), **values}
        # TOML has no null; a key set to None is removed instead.
        merged = {key: value for key, value in merged.items() if value is not None}
        missing[:] = missing_fields(identifier, type_of, merged)
        return merged

    backend.update(identifier, merge)
    forget(backend, identifier)
    logger.info("stored keys %s of secret %s", sorted(values), identifier)
    return missing


def list_identifiers(settings: Settings | None = None) -> list[str]:
    """Every identifier the configured backend holds, sorted.

    Args:
        settings: the settings; loaded from the environment when omitted.

    Returns:
        The identifiers (names only, never values).

    Raises:
        SecretsBackendError: the backend could not be read or listed.
    """
    return get_backend(settings or load_settings()).identifiers()


def _check_parts(given: Mapping[str, str | None]) -> None:
    absent = [part for part in _PARTS if not given[part]]
    if absent:
        raise SecretError(
            f"Secret needs name, type_of and mode (or a whole identifier=...); "
            f"missing: {', '.join(absent)}"
        )
    slashed = [part for part in _PARTS if "/" in str(given[part])]
    if slashed:
        raise SecretError(
            f"Secret's {', '.join(slashed)} must not contain '/': it separates the parts "
            "of the identifier env/type_of/name/mode"
        )


def _first_found(
    backend: SecretsBackend, tried: tuple[str, ...], ttl: float
) -> tuple[str, Payload]:
    for identifier in tried:
        payload = read_through(backend, identifier, ttl)
        if payload is None:
            continue
        if identifier == tried[0]:
            logger.debug("using secret %s from %s", identifier, backend.name)
        else:
            logger.info("secret %s not found; using %s instead", tried[0], identifier)
        return identifier, payload
    raise SecretNotFoundError(_not_found(backend, tried))


def _not_found(backend: SecretsBackend, tried: tuple[str, ...]) -> str:
    names = " or ".join(repr(identifier) for identifier in tried)
    hint = did_you_mean(tried[0], backend.identifiers()) if backend.suggests else ""
    return f"no secret {names} in {backend.describe()}.{hint} {backend.how_to_add(tried[0])}"
