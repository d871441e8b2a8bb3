"""Benchmark: a dataset's reads as its history grows, by checkpoint interval.

    .venv/bin/python bench/history.py [--runs 99] [--rows 10000]

A pipeline publishes one run a day into each of its datasets, so a table's log grows by
a commit a run; opening the table replays the log from its last checkpoint, a file per
commit. The same runs are published into two tables: one as CORE creates it now
(``delta.checkpointInterval`` 10, core.lake.partition_writer.CHECKPOINT_INTERVAL) and one
with Delta's default interval of 100 (the baseline, as CORE created tables before).
At runs 9, 19, … (just before a checkpoint, the worst point for the interval of 10), one
task's worth of lake calls is timed on both: opening the table
(``delta_table``) and fetching the newest run (``fetch_arrow(run_id=…)``), best of five.
Publishing's own cost is timed over all runs (the checkpoints included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPEATS = 5


def best(call: object) -> float:
    """The best of REPEATS timings of ``call()``, in ms."""
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        timings.append((time.perf_counter() - start) * 1000)
    return min(timings)


def main() -> None:
    """Publish the runs into both tables, timing the reads every ten runs; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=99)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="core-bench-history-")
    os.environ.update({"CORE_HOME": home, "CORE_LAKE_ROOT": f"{home}/lake"})

    from core.lake import DatasetContract, partition_writer
    from core.settings import load_settings

    settings = load_settings()
    rows = pa.table({"id": pa.array(range(args.rows)), "name": [f"n{i}" for i in range(args.rows)]})
    now = DatasetContract("bench", "brand", "ingest", "interval10", settings=settings)
    before = DatasetContract("bench", "brand", "ingest", "interval100", settings=settings)
    publish = {"interval10": [], "interval100": []}
    lines = []
    for run_id in range(1, args.runs + 1):
        for contract, name in ((now, "interval10"), (before, "interval100")):
            default = partition_writer.TABLE_PROPERTIES
            if name == "interval100":  # the tables CORE created before, Delta's default
                partition_writer.TABLE_PROPERTIES = {"delta.checkpointInterval": "100"}
            try:
                start = time.perf_counter()
                contract.publish(rows, run_id=run_id)
                publish[name].append((time.perf_counter() - start) * 1000)
            finally:
                partition_writer.TABLE_PROPERTIES = default
        if run_id % 10 == 9 or run_id == args.runs:  # just before a checkpoint
            timed = [best(lambda c=c: c.delta_table()) for c in (now, before)] + [
                best(lambda c=c, r=run_id: c.fetch_arrow(run_id=r)) for c in (now, before)
            ]
            lines.append((run_id, *timed))
    print(f"\n{args.rows:,} rows a run, best of {REPEATS} (ms)\n")
    print("| runs published | open, interval 10 | open, 100 | fetch a run, 10 | fetch, 100 |")
    print("|---|---|---|---|---|")
    for run_id, open10, open100, fetch10, fetch100 in lines:
        print(f"| {run_id} | {open10:.1f} | {open100:.1f} | {fetch10:.1f} | {fetch100:.1f} |")
    for name, timings in publish.items():
        print(
            f"\npublish, {name}: median {statistics.median(timings):.1f} ms, "
            f"mean {statistics.mean(timings):.1f} ms (checkpoints included)"
        )
    mean10 = statistics.mean(line[1] for line in lines)
    mean100 = statistics.mean(line[2] for line in lines)
    print(
        f"\nopen, mean over the table: interval 10 {mean10:.1f} ms, interval 100 {mean100:.1f} ms"
    )


if __name__ == "__main__":
    main()
