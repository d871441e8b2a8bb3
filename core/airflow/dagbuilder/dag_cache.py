"""DagCache: the built DAGs of an unchanged configuration, kept between parses.

Building 35,000 operators costs seconds however it is done; unpickling the same
DAGs costs a fraction. The cache is keyed by the configuration's fingerprint,
the settings a DAG depends on, the DAG-building code and the Airflow and Python
versions, so any change rebuilds. It is written when a configuration was found
unchanged since the previous parse (so a configuration that keeps changing never
pays for writing it) and only read in the DAG file's own process, from the
``airflow_dag_cache`` folder that CORE alone writes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import stat
from pathlib import Path
from typing import Any

from core.airflow.dagbuilder.cache import write_atomically
from core.settings import Settings

log = logging.getLogger(__name__)
FILE_NAME = "dags.pickle"
# The code a DAG depends on: core/airflow and core/plan (a change to either rebuilds).
SOURCES = (Path(__file__).resolve().parents[1], Path(__file__).resolve().parents[2] / "plan")
DAG_SETTINGS = ("environment", "branch", "dag_start_date", "max_active_runs")


def code_digest() -> str:
    """A digest of the DAG-building code and of the Python and Airflow versions."""
    from airflow import __version__ as airflow_version

    digest = hashlib.sha256(f"{platform.python_version()} {airflow_version}".encode())
    files = [p for s in SOURCES for p in ([s] if s.is_file() else sorted(s.rglob("*.py")))]
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


class DagCache:
    """Pickled DAGs in ``directory/dags.pickle``, behind a one-line key.

    Args:
        directory: the ``airflow_dag_cache`` folder.
        settings: CORE's settings (the ones DAGs depend on are part of the key).
    """

    def __init__(self, directory: Path, settings: Settings) -> None:
        self.path = Path(directory) / FILE_NAME
        self.settings = settings

    def key(self, fingerprint: str) -> bytes:
        """The cache key of a configuration fingerprint under these settings and code."""
        values = [str(getattr(self.settings, name)) for name in DAG_SETTINGS]
        text = "|".join([fingerprint, *values, code_digest()])
        return hashlib.sha256(text.encode()).hexdigest().encode()

    def load(self, fingerprint: str) -> dict[str, Any] | None:
        """The DAGs saved for this fingerprint, or None (absent, stale or unreadable)."""
        try:
            with self.path.open("rb") as handle:
                if not _trusted(handle.fileno()):
                    log.warning(
                        "CORE: ignoring the DAG cache %s: not private to this user "
                        "(owner or permissions); it is rebuilt",
                        self.path,
                    )
                    return None
                if handle.readline().rstrip(b"\n") != self.key(fingerprint):
                    return None
                # Written by CORE alone (mode 0600, checked above) into its own cache folder.
                return pickle.load(handle)  # noqa: S301
        except FileNotFoundError:
            return None
        except Exception as exc:  # a corrupt cache only costs a rebuild
            log.warning("CORE: ignoring the DAG cache %s (%s)", self.path, exc)
            return None

    def save(self, fingerprint: str, dags: dict[str, Any]) -> None:
        """Keep these DAGs for this fingerprint (failures are only logged)."""
        try:
            payload = pickle.dumps(dags, protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(self.path, self.key(fingerprint) + b"\n" + payload)
        except (OSError, pickle.PicklingError, RecursionError, TypeError) as exc:
            log.warning("CORE: cannot save the DAG cache %s (%s)", self.path, exc)

    def clear(self) -> None:
        """Forget the saved DAGs."""
        self.path.unlink(missing_ok=True)


def _trusted(descriptor: int) -> bool:
    """Unpickling runs code: only a file this user owns and nobody else may write."""
    info = os.fstat(descriptor)
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
