"""Benchmark: the demo pipeline against one hand-written DuckDB script doing the same steps.

    .venv/bin/python bench/demo.py [--rows 1000000] [--workers 2] [--repeat 5]

Both start from the same generated CSV files and end with the same fill-rate metrics
CSV. CORE's side is the whole `core run` of acme_zentrix_patient_status (12 worker
processes, each reading and publishing Delta tables); the baseline is one DuckDB
process reading the CSVs and writing the metrics. Each side runs in its own process;
peak memory is the largest resident set of that process or any single process below it
(CORE's workers are sampled while they run: they are the warm worker server's children).
CORE's side is timed four ways: ``LocalRunner.run`` in a process that has imported the
runner, once while the worker server starts (the server's imports in the time) and once
more with the server running (as the script's own ``import duckdb`` is not timed), and
the ``core run`` command as a person types it (its interpreter and imports included),
once finding the shared worker server that the runs before it started, and once with no
server running (a TMPDIR of its own: it starts one). The measurements get a TMPDIR of
their own, so no shared server of an earlier run is found. With ``--repeat N`` every
measurement runs N times, interleaved (round after round, the servers of a round stopped
before the next), and the table shows medians: one run of the script moves by a quarter
from one minute to the next on a shared machine, and its ratios with it.
Targets: CORE's wall time <= 4x the script that keeps every step and <= 10x the
metrics-only one; the largest worker's peak memory <= 1.5x the script's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUS_MAP = "('ACT','active'),('SHP','shipped'),('CAN','cancelled'),('PND','pending')"
BASELINE_SQL = """
create table a as select * from read_csv('{a}', delim='|', header=true, all_varchar=true);
create table b as select * from read_csv('{b}', delim=',', header=true, all_varchar=true);
create table mapped as
  select 'pharmacy_a' as pharmacy, PatientID as patient_id, StatusCode as status_code,
         StatusDate as status_date, Qty as quantity from a
  union all
  select 'pharmacy_b', pt_id, status, status_dt, units from b;
create table clean as
  select pharmacy, patient_id, m.to_code as status_code,
         try_strptime(status_date, '%Y-%m-%d')::date as status_date,
         try_cast(quantity as bigint) as quantity
  from mapped join (values {status_map}) as m(from_code, to_code)
    on mapped.status_code = m.from_code;
create table journeys as
  select patient_id, min(status_date) as first_status_date,
         min(case when status_code = 'shipped' then status_date end) as first_fill_date
  from clean group by patient_id;
copy (
  select cast(date_trunc('month', first_status_date) as date) as month,
         avg(case when first_fill_date is not null then 1.0 else 0.0 end) as fill_rate,
         avg(date_diff('day', first_status_date, first_fill_date)) as days_to_first_fill
  from journeys group by 1 order by 1
) to '{out}' (header, delimiter ',');
"""


def peak_mib() -> float:
    """The largest RSS of this process or any finished child, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def measure_core(home: str, workers: int) -> dict[str, float]:
    """Run the demo pipeline on the already generated source (child process).

    The workers are children of the warm worker server, not of this process, so
    RUSAGE_CHILDREN misses them: every process below this one is sampled while it runs.
    """
    from core.demo.run import PIPELINE
    from core.runner.local import LocalRunner
    from core.settings import load_settings

    settings = load_settings()
    result: dict[str, float] = {}
    # The first run starts the warm worker server (its imports are in its time); the
    # next one finds it running, as the script finds DuckDB imported (not timed there).
    for key in ("seconds", "warm_seconds"):
        with largest_process(os.environ["TMPDIR"]) as largest:
            start = time.perf_counter()
            report = LocalRunner(settings, workers=workers).run(PIPELINE)
            result[key] = time.perf_counter() - start
        assert report.state == "success", [(t.task_id, t.error) for t in report.tasks]
        result["peak_mib"] = max(result.get("peak_mib", 0.0), peak_mib(), largest[0])
    return result


