"""What the warm worker server does once, so that no task forked from it does.

``core.worker_server`` names this module as the forkserver's preload: importing it imports
the data stack (pyarrow, DuckDB, deltalake), CORE's task path with the standard
transforms and the checks, the local runner and ``core run``'s command (a run the console
script hands to the server, core.runner.served), and SQLite's dialect, and configures
SQLAlchemy's mappers —
work that a fresh interpreter does on its first query (about 0.06 s) and that a forked
child would otherwise repeat for every task (docs/performance.md, "Where a warm task's
time went"). It reads no setting and opens nothing (no database, no DuckDB, no Delta
table: a runtime started here would not survive the fork); the PostgreSQL driver is
added by ``core.worker_server.preload`` when the settings need it.

The garbage collector is paused while these imports run and what they built is frozen
after, as Python's documentation of ``gc.freeze`` advises for a process that forks: the
imports create hundreds of thousands of objects, none of them garbage, and collecting
them over and over took 0.09 s of the server's 1.05 s start (docs/performance.md, "Tenth
round"); frozen, no child scans them either (nor copies their pages by writing to them).
"""

from __future__ import annotations

import gc
import importlib

MODULES = (
    "deltalake",
    "duckdb",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.csv",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.orm",
    "core.checks.evaluate",
    "core.checks.results",
    "core.cli.run",
    "core.helpers.duckdb_helper",
    "core.helpers.session_helper",
    "core.lake.dataset_contract",
    "core.lake.raw_contract",
    "core.runner.local",
    "core.transforms.library",
    "core.transforms.runtime",
    "corebot.cli",
)


def _load() -> None:
    """Import MODULES and the standard transforms, configure the mappers, freeze."""
    gc.disable()
    try:
        for name in MODULES:
            importlib.import_module(name)
        importlib.import_module("sqlalchemy.orm").configure_mappers()
        library = importlib.import_module("core.transforms.library")
        # The standard transforms (all but SFTP's, whose paramiko costs 0.25 s for the
        # few tasks that use it); core.transforms.library.catalogue would import it too.
        for module in library.MODULES:
            if module != "sftp":
                importlib.import_module(f"core.transforms.library.{module}")
    finally:
        gc.freeze()
        gc.enable()


_load()
