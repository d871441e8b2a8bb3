"""Load: nothing leaks across many local runs, and the API loses no write under concurrency.

- The local runner runs ``LOAD_PIPELINES`` pipelines of 10 transformations each back to
  back, every fifth one failing (default 5, about a minute: each task is a worker process
  of 1 to 2 s on a busy 2-core machine; ``LOAD_PIPELINES=50`` is the issue's full 50 x 10,
  9 to 17 minutes there). This process's children (and any process carrying the test's
  ``CORE_HOME``, orphans included), threads, file descriptors, handles on the database
  file and pooled database connections are measured before the first run and after each
  one: after the last they must be where they were (processes, checked-out connections)
  or within a small constant (file descriptors), and no higher than after the first run.
- The API (uvicorn in a subprocess, ``bench.api.server``) takes 20 clients for 10 s
  mixing reads, edits of a few contended transformations with their versions, and
  creations (``bench.load.mixed_load``): no 5xx, no transport error, no lost write.

Run with ``-s`` to see the figures (docs/reliability.md, "Load", records them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import psutil
import pytest

from bench.api import prepare, server
from bench.load import (
    PATCH,
    give_templates_a_variable,
    hot_transformations,
    lost_writes,
    mixed_load,
    print_table,
)
from core.database import engine as engines
from core.database.seed import World
from core.runner.local import LocalRunner
from core.settings import load_settings
from tests.support.worlds import load_test_world

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = int(os.environ.get("LOAD_PIPELINES", "5"))
TASKS = 10  # per pipeline
FD_SLACK = 3  # descriptors that caches may keep open (none was needed when measured)


def failing(number: int) -> bool:
    """Every fifth pipeline fails (after a retry), so failed runs are measured too."""
    return number % 5 == 4


def load_world_spec(pipelines: int) -> World:
    """``pipelines`` pipelines of 10 cheap python transformations each, in three groups.

    numbers -> doubled -> 8 noops, or 7 noops and ``broken`` (one retry) in a failing one.
    """

    def states(number: int) -> list[dict]:
        last = [{"template": "noop"}] * (TASKS - 3)
        if failing(number):
            last.append({"template": "broken", "retries": 1, "retry_delay_seconds": 0})
        else:
            last.append({"template": "noop"})
        return [
            {
                "state": "ingest",
                "transformations": [{"template": "numbers", "variables": {"count": 3}}],
            },
            {"state": "master", "transformations": [{"template": "doubled"}]},
            {"state": "metrics", "transformations": last},
        ]

    sample = "tests.unit.transforms.sample_transforms"
    return World.model_validate(
        {
            "segments": [{"name": "S", "pipeline_types": ["t"]}],
            "companies": [{"name": "acme", "brands": [{"name": "zentrix"}]}],
            "templates": [
                {
                    "name": "numbers",
                    "state": "ingest",
                    "entrypoint": f"{sample}:numbers",
                    "variables": {"count": {"type": "int"}},
                },
                {"name": "doubled", "entrypoint": f"{sample}:doubled"},
                {"name": "broken", "entrypoint": f"{sample}:broken"},
                {"name": "noop"},
            ],
            "pipelines": [
                {
                    "name": f"load_{number:03d}",
                    "company": "acme",
                    "brand": "zentrix",
                    "type": "t",
                    "states": states(number),
                }
                for number in range(pipelines)
            ],
        }
    )


@dataclass(frozen=True)
class Resources:
    """What this process holds at one moment."""

    processes: int  # live descendants, plus any process carrying this test's CORE_HOME
    threads: int
    fds: int  # open file descriptors
    db_handles: int  # descriptors open on the database file (or its journal)
    connections_out: int  # connections checked out of the engines' pools
    connections_open: int  # connections the pools hold (idle ones included)


def measure(home: Path) -> Resources:
    """This process's resources now (Linux: /proc)."""
    me = psutil.Process()
    marker = f"CORE_HOME={home}".encode()
    ours = {child.pid for child in me.children(recursive=True)}
    for pid in psutil.pids():  # orphaned workers are no longer our children
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                ours.add(pid)
        except OSError:  # gone, or another user's
            continue
    ours.discard(me.pid)
    ours -= warm_server(me)  # kept on purpose between runs (core.worker); workers are not
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the descriptor listdir itself used
            continue
    database = str(home / "configuration.db")
    pools = [engine.pool for engine in engines._ENGINES.values()]
    checked_out = sum(pool.checkedout() for pool in pools)
    return Resources(
        processes=len(ours),
        threads=me.num_threads(),
        fds=len(targets),
        db_handles=sum(target.startswith(database) for target in targets),
        connections_out=checked_out,
        connections_open=checked_out + sum(pool.checkedin() for pool in pools),
    )


