"""Benchmark: DatasetContract.publish/fetch against bare deltalake calls.

Run from the repo root::

    .venv/bin/python bench/lake.py              # 1,000,000 rows, local disk and moto's S3
    .venv/bin/python bench/lake.py --rows 10000 --no-s3

Each measurement runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its
own: Arrow memory is invisible to tracemalloc. "peak" is the RSS growth during the
operation (peak RSS minus RSS before it), compared with the table's Arrow size.
Targets: publish <= 1.2x bare write, fetch <= 1.2x bare read, peak <= 2x Arrow size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_COLUMN = "__metadata_run_id"
REPEATS = 3


def make_table(rows: int) -> pa.Table:
    """rows x 12 columns: 4 ints, 4 floats, 2 strings, 2 dates (deterministic)."""
    rng = np.random.default_rng(42)
    columns: dict[str, Any] = {}
    for i in range(4):
        columns[f"int_{i}"] = rng.integers(0, 1_000_000, rows)
        columns[f"float_{i}"] = rng.random(rows)
    for i in range(2):
        codes = rng.integers(0, 10_000, rows)
        columns[f"str_{i}"] = pa.array(np.char.add("value_", codes.astype(str)))
        days = rng.integers(0, 3_650, rows).astype("datetime64[D]")
        columns[f"date_{i}"] = pa.array(days, pa.date32())
    return pa.table(columns)


def rss_bytes() -> int:
    """Current RSS of this process (Linux /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(kind: str, rows: int, lake_root: str) -> dict[str, float]:
    """Run one operation in this process and report seconds and memory growth."""
    from deltalake import DeltaTable, write_deltalake

    from core.lake import DatasetContract
    from core.settings import load_settings

    contract = DatasetContract("bench", "brand", "ingest", "data", settings=load_settings())
    table = make_table(rows) if kind in ("publish", "bare_write", "bare_layout", "seed") else None
    before = rss_bytes()
    start = time.perf_counter()
    if kind in ("publish", "seed"):
        # "seed" adds a second run, so that a fetch of run 1 has something to skip.
        contract.publish(table, run_id=1 if kind == "publish" else 2)
    elif kind == "bare_write":
        write_deltalake(
            f"{lake_root}/bare/data",
            table,
            mode="overwrite",
            storage_options=contract.storage_options,
        )
    elif kind == "bare_layout":
        write_deltalake(
            f"{lake_root}/layout/data",
            _same_layout(table),
            partition_by=[RUN_COLUMN],
            mode="overwrite",
            predicate=f"{RUN_COLUMN} = 1",
            storage_options=contract.storage_options,
        )
    elif kind == "fetch":
        result = contract.fetch_arrow(run_id=1)
    elif kind == "bare_fetch":
        delta = DeltaTable(contract.uri, storage_options=contract.storage_options)
        result = delta.to_pyarrow_table(filters=[(RUN_COLUMN, "=", 1)])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    size = table.nbytes if table is not None else result.nbytes
    return {"seconds": seconds, "peak_growth": max(0, peak - before), "arrow_bytes": size}


def _same_layout(table: pa.Table) -> pa.Table:
    """The table as publish lays it out: five metadata columns, partitioned by run id."""
    now = dt.datetime.now(dt.UTC)
    stamp = pa.timestamp("us", tz="UTC")
    for name, value in (
        (RUN_COLUMN, pa.scalar(1, pa.int64())),
        ("__metadata_run_timestamp", pa.scalar(now, stamp)),
        ("__metadata_app_version", pa.scalar("0.1.0")),
        ("__metadata_transform_timestamp", pa.scalar(now, stamp)),
        ("__metadata_output_contract", pa.scalar("dev/bench/brand/ingest/data")),
    ):
        table = table.append_column(name, pa.repeat(value, table.num_rows))
    return table


def in_subprocess(kind: str, rows: int, env: dict[str, str]) -> dict[str, float]:
    """One measurement in a fresh interpreter."""
    argv = [sys.executable, __file__, "--measure", kind, "--rows", str(rows)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(kind: str, rows: int, env: dict[str, str], repeats: int) -> dict[str, float]:
    """The fastest of several runs (each on a fresh lake for writes)."""
    results = [in_subprocess(kind, rows, env) for _ in range(repeats)]
    return min(results, key=lambda r: r["seconds"])


def compare(store: str, rows: int, env: dict[str, str], repeats: int) -> list[list[str]]:
    """Publish vs bare write and fetch vs bare read on one store; table rows to print."""
    out = []
    in_subprocess("seed", rows, env)
    pairs = (("publish", "bare_write"), ("publish", "bare_layout"), ("fetch", "bare_fetch"))
    for ours, bare in pairs:
        mine, theirs = best_of(ours, rows, env, repeats), best_of(bare, rows, env, repeats)
        ratio = mine["seconds"] / theirs["seconds"]
        memory = mine["peak_growth"] / mine["arrow_bytes"]
        out.append(
            [
                store,
                ours if bare != "bare_layout" else "publish vs same layout",
                f"{mine['seconds']:.3f}",
                f"{theirs['seconds']:.3f}",
                f"{ratio:.2f}x",
                f"{mine['arrow_bytes'] / 2**20:.0f}",
                f"{mine['peak_growth'] / 2**20:.0f}",
                f"{memory:.2f}x",
                f"{theirs['peak_growth'] / theirs['arrow_bytes']:.2f}x",
            ]
        )
    return out


def print_table(rows: list[list[str]], count: int) -> None:
    """A Markdown table (ready for docs/performance.md)."""
    header = [
        "store",
        "operation",
        "core s",
        "bare s",
        "ratio",
        "arrow MiB",
        "peak MiB",
        "peak/arrow",
        "bare peak/arrow",
    ]
    print(f"\n{count:,} rows x 12 columns, {dt.date.today()}, best of {REPEATS} (local)\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def run_local(rows: int) -> list[list[str]]:
    """Both comparisons on a temporary local lake."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "CORE_HOME": home, "CORE_CONFIG": f"{home}/absent.toml"}
        env = {k: v for k, v in env.items() if not k.startswith("CORE_") or k in _KEEP}
        return compare("local", rows, env, REPEATS)


def run_s3(rows: int) -> list[list[str]]:
    """Both comparisons on a bucket of moto's server (started here, on loopback)."""
    import boto3

    from tests.support.aws import FAKE_CREDENTIALS, moto_endpoint

    os.environ.update(FAKE_CREDENTIALS)  # moto's fake keys, for this script's own boto3 call
    with moto_endpoint() as url, tempfile.TemporaryDirectory() as home:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="bench")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
        env.update(FAKE_CREDENTIALS, CORE_HOME=home, CORE_CONFIG=f"{home}/absent.toml")
        env.update(CORE_LAKE_ROOT="s3://bench/lake", CORE_AWS_ENDPOINT_URL=url)
        return compare("s3 (moto)", rows, env, 1)


_KEEP = {"CORE_HOME", "CORE_CONFIG"}


def main() -> None:
    """Parse arguments; measure one operation (child) or print the comparison (parent)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-s3", action="store_true", help="Only the local lake.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        from core.settings import load_settings

        lake_root = load_settings().lake_root or ""
        print(json.dumps(measure(args.measure, args.rows, lake_root)), flush=True)
        # Skip interpreter teardown: native thread pools (Arrow, delta-rs) sometimes abort
        # during it, after the figures are out.
        os._exit(0)
    rows = run_local(args.rows) + ([] if args.no_s3 else run_s3(args.rows))
    print_table(rows, args.rows)


if __name__ == "__main__":
    main()
