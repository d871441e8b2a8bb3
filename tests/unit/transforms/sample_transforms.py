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


def gated_doubled(ctx) -> None:
    """doubled, once GO_MARKER exists (after announcing it started, SLOW_MARKER): a task
    that is running while the test does something to what is around it."""
    import os
    import pathlib
    import time

    _started()
    go, deadline = pathlib.Path(os.environ["GO_MARKER"]), time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{go} never appeared")
        time.sleep(0.05)
    doubled(ctx)


def _started() -> None:
    import os
    import pathlib

    pathlib.Path(os.environ["SLOW_MARKER"]).touch()


def aborting(ctx) -> None:
    """Crash the worker as a segfault in native code would: no word, no record."""
    import os

    os.abort()


def quitting(ctx) -> None:
    """End the worker with the exit code named by QUIT_CODE, recording nothing: as a
    library calling ``os._exit`` would."""
    import os

    os._exit(int(os.environ["QUIT_CODE"]))


def impostor(ctx) -> None:
    """Write "0" to every pipe this worker may write to, then linger: code that claims
    the task succeeded while it still runs (a library writing to descriptors it does not
    own)."""
    import fcntl
    import os
    import stat
    import time

    for name in os.listdir("/proc/self/fd"):
        try:
            fd = int(name)
            writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
            if writable and stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, b"0")
        except OSError:
            continue
    time.sleep(120)


def sys_exiting(ctx) -> None:
    """Call ``sys.exit(0)`` from the transform, as a script pasted into one might."""
    import sys

    sys.exit(0)


def memory_hog(ctx) -> None:
    """Blow up memory (capped to 1 GiB of address space, so only this process suffers)."""
    import resource

    limit = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    hoard = [bytearray(64 << 20) for _ in range(64)]  # 4 GiB
    ctx.publish(pa.table({"n": [len(hoard)]}))


def long_query(ctx) -> None:
    """A DuckDB query that runs for minutes in native code, after announcing it started."""
    from core.transforms.library._common import duckdb_connection

    _started()
    with duckdb_connection() as con:
        rows = con.sql("select count(*) from range(1000000000000) a").fetchall()
    ctx.publish(pa.table({"n": [rows[0][0]]}))


def deaf(ctx) -> None:
    """Native code that does not return when signalled (as a Delta write may not)."""
    import ctypes

    _started()
    ctypes.CDLL(None).system(b"sleep 120")
    ctx.publish(pa.table({"n": [1]}))


def lingering(ctx) -> None:
    """Announce it started, then linger (to be killed)."""
    import time

    _started()
    time.sleep(120)


def picky_numbers(ctx) -> pa.Table:
    """numbers, refusing a count under 1: a variable an operator fixes after reading the log."""
    count = ctx.variables["count"]
    print(f"asked for {count} numbers", flush=True)
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    return pa.table({"n": list(range(count))})


def leaky(ctx) -> pa.Table:
    """A careless transform: it prints a stored secret's password and URL to its log."""
    secret = ctx.secret("warehouse", "database")
    print(f"connecting as {secret.user} with {secret.password} via {secret.url}", flush=True)
    return pa.table({"n": [1]})
