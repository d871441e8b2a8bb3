"""What the warm worker server does once, so that no task forked from it does.

``core.worker`` names this module as the forkserver's preload: importing it imports
the data stack (pyarrow, DuckDB, deltalake) and CORE's task path, and configures
SQLAlchemy's mappers — work that a fresh interpreter does on its first query (about
0.06 s) and that a forked child would otherwise repeat for every task
(docs/performance.md, "Where a warm task's time went"). It reads no setting and
opens nothing: the server serves every CORE home and database alike.
"""

# ruff: noqa: F401 (imported for their side effect: loaded once, before any fork)
from __future__ import annotations

import deltalake
import duckdb
import pyarrow
import pyarrow.compute
import pyarrow.dataset
import sqlalchemy.orm

import core.helpers.session_helper
import core.lake.dataset_contract
import core.lake.raw_contract
import core.transforms.library
import core.transforms.runtime
import corebot.cli

sqlalchemy.orm.configure_mappers()
