"""Benchmark: building every pipeline's Airflow DAG (``bench/dags.py [--pipelines 1000]``).

Fills a SQLite configuration database (bulk inserts) with N pipelines x S states x T
transformations, then measures, each in its own fresh interpreter (imports excluded):

- ``core``: DagBuilder().do_build_dags(): cold, then twice with the configuration
  unchanged (the first saves the built DAGs, the second reuses them), with its queries;
- ``plain Airflow (floor)``: the same DAGs from plans in memory, without and with the
  garbage collector paused as CORE pauses it;
- ``dag-factory``: the same shapes from YAML (installed with uv into a cache folder);
- ``DagBag parse``: Airflow's DagBag importing executor.py, cold and unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXECUTOR = ROOT / "core" / "airflow" / "dags" / "executor.py"
DAG_FACTORY = "dag-factory==1.1.0"
DAG_FACTORY_DIR = Path.home() / ".cache" / "core-bench" / "dag-factory"
STATES = ("raw", "ingest", "master", "enhance", "enrich", "metrics", "dimensional")


def fill(url: str, pipelines: int, states: int, tasks: int) -> None:
    """Bulk-insert the benchmark's configuration (a few executemany statements)."""
    from sqlalchemy import insert

    import core.models.configuration as cfg
    from core.database.engine import get_engine

    with get_engine(url).begin() as db:
        db.execute(insert(cfg.PharmaceuticalCompany), [{"id": 1, "name": "acme"}])
        db.execute(
            insert(cfg.Brand), [{"id": 1, "name": "zentrix", "pharmaceutical_company_id": 1}]
        )
        db.execute(insert(cfg.Segment), [{"id": 1, "name": "Bench"}])
        db.execute(insert(cfg.PipelineType), [{"id": 1, "name": "bench", "segment_id": 1}])
        names = STATES[:states]
        db.execute(
            insert(cfg.PipelineStateType),
            [{"id": i + 1, "name": n, "graph_order": i} for i, n in enumerate(names)],
        )
        db.execute(
            insert(cfg.TransformationTemplate),
            [
                {
                    "id": i + 1,
                    "name": f"t_{n}",
                    "pipeline_state_type_id": i + 1,
                    "kind": "python",
                    "variable_structures": {},
                }
                for i, n in enumerate(names)
            ],
        )
        db.execute(
            insert(cfg.Pipeline),
            [
                {
                    "id": p + 1,
                    "name": f"pipeline_{p:05d}",
                    "brand_id": 1,
                    "pipeline_type_id": 1,
                    "is_active": True,
                    "run_frequency": "daily",
                    "description": "bench",
                }
                for p in range(pipelines)
            ],
        )
        db.execute(
            insert(cfg.PipelineState),
            [
                {
                    "id": p * states + s + 1,
                    "pipeline_id": p + 1,
                    "pipeline_state_type_id": s + 1,
                    "graph_order": s,
                }
                for p in range(pipelines)
                for s in range(states)
            ],
        )
        rows = [
            {
                "id": (p * states + s) * tasks + t + 1,
                "pipeline_state_id": p * states + s + 1,
                "transformation_template_id": s + 1,
                "graph_order": t % 2,
                "retries": 1,
                "retry_delay_seconds": 60,
            }
            for p in range(pipelines)
            for s in range(states)
            for t in range(tasks)
        ]
        db.execute(insert(cfg.Transformation), rows)
        db.execute(
            insert(cfg.TransformationVariable),
            # each its own output dataset: two transformations of a state may not write one
            [
                {"transformation_id": r["id"], "name": "dataset", "value": f"d{r['id']}"}
                for r in rows
            ],
        )


