"""Benchmark: what a dataset's data quality checks add to the publish of a task's output.

    .venv/bin/python bench/checks.py                     # 1,000,000 rows, 7 repetitions
    .venv/bin/python bench/checks.py --rows 200000 --repeats 5

The demo pipeline (acme_zentrix_patient_status) runs once with `core demo`'s code on
N generated rows, in a temporary CORE_HOME. Then, for each task the sample world gives
checks (core/database/worlds/sample.yaml), its output of that run is published again
in this process with ``TransformContext.publish`` (what the task's own code calls):
the same rows under the same run id, once with the task's checks (evaluated, recorded,
then the Delta commit) and once without (the Delta commit alone), in turns so that
load drift hits both; the median of the repetitions of each. The overhead is
(with - without) / without. Target: at most 15% on the largest output
(master_value_mapping, patient_status: about N rows).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.15


def publish_seconds(
    settings: Any, transformation_id: int, run_id: int, table: Any, checks: list[Any]
) -> float:
    """Seconds of one ``ctx.publish(table)`` of the task, with these checks."""
    from core.helpers.session_helper import SessionHelper
    from core.transforms.runtime import build_context

    with SessionHelper(settings, actor="bench") as session:
        ctx = build_context(settings, session, transformation_id, run_id)
        ctx.checks = checks
        start = time.perf_counter()
        ctx.publish(table)
        return time.perf_counter() - start


def measure(settings: Any, task: Any, run_id: int, repeats: int) -> tuple[int, float, float]:
    """(rows, median seconds with the checks, median without) of one task's publish."""
    from core.helpers.session_helper import SessionHelper
    from core.lake.contracts import contract_from_transformation_id
    from core.lake.dataset_contract import METADATA_COLUMNS

    with SessionHelper(settings) as session:
        contract = contract_from_transformation_id(task.transformation_id, session, settings)
    table = contract.fetch_arrow(run_id=run_id)
    table = table.drop_columns([c for c in table.column_names if c in METADATA_COLUMNS])
    publish_seconds(settings, task.transformation_id, run_id, table, task.checks)  # warm-up
    with_checks, without = [], []
    for _ in range(repeats):
        with_checks.append(
            publish_seconds(settings, task.transformation_id, run_id, table, task.checks)
        )
        without.append(publish_seconds(settings, task.transformation_id, run_id, table, []))
    return table.num_rows, statistics.median(with_checks), statistics.median(without)


def main() -> None:
    """Run the demo once, then print the table of publishes with and without checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="status rows generated")
    parser.add_argument("--repeats", type=int, default=7, help="publishes of each kind")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="core-bench-checks-")
    os.environ.update(
        {"CORE_HOME": home, "CORE_LAKE_ROOT": f"{home}/lake", "CORE_LOG_LEVEL": "WARNING"}
    )

    from core.demo.run import PIPELINE, run_demo
    from core.helpers.session_helper import SessionHelper
    from core.plan import PipelinePlan
    from core.runs import get_run
    from core.settings import load_settings

    settings = load_settings()
    print(f"generating {args.rows:,} rows and running {PIPELINE} once (CORE_HOME={home}) ...")
    try:
        result = run_demo(settings, args.rows, workers=2)
        report = result.report
        assert report.state == "success", [(t.task_id, t.error) for t in report.tasks]
        assert all(not c.problems for c in result.checks), [c.problems for c in result.checks]
        with SessionHelper(settings) as session:
            snapshot = get_run(session, report.run_id).configuration_snapshot or {}
        checked = [task for task in PipelinePlan.from_dict(snapshot).tasks if task.checks]
        rows = [(task, *measure(settings, task, report.run_id, args.repeats)) for task in checked]
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print()
    print(f"median of {args.repeats} publishes each, with and without the task's checks")
    print("| task | checks | rows | with checks s | without s | overhead | target |")
    print("|---|---|---|---|---|---|---|")
    largest = max(rows, key=lambda row: row[1])[0].task_id
    for task, count, with_s, without_s in rows:
        overhead = (with_s - without_s) / without_s
        kinds = ", ".join(c["kind"] for c in task.checks)
        verdict = "-"
        if task.task_id == largest:
            verdict = f"<= {TARGET:.0%}: {'met' if overhead <= TARGET else 'missed'}"
        print(
            f"| {task.task_id} | {kinds} | {count:,} | {with_s:.3f} | {without_s:.3f} | "
            f"{overhead:+.1%} | {verdict} |"
        )


if __name__ == "__main__":
    main()
