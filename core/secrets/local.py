"""The ``local`` backend: a TOML file whose tables are keyed by identifier.

    ["dev/FTP/hamburger/read"]
    user = "hamburger"
    password = "hamburger_password"
    host = "ftp.example.com"
    port = 21

A table's value may also be a string holding a JSON object (as pasted from AWS).
Writes take a lock file, write a temporary file (mode 0600) and rename it over
the old one, so a reader never sees half a file and concurrent writers do not
lose each other's changes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w

from core.errors import SecretsBackendError
from core.secrets.base import Change, Payload
from core.settings import Settings

logger = logging.getLogger("core.secret")


class LocalFileBackend:
    """Secrets in the TOML file named by the ``secrets_file`` setting.

    Args:
        settings: the settings naming the file.
    """

    name = "local"
    suggests = True

    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.secrets_file or settings.home / "secrets.toml")
        self.cache_key = f"local:{self.path}"

    def describe(self) -> str:
        """Where the secrets are, for messages."""
        return f"the local secrets file {self.path}"

    def how_to_add(self, identifier: str) -> str:
        """How to create a missing secret here."""
        return f"Add it with `core secrets set {identifier} KEY=VALUE ...`"

    def read(self, identifier: str) -> Payload | None:
        """The table (or JSON string) stored under ``identifier``, or None.

        Raises:
            SecretsBackendError: the file cannot be read or is not valid TOML.
        """
        return self._load().get(identifier)

    def identifiers(self) -> list[str]:
        """Every identifier in the file, sorted (none when the file does not exist)."""
        return sorted(self._load())

    def update(self, identifier: str, change: Change) -> None:
        """Store ``change(old)`` under ``identifier``, atomically and with mode 0600.

        Raises:
            SecretsBackendError: the file cannot be read, parsed or written.
        """
        with _locked(self.path):
            document = self._load()
            document[identifier] = change(document.get(identifier))
            try:
                _write_atomic(self.path, tomli_w.dumps(document))
            except OSError as exc:
                raise SecretsBackendError(
                    f"cannot write {self.path}: {exc.strerror}; check the directory's "
                    "permissions or set CORE_SECRETS_FILE"
                ) from exc

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsBackendError(
                f"cannot read {self.path} ({type(exc).__name__}); check its permissions "
                "or set CORE_SECRETS_FILE"
            ) from exc
        _warn_if_shared(self.path)
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib reports a position and a reason, never the text it choked on.
            raise SecretsBackendError(f"{self.path} is not valid TOML: {exc}") from exc


def _warn_if_shared(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning(
            "secrets file %s is readable by others (mode %o); run `chmod 600 %s`",
            path,
            mode,
            path,
        )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # A separate lock file: the secrets file itself is replaced, so a lock on it would not hold.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _write_atomic(path: Path, text: str) -> None:
    # mkstemp creates the file with mode 0600, and os.replace keeps that mode.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
