"""A transform module that leaves a mark when it is imported (IMPORT_MARKER): it shows
whether configured code ran in a process, not only whether its function was called."""

from __future__ import annotations

import os
import pathlib

import pyarrow as pa

if os.environ.get("IMPORT_MARKER"):
    pathlib.Path(os.environ["IMPORT_MARKER"]).touch()


def numbers(ctx) -> pa.Table:
    """Three numbers."""
    return pa.table({"n": [1, 2, 3]})
