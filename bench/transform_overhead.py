"""Benchmark: what ``corebot run`` costs on top of the work a transformation does.

Run from the repo root::

    .venv/bin/python bench/transform_overhead.py             # best of 5 and of 3
    .venv/bin/python bench/transform_overhead.py --repeats 3 --notebook-repeats 2

(a) the no-op Python transform run as the local runner runs it — a fresh child of the
warm worker server (``core.worker.start_local``) — against ``python -c 'import pyarrow'``
(target <= 1.0x: a warm child should beat a cold interpreter); (a, cold) the same through
a new ``corebot run`` process, as Batch and Kubernetes start it, for reference;
(b) ``corebot run`` of a notebook transform (transforms/Template.ipynb: read 1,000 rows
of an upstream dataset, multiply, publish) against the ``papermill``
command executing the same notebook with the same parameters (target <= 1.1x). Every
measurement is a new process, wall clock, best of N; the world lives in a temporary
CORE_HOME (embedded SQLite, local lake).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.database import migrate  # noqa: E402
from core.database.seed import World, load_world  # noqa: E402
from core.helpers.session_helper import SessionHelper  # noqa: E402
from core.lake import DatasetContract  # noqa: E402
from core.plan import load_plan  # noqa: E402
from core.runs import start_run  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402

BIN = Path(sys.executable).parent
WORLD = {
    "segments": [{"name": "S", "pipeline_types": ["t"]}],
    "companies": [{"name": "acme", "brands": [{"name": "zentrix"}]}],
    "templates": [
        {"name": "noop"},
        {
            "name": "scaled",
            "kind": "notebook",
            "variables": {
                "source": {"type": "string", "default": "noop"},
                "factor": {"type": "int", "default": 2},
            },
        },
    ],
    "pipelines": [
        {
            "name": "bench",
            "company": "acme",
            "brand": "zentrix",
            "type": "t",
            "states": [
                {"state": "ingest", "transformations": [{"template": "noop"}]},
                {"state": "master", "transformations": [{"template": "scaled"}]},
            ],
        }
    ],
}


def prepare(home: Path) -> tuple[Settings, dict[str, int], int]:
    """A world in ``home``: its settings, transformation ids by template, a run id."""
    transforms = home / "transforms"
    transforms.mkdir(parents=True)
    shutil.copy(ROOT / "transforms" / "Template.ipynb", transforms / "scaled.ipynb")
    environ = {
        "CORE_HOME": str(home / "core"),
        "CORE_CONFIG": str(home / "absent.toml"),
        "CORE_TRANSFORMS_DIR": str(transforms),
        "CORE_LOG_LEVEL": "WARNING",
    }
    settings = load_settings(environ)
    migrate.upgrade(settings.embedded_database_url)
    with SessionHelper(settings) as session:
        load_world(session, World.model_validate(WORLD))
        session.commit()
        plan = load_plan(session, "bench")
        ids = {task.template: task.transformation_id for task in plan.tasks}
        run_id = start_run(session, plan, "bench").id
    upstream = DatasetContract("acme", "zentrix", "ingest", "noop", settings=settings)
    upstream.publish(pa.table({"n": list(range(1000))}), run_id)
    return settings, ids, run_id


def _process_environment(settings: Settings) -> dict[str, str]:
    return {**settings.to_environment(), "PATH": f"{BIN}:/usr/bin:/bin"}


def timed(command: list[str], environ: dict[str, str]) -> float:
    """Wall-clock seconds of one run of a command (which must succeed)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=environ, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(command)}\n{done.stderr[-2000:]}")
    return elapsed


def best_of(
    repeats: int, core: list[str], baseline: list[str], environ: dict[str, str]
) -> tuple[float, float]:
    """The fastest of ``repeats`` runs of each command, run in turns so load drift hits both."""
    pairs = [(timed(core, environ), timed(baseline, environ)) for _ in range(repeats)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def warm_best_of(
    repeats: int, settings: Settings, tid: int, run_id: int, baseline: list[str]
) -> tuple[float, float]:
    """The fastest of ``repeats`` warm starts of the task (start to exit), in turns with
    the baseline; the first start, which starts the worker server, is not counted."""
    import os

    from core.worker import WorkerJob, start_local

    job, environ = WorkerJob(tid, run_id), _process_environment(settings)

    def once(sink: int) -> float:
        started = time.perf_counter()
        code = start_local(job, settings, sink).wait()
        if code != 0:
            raise SystemExit(f"FAILED: the warm worker of {job.name} exited with {code}")
        return time.perf_counter() - started

    with open(os.devnull, "wb") as sink:
        once(sink.fileno())
        pairs = [(once(sink.fileno()), timed(baseline, environ)) for _ in range(repeats)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def papermill_command(home: Path, ids: dict[str, int], run_id: int) -> list[str]:
    """The papermill CLI executing the notebook with what corebot injects."""
    parameters = {"source": "noop", "factor": "2", "transform_id": ids["scaled"], "run_id": run_id}
    command = [str(BIN / "papermill"), "--no-progress-bar", "-k", "python3"]
    for name, value in parameters.items():
        command += ["-p", name, str(value)]
    notebook = home / "transforms" / "scaled.ipynb"
    return [*command, str(notebook), str(home / "papermill-out.ipynb")]


def measure(home: Path, repeats: int, notebook_repeats: int) -> list[tuple[str, float, float]]:
    """(case, corebot seconds, baseline seconds) for each comparison."""
    settings, ids, run_id = prepare(home)
    environ = _process_environment(settings)
    corebot, pyarrow_import = str(BIN / "corebot"), [sys.executable, "-c", "import pyarrow"]
    rows = [
        (
            "(a) no-op python task, warm local worker, vs import pyarrow",
            *warm_best_of(repeats, settings, ids["noop"], run_id, pyarrow_import),
        )
    ]
    cases = [
        (
            "(a, cold) corebot run of the no-op, new process, vs import pyarrow",
            repeats,
            [corebot, "run", str(ids["noop"]), str(run_id)],
            pyarrow_import,
        ),
        (
            "corebot --help (start-up only) vs import pyarrow",
            repeats,
            [corebot, "--help"],
            pyarrow_import,
        ),
        (
            "(b) notebook transform vs papermill CLI",
            notebook_repeats,
            [corebot, "run", str(ids["scaled"]), str(run_id)],
            papermill_command(home, ids, run_id),
        ),
    ]
    return rows + [(case, *best_of(n, core, base, environ)) for case, n, core, base in cases]


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="best of N for (a)")
    parser.add_argument("--notebook-repeats", type=int, default=3, help="best of N for (b)")
    args = parser.parse_args()
    targets = {"(a)": 1.0, "(b)": 1.1}
    with tempfile.TemporaryDirectory(prefix="core-bench-") as home:
        rows = measure(Path(home), args.repeats, args.notebook_repeats)
    print("| case | corebot s | baseline s | ratio | target |")
    print("|---|---|---|---|---|")
    for case, core_s, base_s in rows:
        ratio, target = core_s / base_s, targets.get(case[:3])
        verdict = f"<= {target}x: {'met' if ratio <= target else 'missed'}" if target else "-"
        print(f"| {case} | {core_s:.3f} | {base_s:.3f} | {ratio:.2f}x | {verdict} |")


if __name__ == "__main__":
    main()
