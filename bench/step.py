"""Benchmark: where one step's time goes — read input, compute, publish, bookkeeping.

    .venv/bin/python bench/step.py                 # 1,000,000 rows
    .venv/bin/python bench/step.py --rows 100000

The demo pipeline (acme_zentrix_patient_status) runs once with `core demo`'s code in a
temporary CORE_HOME; then each of its steps runs again, in this process, with
``run_transformation`` (what ``corebot run`` does after start-up), under the same run
id, so every step replaces its own rows. The time of each is split by timers put around
the lake calls:

- read: ``DatasetContract.fetch_arrow`` and the raw folder reads (``RawContract.get_file``);
  a ``sql`` step on a local lake has none: its DuckDB reads the inputs' files as part of
  the query, counted in compute (core.transforms.library.duckdb_inputs),
- publish: ``DatasetContract.publish`` (and ``RawContract.put_file``),
- compute: the transformation's own code, i.e. the kind's run minus read and publish,
- bookkeeping: ``run_transformation`` minus the kind's run: loading the transformation
  and its contracts, and the task_runs rows (begin and end, each a commit).

Start-up (the interpreter and imports of a worker process) is not in these figures:
bench/startup.py and bench/transform_overhead.py measure it. The last row is the
publish of the largest step against a bare ``write_deltalake`` of the same rows
(no metadata columns, no partitioning), best of 3, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHASES = ("read", "compute", "publish", "bookkeeping")


class Timers:
    """Seconds spent inside wrapped callables, by phase (nested calls counted once)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._depth = 0

    def wrap(self, phase: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return function(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start
                self._depth -= 1

        return timed


@contextmanager
def instrumented(timers: Timers) -> Iterator[None]:
    """Put the timers around the lake calls and the kind's run for the duration."""
    from core.lake.dataset_contract import DatasetContract
    from core.lake.raw_contract import RawContract
    from core.transforms import runtime

    patched = [
        (DatasetContract, "fetch_arrow", "read"),
        (RawContract, "get_file", "read"),
        (DatasetContract, "publish", "publish"),
        (RawContract, "put_file", "publish"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    original_kind_runner = runtime.kind_runner

    def kind_runner(kind: str) -> Callable[..., Any]:
        run = original_kind_runner(kind)

        def measured(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return run(*args)
            finally:
                timers.seconds["kind"] += time.perf_counter() - start

        return measured

    try:
        for owner, name, phase in patched:
            setattr(owner, name, timers.wrap(phase, getattr(owner, name)))
        runtime.kind_runner = kind_runner
        yield
    finally:
        for owner, name, function in saved:
            setattr(owner, name, function)
        runtime.kind_runner = original_kind_runner


def bare_write_seconds(table: Any, folder: str) -> float:
    """Best of 3 of a plain write_deltalake of ``table`` (overwrite), after one warm-up."""
    from deltalake import write_deltalake

    write_deltalake(folder, table, mode="overwrite")
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        write_deltalake(folder, table, mode="overwrite")
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="core-bench-step-")
    os.environ.update({"CORE_HOME": home, "CORE_LAKE_ROOT": f"{home}/lake"})

    from core.demo.run import PIPELINE, run_demo
    from core.helpers.session_helper import SessionHelper
    from core.lake.dataset_contract import METADATA_COLUMNS, DatasetContract
    from core.plan import PipelinePlan
    from core.runs import get_run
    from core.settings import load_settings
    from core.transforms.runtime import run_transformation

    settings = load_settings()
    print(f"generating {args.rows:,} rows and running {PIPELINE} once (CORE_HOME={home}) ...")
    report = run_demo(settings, args.rows, workers=2).report
    assert report.state == "success", [(t.task_id, t.error) for t in report.tasks]
    with SessionHelper(settings) as session:
        plan = PipelinePlan.from_dict(get_run(session, report.run_id).configuration_snapshot or {})

    for exported in Path(home, "outbox").rglob("*.*"):  # exports never overwrite a file
        exported.unlink()
    rows = []
    largest: tuple[int, str, float] = (0, "", 0.0)
    for task in plan.tasks:
        timers = Timers()
        with instrumented(timers), SessionHelper(settings, actor="bench") as session:
            start = time.perf_counter()
            outcome = run_transformation(settings, session, task.transformation_id, report.run_id)
            total = time.perf_counter() - start
        assert outcome.succeeded, outcome.message
        s = timers.seconds
        split = {
            "read": s["read"],
            "publish": s["publish"],
            "compute": s["kind"] - s["read"] - s["publish"],
            "bookkeeping": total - s["kind"],
        }
        out_rows = next(t.rows_out for t in report.tasks if t.task_id == task.task_id) or 0
        rows.append((task.task_id, out_rows, total, split))
        if out_rows > largest[0] and s["publish"]:
            largest = (out_rows, task.task_id, s["publish"])

    print()
    print("| step | rows out | total s | " + " | ".join(f"{p} s" for p in PHASES) + " |")
    print("|---|---|---|" + "---|" * len(PHASES))
    sums: dict[str, float] = defaultdict(float)
    for task_id, out_rows, total, split in rows:
        cells = " | ".join(f"{split[p]:.3f}" for p in PHASES)
        print(f"| {task_id} | {out_rows:,} | {total:.3f} | {cells} |")
        for phase in PHASES:
            sums[phase] += split[phase]
        sums["total"] += total
    shares = " | ".join(f"{sums[p]:.2f} ({sums[p] / sums['total']:.0%})" for p in PHASES)
    print(f"| all steps | | {sums['total']:.2f} | {shares} |")

    if largest[1]:
        out_rows, task_id, _ = largest
        task = next(t for t in plan.tasks if t.task_id == task_id)
        contract = _output_contract(settings, task, DatasetContract)
        table = contract.fetch_arrow(run_id=report.run_id)
        # Without the columns publish stamps; others (the source file's name) are data.
        data = table.drop_columns(list(METADATA_COLUMNS))
        bare = bare_write_seconds(data, tempfile.mkdtemp(prefix="core-bench-bare-"))
        core_best = _publish_seconds(contract, data, report.run_id)
        print()
        print("| publish of the largest step | core s | bare write_deltalake s | ratio |")
        print("|---|---|---|---|")
        print(
            f"| {task_id} ({out_rows:,} rows) | {core_best:.3f} | {bare:.3f} | "
            f"{core_best / bare:.2f}x |"
        )


def _output_contract(settings: Any, task: Any, contract_class: Any) -> Any:
    from core.helpers.session_helper import SessionHelper
    from core.lake.contracts import contract_from_transformation_id

    with SessionHelper(settings) as session:
        contract = contract_from_transformation_id(task.transformation_id, session, settings)
    assert isinstance(contract, contract_class)
    return contract


def _publish_seconds(contract: Any, data: Any, run_id: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        contract.publish(data, run_id)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
