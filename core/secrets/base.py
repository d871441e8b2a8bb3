"""What every secrets backend provides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# What a backend hands back for one identifier: JSON text (AWS), or an already
# parsed table (the local TOML file). Parsing and typing happen in core.secrets.types.
Payload = str | bytes | dict[str, Any]
# Given the stored payload (None when absent), return the object to store instead.
Change = Callable[[Payload | None], dict[str, Any]]


class SecretsBackend(Protocol):
    """A place secrets are kept, addressed by identifier (``env/type/name/mode``).

    Attributes:
        name: the registry name (the value of the ``secrets_backend`` setting).
        cache_key: distinguishes this store from others of the same kind in the cache.
        suggests: True when listing identifiers is cheap enough to suggest near misses.
    """

    name: str
    cache_key: str
    suggests: bool

    def describe(self) -> str:
        """Where the secrets are, for messages (e.g. 'the local secrets file …')."""
        ...

    def read(self, identifier: str) -> Payload | None:
        """The stored payload, or None when no secret has this identifier."""
        ...

    def identifiers(self) -> list[str]:
        """Every identifier the backend holds, sorted."""
        ...

    def update(self, identifier: str, change: Change) -> None:
        """Replace the stored object by ``change(old)``, atomically."""
        ...

    def how_to_add(self, identifier: str) -> str:
        """One sentence telling a person how to create the missing secret."""
        ...