def _core() -> str:
    """The ``core`` console script of the venv this bench runs in."""
    return str(Path(sys.executable).with_name("core"))


def measure_command(env: dict[str, str], workers: int) -> dict[str, float]:
    """``core run`` of the demo pipeline as a person types it: its imports included.

    The command looks for the shared worker server first (starting one when none runs),
    so a new server's imports overlap the command's own.
    """
    from core.demo.run import PIPELINE

    command = [_core(), "run", PIPELINE, "--workers", str(workers)]
    with largest_process(env["TMPDIR"]) as largest:
        start = time.perf_counter()
        ran = subprocess.run(
            command, env=env, capture_output=True, text=True, check=False, cwd=ROOT
        )
        seconds = time.perf_counter() - start
    if ran.returncode != 0:
        raise SystemExit(f"core run failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    return {"seconds": seconds, "peak_mib": largest[0]}


@contextmanager
def largest_process(temporary: str) -> Iterator[list[float]]:
    """Sample the workers while the block runs; yields [largest MiB].

    Args:
        temporary: the TMPDIR of the run, whose shared worker server's workers count too.
    """
    import threading

    done, largest = threading.Event(), [0.0]
    sampler = threading.Thread(target=_sample_largest, args=(done, largest, temporary), daemon=True)
    sampler.start()
    try:
        yield largest
    finally:
        done.set()
        sampler.join()


def _sample_largest(done: Any, largest: list[float], temporary: str) -> None:
    """The largest resident set of any single worker, every 20 ms.

    The workers are children of the warm worker server: this process's own, or the
    shared one of the measurement's TMPDIR (not below this process).
    """
    import psutil

    me = psutil.Process()
    while not done.wait(0.02):
        for process in [*me.children(recursive=True), *_shared_server_workers(temporary)]:
            try:
                largest[0] = max(largest[0], process.memory_info().rss / 2**20)
            except psutil.Error:  # it ended meanwhile
                continue


def _shared_server_workers(temporary: str) -> list[Any]:
    """The processes below the shared worker servers whose records are in this TMPDIR."""
    import psutil

    found = []
    for record in (Path(temporary) / f"core-{os.getuid()}").glob("worker-server-*.json"):
        try:
            server = psutil.Process(int(json.loads(record.read_text())["server"]))
            found += server.children(recursive=True)
        except (OSError, ValueError, KeyError, psutil.Error):  # gone meanwhile
            continue
    return found


def measure_baseline(home: str, keep_steps: bool) -> dict[str, float]:
    """The same steps as one DuckDB script (child process).

    With ``keep_steps`` the script also writes every intermediate table as Parquet, as
    the pipeline keeps every step's dataset in the lake.
    """
    import duckdb

    landing = Path(home) / "landing" / "acme_pharma" / "zentrix"
    a, b = sorted(landing.glob("pharmacy_a_*.csv"))[0], sorted(landing.glob("pharmacy_b_*.csv"))[0]
    out = Path(home) / "baseline_metrics.csv"
    script = BASELINE_SQL.format(a=a, b=b, out=out, status_map=STATUS_MAP)
    if keep_steps:
        steps = ("a", "b", "mapped", "clean", "journeys")
        script += "".join(f"copy {t} to '{home}/step_{t}.parquet' (format parquet);" for t in steps)
    start = time.perf_counter()
    duckdb.connect().execute(script)
    return {"seconds": time.perf_counter() - start, "peak_mib": peak_mib()}


def child(kind: str, env: dict[str, str], workers: int) -> dict[str, float]:
    """One measurement in a fresh interpreter."""
    argv = [sys.executable, __file__, "--measure", kind, "--workers", str(workers)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(home: str, rows: int) -> dict[str, str]:
    """The sample configuration and a generated source in a fresh CORE_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    env.update(CORE_HOME=home, CORE_CONFIG=f"{home}/absent.toml", TMPDIR=home)
    os.environ.update(CORE_HOME=home, CORE_CONFIG=f"{home}/absent.toml")
    from core.database.seed import load_world, sample_world
    from core.demo.run import LANDING
    from core.demo.source import generate
    from core.helpers.session_helper import SessionHelper
    from core.settings import load_settings

    settings = load_settings()
    with SessionHelper(settings) as session:
        load_world(session, sample_world())
        session.commit()
    generate(settings.home / LANDING, rows)
    return env


ROWS = (
    ("runner", "LocalRunner.run (12 tasks, Delta tables), the worker server starting"),
    ("warm", "LocalRunner.run again, the worker server running"),
    ("command", "`core run` command, the shared worker server running (imports included)"),
    ("first command", "`core run` command, no worker server running: it starts one"),
)
BASELINES = (
    ("metrics only", "one DuckDB script, metrics only"),
    ("steps kept", "one DuckDB script, every step kept as Parquet"),
)


def measure_round(env: dict[str, str], workers: int, folder: Path) -> dict[str, dict[str, float]]:
    """Every measurement once, each cold one in a TMPDIR of this round's own."""
    folder.mkdir()
    alone = folder / "alone"
    alone.mkdir()
    here = {**env, "TMPDIR": str(folder)}
    core = child("core", here, workers)
    results = {
        "runner": core,
        "warm": {"seconds": core["warm_seconds"], "peak_mib": core["peak_mib"]},
        "command": measure_command(here, workers),
        "first command": measure_command({**env, "TMPDIR": str(alone)}, workers),
        "metrics only": child("baseline", here, workers),
        "steps kept": child("baseline_steps", here, workers),
    }
    for temporary in (folder, alone):  # the next round starts its servers anew
        stop = [_core(), "workers", "stop", "--all"]
        subprocess.run(stop, env={**env, "TMPDIR": str(temporary)}, capture_output=True, check=True)
    return results


def report(rounds: list[dict[str, dict[str, float]]], rows: int, workers: int) -> None:
    """The table: medians over the rounds, and each ratio's range over them."""
    seconds = {k: statistics.median(r[k]["seconds"] for r in rounds) for k in rounds[0]}
    peak = {k: max(r[k]["peak_mib"] for r in rounds) for k in rounds[0]}
    print(f"\nthe demo at {rows:,} rows, --workers {workers}, {os.cpu_count()} cores;")
    print(f"{len(rounds)} round(s) (medians; ratios: of the medians [range over the rounds])")
    print(f"Python {sys.version.split()[0]} at {sys.base_prefix}\n")
    print("| run | wall s | peak MiB | ratio |\n|---|---|---|---|")
    for key, name in ROWS:
        print(f"| {name} | {seconds[key]:.2f} | {peak[key]:.0f} | |")
    for base, name in BASELINES:
        ratios = []
        for key, _ in ROWS:
            each = [r[key]["seconds"] / r[base]["seconds"] for r in rounds]
            spread = f" [{min(each):.1f}-{max(each):.1f}]" if len(rounds) > 1 else ""
            ratios.append(f"{key}: {seconds[key] / seconds[base]:.1f}x{spread}")
        print(f"| {name} | {seconds[base]:.2f} | {peak[base]:.0f} | {', '.join(ratios)} |")
    print(
        "\ntargets (issue 13): <= 4x the script keeping every step, <= 10x the metrics-only "
        "script; the largest worker's peak memory <= 1.5x the script's"
    )


def main() -> None:
    """Prepare once, measure both sides (``--repeat`` rounds, interleaved), print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        home = os.environ["CORE_HOME"]
        if args.measure == "core":
            result = measure_core(home, args.workers)
        else:
            result = measure_baseline(home, keep_steps=args.measure == "baseline_steps")
        print(json.dumps(result), flush=True)
        return
    with tempfile.TemporaryDirectory() as home:
        env = prepare(home, args.rows)
        rounds = [
            measure_round(env, args.workers, Path(home) / f"round{i}")
            for i in range(max(1, args.repeat))
        ]
    report(rounds, args.rows, args.workers)


if __name__ == "__main__":
    main()
