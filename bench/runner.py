"""Benchmark: the local runner's parallelism (one group of 8 CPU-bound transformations).

    .venv/bin/python bench/runner.py [--seconds 2] [--tasks 8]

Runs the same pipeline with ``--workers 1`` and ``--workers 2`` in one go and prints
the wall times and the speed-up. Target on a 2-core machine: at least 1.8x.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def world(tasks: int, seconds: float) -> str:
    """A world with one pipeline: one group of ``tasks`` spin transformations."""
    items = "\n".join(
        f"          - {{template: spin, variables: {{seconds: {seconds}}}}}" for _ in range(tasks)
    )
    return f"""
segments: [{{name: Bench, pipeline_types: [bench]}}]
companies: [{{name: bench, brands: [{{name: brand}}]}}]
templates:
  - name: spin
    entrypoint: bench.transforms:spin
    variables: {{seconds: {{type: float}}}}
pipelines:
  - name: parallel
    company: bench
    brand: brand
    type: bench
    states:
      - state: enrich
        transformations:
{items}
"""


def main() -> None:
    """Measure workers 1 and 2 on the same pipeline and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--tasks", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(CORE_HOME=home, CORE_CONFIG=f"{home}/absent.toml")
        os.chdir(ROOT)  # workers import bench.transforms from here
        from core.database import migrate
        from core.database.seed import load_world, read_world
        from core.helpers.session_helper import SessionHelper
        from core.runner.local import LocalRunner
        from core.settings import load_settings

        settings = load_settings()
        migrate.upgrade(settings.embedded_database_url)
        path = Path(home) / "world.yaml"
        path.write_text(world(args.tasks, args.seconds))
        with SessionHelper(settings) as session:
            load_world(session, read_world(path))
            session.commit()
        times = {}
        for workers in (1, 2):
            start = time.perf_counter()
            report = LocalRunner(settings, workers=workers).run("parallel")
            times[workers] = time.perf_counter() - start
            assert report.state == "success", report
    print(
        f"\n{args.tasks} transformations of {args.seconds:.1f} s CPU each, one group, "
        f"{os.cpu_count()} cores\n"
    )
    print("| workers | wall s | speed-up |\n|---|---|---|")
    for workers, seconds in times.items():
        print(f"| {workers} | {seconds:.2f} | {times[1] / seconds:.2f}x |")


if __name__ == "__main__":
    main()
