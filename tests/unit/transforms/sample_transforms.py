"""Transforms for the runtime tests (entrypoints tests.unit.transforms.sample_transforms:…)."""

from __future__ import annotations

import pyarrow as pa


def numbers(ctx) -> pa.Table:
    """Return a table: the runtime publishes it."""
    count = ctx.variables["count"]
    return pa.table({"n": list(range(count))})


def doubled(ctx) -> None:
    """Read the upstream dataset of this run and publish it doubled."""
    table = ctx.input("numbers")
    ctx.publish(pa.table({"n": pa.compute.multiply(table["n"], 2)}))


def broken(ctx) -> None:
    """Fail like a buggy transform."""
    raise ValueError("the source had no header row")


def slow_doubled(ctx) -> None:
    """doubled, after announcing it started (SLOW_MARKER) and lingering: to be killed."""
    import os
    import pathlib
    import time

    pathlib.Path(os.environ["SLOW_MARKER"]).touch()
    time.sleep(float(os.environ.get("SLOW_SECONDS", "30")))
    doubled(ctx)
