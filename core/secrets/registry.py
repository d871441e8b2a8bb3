"""The secrets backends by name: the ``secrets_backend`` setting picks one."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import SettingsError, did_you_mean
from core.secrets.aws import AwsSecretsManagerBackend
from core.secrets.base import SecretsBackend
from core.secrets.local import LocalFileBackend
from core.settings import Settings

BackendFactory = Callable[[Settings], SecretsBackend]

BACKENDS: dict[str, BackendFactory] = {
    "local": LocalFileBackend,
    "aws": AwsSecretsManagerBackend,
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make another backend selectable by name (replacing one of the same name).

    Args:
        name: the value of ``secrets_backend`` that selects it.
        factory: builds the backend from the settings.
    """
    BACKENDS[name] = factory


def get_backend(settings: Settings) -> SecretsBackend:
    """The backend the settings select.

    Args:
        settings: the settings; ``secrets_backend`` names the backend.

    Returns:
        A new backend object (cheap: clients are created on first use).

    Raises:
        SettingsError: no backend has that name.
    """
    name = str(settings.secrets_backend)
    factory = BACKENDS.get(name)
    if factory is None:
        raise SettingsError(
            f"secrets_backend={name!r} is not a secrets backend; expected one of "
            f"{', '.join(sorted(BACKENDS))}." + did_you_mean(name, BACKENDS)
        )
    return factory(settings)