def warm_server(me: psutil.Process) -> set[int]:
    """The warm worker server's processes (the forkserver and its resource tracker)."""
    kept = set()
    for child in me.children():
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:  # gone meanwhile
            continue
        if "multiprocessing.forkserver" in command or "multiprocessing.resource_tracker" in command:
            kept.add(child.pid)
    return kept


def report(rows: list[tuple[str, Resources]]) -> None:
    """The measurements as a Markdown table."""
    names = [f.name for f in fields(Resources)]
    print(f"\n| when | {' | '.join(names)} |\n|---|{'---|' * len(names)}")
    for when, resources in rows:
        print(f"| {when} | {' | '.join(str(v) for v in astuple(resources))} |")


@pytest.mark.integration
@pytest.mark.timeout(120 + 30 * PIPELINES)
def test_local_runner_leaks_nothing_over_many_runs(
    core_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N pipelines x 10 transformations back to back: every resource ends where it started."""
    monkeypatch.chdir(ROOT)  # the workers import tests.unit.transforms.sample_transforms
    settings = load_test_world(load_world_spec(PIPELINES))
    runner = LocalRunner(settings, workers=2)
    rows = [("before", measure(core_env))]
    for number in range(PIPELINES):
        result = runner.run(f"load_{number:03d}")
        # Each task's state, attempt and error: a failure names which task and why.
        tasks = [(t.task_id, t.state, t.attempt, t.error) for t in result.tasks]
        assert result.state == ("failed" if failing(number) else "success"), tasks
        rows.append((f"after run {number + 1}", measure(core_env)))
    report([rows[0], rows[1], rows[-1]] if PIPELINES > 1 else rows)
    before, first, last = rows[0][1], rows[1][1], rows[-1][1]
    assert last.processes == before.processes == 0
    # Under pytest-xdist the process also holds threads of earlier tests, which may end
    # during this one: what must not happen is growth.
    assert last.threads <= before.threads and last.threads <= first.threads
    assert last.connections_out == before.connections_out == 0
    # Each worker's end is read by its pool thread: the pool may keep one connection (one
    # handle on the database file) per worker running at once, and no more however many
    # runs go by.
    bound = max(before.connections_open, first.connections_open, runner.workers)
    assert last.connections_open <= bound
    assert last.db_handles <= max(before.db_handles, first.db_handles, runner.workers)
    assert last.fds <= before.fds + FD_SLACK
    # Steady after the first run, no growth per run (the pool's handles counted above).
    assert last.fds - last.db_handles <= first.fds - first.db_handles


@pytest.mark.integration
def test_api_loses_no_write_under_concurrent_clients(tmp_path: Path) -> None:
    """20 clients for 10 s, reads and contended writes mixed: no 5xx, no lost write."""
    pipelines, clients, seconds = 20, 20, 10.0
    env, token = prepare(tmp_path / "home", argparse.Namespace(pipelines=pipelines, runs=1), None)
    url = load_settings(env).embedded_database_url
    give_templates_a_variable(url)
    hot = hot_transformations(url, 5)  # 5 rows for 20 clients: stale edits are certain
    with server(env, workers=1) as (base, _pid):
        run = asyncio.run(mixed_load(base, token, pipelines, hot, clients, seconds))
    problems = lost_writes(url, run.ledger)
    print_table(run, problems, f"{clients} clients for {seconds:g} s, {pipelines} pipelines")
    assert run.errors == 0, run.first_errors()
    assert problems == []
    assert run.ledger.created, "no segment was created: the load did not write"
    assert any(run.ledger.patched.values()), "no edit was saved: the load did not write"
    assert run.conflicts[PATCH] > 0, "no edit was stale: the versions were never contended"
