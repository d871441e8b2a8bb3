"""A per-process time-to-live cache of what backends returned, keyed by (backend, identifier).

A worker that opens many connections reads the same secret many times; one
round trip per ``secrets_cache_seconds`` is enough. Absences are cached too, so
that a secret found under the ``all/`` fallback costs no repeated miss.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.secrets.base import Payload, SecretsBackend

# Read through this name (not time.monotonic directly) so tests can move time.
clock: Callable[[], float] = time.monotonic

CacheKey = tuple[str, str]
_entries: dict[CacheKey, tuple[float, Payload | None]] = {}
_lock = threading.Lock()


def read_through(backend: SecretsBackend, identifier: str, ttl: float) -> Payload | None:
    """The backend's payload for ``identifier``, from the cache when fresh.

    Args:
        backend: where to read on a miss.
        identifier: the secret's identifier.
        ttl: seconds an entry stays fresh; 0 or less disables caching.

    Returns:
        The payload, or None when the backend has no such secret.

    Raises:
        SecretsBackendError: the backend could not be read (errors are never cached).
    """
    key = (backend.cache_key, identifier)
    if ttl > 0:
        with _lock:
            entry = _entries.get(key)
        if entry is not None and clock() < entry[0]:
            return entry[1]
    payload = backend.read(identifier)
    if ttl > 0:
        with _lock:
            _entries[key] = (clock() + ttl, payload)
    return payload


def forget(backend: SecretsBackend, identifier: str) -> None:
    """Drop one entry, after the secret was written through this process.

    Args:
        backend: the backend written to.
        identifier: the secret's identifier.
    """
    with _lock:
        _entries.pop((backend.cache_key, identifier), None)


def clear_cache() -> None:
    """Drop every entry (tests; or after secrets were rotated)."""
    with _lock:
        _entries.clear()