def measure(kind: str, workdir: Path) -> dict[str, Any]:
    """One measurement, in this (fresh) process: seconds, queries, DAGs and tasks."""
    from sqlalchemy import event

    from core.database.engine import get_engine
    from core.settings import load_settings

    settings = load_settings()
    statements: list[str] = []
    event.listen(
        get_engine(settings.embedded_database_url),
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    build = {"core": _core, "floor": _floor, "dagfactory": _dag_factory, "dagbag": _dagbag}
    run = build[kind.removesuffix("-gc-paused")](workdir)
    if kind.endswith("-gc-paused"):
        from core.airflow.dagbuilder.dag_builder import gc_paused

        plain, run = run, lambda: _paused(plain, gc_paused)
    statements.clear()
    start = time.perf_counter()
    dags = run()
    seconds = time.perf_counter() - start
    tasks = sum(len(dag.task_dict) for dag in dags.values())
    return {"seconds": seconds, "queries": len(statements), "dags": len(dags), "tasks": tasks}


def _paused(run: Any, paused: Any) -> Any:
    with paused():
        return run()


def _core(_workdir: Path) -> Any:
    from core.airflow.dagbuilder.dag_builder import DagBuilder

    return lambda: DagBuilder().do_build_dags()


def _floor(_workdir: Path) -> Any:
    """Plain Airflow: the same DAG arguments, operators and edges, from plans in memory."""
    import datetime as dt

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG

    from core.helpers.session_helper import SessionHelper
    from core.plan import load_plans

    with SessionHelper() as session:
        plans = load_plans(session)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    def build() -> dict[str, Any]:
        dags = {}
        for plan in plans:
            dag = DAG(
                plan.name,
                schedule="@daily",
                start_date=start,
                catchup=False,
                max_active_runs=1,
                tags=[plan.company, plan.brand, plan.segment],
                doc_md=plan.description,
                default_args={"owner": plan.company},
            )
            previous = [PythonOperator(task_id="RunEvent", python_callable=print, dag=dag)]
            for group in plan.groups:
                spacer = EmptyOperator(task_id=group.spacer_id, dag=dag)
                spacer.set_upstream(previous)
                previous = [
                    EmptyOperator(
                        task_id=t.task_id,
                        retries=t.retries,
                        retry_delay=t.retry_delay_seconds,
                        dag=dag,
                    )
                    for t in group.tasks
                ]
                spacer.set_downstream(previous)
            end = PythonOperator(
                task_id="EndRun", python_callable=print, trigger_rule="all_done", dag=dag
            )
            end.set_upstream(previous)
            dags[plan.name] = dag
        return dags

    return build


def _dag_factory(workdir: Path) -> Any:
    from dagfactory import load_yaml_dags

    namespace: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        load_yaml_dags(namespace, config_filepath=str(workdir / "dags.yaml"))
        return {k: v for k, v in namespace.items() if hasattr(v, "task_dict")}

    return build


def _dagbag(_workdir: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    def build() -> dict[str, Any]:
        bag = DagBag(dag_folder=str(EXECUTOR))
        assert not bag.import_errors, bag.import_errors
        return bag.dags

    return build


def write_dag_factory_yaml(path: Path) -> None:
    """The same shapes as dag-factory YAML (EmptyOperators: cheaper than CORE's tasks)."""
    import yaml

    from core.helpers.session_helper import SessionHelper
    from core.plan import load_plans

    empty = "airflow.providers.standard.operators.empty.EmptyOperator"
    config: dict[str, Any] = {}
    with SessionHelper() as session:
        plans = load_plans(session)
    for plan in plans:
        tasks: dict[str, Any] = {"RunEvent": {"operator": empty}}
        previous = ["RunEvent"]
        for group in plan.groups:
            tasks[group.spacer_id] = {"operator": empty, "dependencies": previous}
            previous = [t.task_id for t in group.tasks]
            for task in group.tasks:
                tasks[task.task_id] = {
                    "operator": empty,
                    "dependencies": [group.spacer_id],
                    "retries": task.retries,
                }
        tasks["EndRun"] = {"operator": empty, "dependencies": previous, "trigger_rule": "all_done"}
        config[plan.name] = {
            "default_args": {"owner": plan.company, "start_date": "2024-01-01"},
            "schedule": "@daily",
            "catchup": False,
            "tags": [plan.company, plan.brand],
            "description": plan.description,
            "tasks": tasks,
        }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def dag_factory_path() -> str | None:
    """A folder to import dag-factory from (installing it there with uv), or None."""
    try:
        import dagfactory  # noqa: F401

        return ""
    except ImportError:
        pass
    if not (DAG_FACTORY_DIR / "dagfactory").is_dir() and shutil.which("uv"):
        subprocess.run(
            [
                "uv",
                "pip",
                "install",
                "--quiet",
                "--python",
                sys.executable,
                "--no-deps",
                "--target",
                str(DAG_FACTORY_DIR),
                DAG_FACTORY,
            ],
            check=False,
        )
    return str(DAG_FACTORY_DIR) if (DAG_FACTORY_DIR / "dagfactory").is_dir() else None


def run_child(kind: str, workdir: Path, env: dict[str, str]) -> dict[str, Any] | str:
    """Run one measurement in a fresh interpreter; its result, or why it failed."""
    command = [sys.executable, __file__, "--measure", kind, "--workdir", str(workdir)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:120]
    return json.loads(lines[-1])


def environment(home: Path) -> dict[str, str]:
    """The children's environment: CORE and Airflow homes under the benchmark's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORE_", "AIRFLOW"))}
    env.update(
        CORE_HOME=str(home),
        CORE_CONFIG=str(home / "absent.toml"),
        CORE_LOG_LEVEL="WARNING",
        AIRFLOW_HOME=str(home / "airflow_home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare(home: Path, args: argparse.Namespace) -> None:
    """Create, migrate and fill the configuration database; write the dag-factory YAML."""
    os.environ.update(CORE_HOME=str(home), CORE_CONFIG=str(home / "absent.toml"))
    from core.database import migrate
    from core.settings import load_settings

    url = load_settings().embedded_database_url
    migrate.upgrade(url)
    start = time.perf_counter()
    fill(url, args.pipelines, args.states, args.tasks)
    print(f"filled the configuration in {time.perf_counter() - start:.1f} s")
    write_dag_factory_yaml(home / "dags.yaml")


def main() -> None:
    """Fill the database, run every measurement in its own process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--states", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.workdir)))
        return
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        prepare(home, args)
        rows = measurements(home)
    print_table(args, rows)


def measurements(home: Path) -> list[tuple[str, dict[str, Any] | str]]:
    """Every measurement of the table, in order (the caches emptied before cold ones)."""
    env, caches = environment(home), [home / "airflow" / n for n in ("plans.json", "dags.pickle")]
    rows: list[tuple[str, dict[str, Any] | str]] = []
    for path in caches:
        path.unlink(missing_ok=True)
    rows.append(("core DagBuilder, cold", run_child("core", home, env)))
    rows.append(("core DagBuilder, unchanged once (saves the DAGs)", run_child("core", home, env)))
    rows.append(("core DagBuilder, unchanged again (saved DAGs)", run_child("core", home, env)))
    rows.append(("plain Airflow from memory (floor)", run_child("floor", home, env)))
    rows.append(("plain Airflow, GC paused like core", run_child("floor-gc-paused", home, env)))
    path = dag_factory_path()
    if path is None:
        rows.append(("dag-factory from YAML", f"not installable here ({DAG_FACTORY})"))
    else:
        extra = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), path) if p)}
        rows.append(("dag-factory 1.1.0 from YAML", run_child("dagfactory", home, extra)))
    for path in caches:
        path.unlink(missing_ok=True)
    rows.append(("Airflow DagBag parse of executor.py, cold", run_child("dagbag", home, env)))
    rows.append(("DagBag parse, unchanged once", run_child("dagbag", home, env)))
    rows.append(("DagBag parse, unchanged again", run_child("dagbag", home, env)))
    return rows


def print_table(args: argparse.Namespace, rows: list[tuple[str, Any]]) -> None:
    """Print the results as a Markdown table, with the ratios to the floor."""
    floor = dict(rows).get("plain Airflow from memory (floor)")
    base = floor["seconds"] if isinstance(floor, dict) else None
    print(
        f"\n{args.pipelines} pipelines x {args.states} states x {args.tasks} transformations"
        f" ({args.pipelines * args.states * args.tasks:,} transformations), "
        f"{os.cpu_count()} cores\n"
    )
    print("| build | seconds | vs floor | queries | DAGs | tasks |\n|---|---|---|---|---|---|")
    for name, result in rows:
        if isinstance(result, str):
            print(f"| {name} | {result} | | | | |")
            continue
        ratio = f"{result['seconds'] / base:.2f}x" if base else ""
        print(
            f"| {name} | {result['seconds']:.2f} | {ratio} | {result['queries']} "
            f"| {result['dags']} | {result['tasks']:,} |"
        )


if __name__ == "__main__":
    main()
