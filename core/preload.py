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
"""

# ruff: noqa: F401 (imported for their side effect: loaded once, before any fork)
from __future__ import annotations

import importlib

import deltalake
import duckdb
import pyarrow
import pyarrow.compute
import pyarrow.csv
import pyarrow.dataset
import pyarrow.parquet
import sqlalchemy.dialects.sqlite
import sqlalchemy.orm

import core.checks.evaluate
import core.checks.results
import core.cli.run
import core.helpers.duckdb_helper
import core.helpers.session_helper
import core.lake.dataset_contract
import core.lake.raw_contract
import core.runner.local
import core.transforms.library
import core.transforms.runtime
import corebot.cli

sqlalchemy.orm.configure_mappers()
# The standard transforms (all but SFTP's, whose paramiko costs 0.25 s for the few
# tasks that use it); core.transforms.library.catalogue would import that one too.
for _module in core.transforms.library.MODULES:
    if _module != "sftp":
        importlib.import_module(f"core.transforms.library.{_module}")
