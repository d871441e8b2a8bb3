"""A small world for the transfer transforms, and a way to run its tasks through the runtime.

Each test describes the states of one pipeline ``p`` (company acme, brand zentrix);
the world holds the transfer templates (from their modules' TEMPLATES) and
``patients``, an ingest template publishing a small typed table.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract, RawContract
from core.models import configuration as cfg
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings
from core.transforms.library import landing, publish, sftp
from core.transforms.runtime import Outcome, run_transformation
from tests.support.worlds import load_test_world

PATIENTS = {
    "name": "patients",
    "state": "ingest",
    "entrypoint": "tests.unit.transforms.library.transfer_world:patients",
    "variables": {"rows": {"type": "int", "required": False, "default": 4}},
}


def patients(ctx: Any) -> pa.Table:
    """A table of ints, floats, strings (with commas, quotes, nulls) and dates."""
    rows = ctx.variables["rows"]
    names = ["Ann", 'Bo "B", Jr', None, "Zoë"]
    return pa.table(
        {
            "patient_id": pa.array(range(rows), pa.int64()),
            "name": pa.array([names[i % 4] for i in range(rows)], pa.string()),
            "score": pa.array([None if i % 3 == 2 else i / 4 for i in range(rows)], pa.float64()),
            "seen_on": pa.array(
                [dt.date(2024, 1, 1) + dt.timedelta(days=i % 365) for i in range(rows)],
                pa.date32(),
            ),
        }
    )


def transfer_templates() -> list[dict[str, Any]]:
    """The transfer transforms' templates as world entries."""
    return [
        {
            "name": t.name,
            "state": t.state,
            "entrypoint": t.entrypoint,
            "description": t.description,
            "tags": list(t.tags),
            "variables": t.variables,
        }
        for module in (landing, sftp, publish)
        for t in module.TEMPLATES
    ]


def make_world(states: list[dict[str, Any]], templates: Sequence[dict[str, Any]] = ()) -> Settings:
    """Migrate this test's database and load a world whose pipeline ``p`` has ``states``.

    Args:
        states: the states of ``p``, as in a world file (``{state, transformations}``).
        templates: templates besides the transfer ones and ``patients``.

    Returns:
        The settings of that database.
    """
    return load_test_world(
        {
            "segments": [{"name": "S", "pipeline_types": ["t"]}],
            "companies": [{"name": "acme", "brands": [{"name": "zentrix"}]}],
            "templates": [*transfer_templates(), PATIENTS, *templates],
            "pipelines": [
                {"name": "p", "company": "acme", "brand": "zentrix", "type": "t", "states": states}
            ],
        }
    )


@dataclass(frozen=True)
class TaskResult:
    """What one task run recorded."""

    outcome: Outcome
    state: str
    rows_in: int | None
    rows_out: int | None
    references: dict[str, Any]
    error: str | None


def run_tasks(settings: Settings, run_id: int | None = None) -> tuple[int, list[TaskResult]]:
    """Run every task of pipeline ``p`` in plan order in one run (a new one by default).

    Returns:
        The run id, and each task's outcome and task_runs record.
    """
    with SessionHelper(settings) as session:
        plan = load_plan(session, "p")
        run_id = run_id or start_run(session, plan, "test").id
        outcomes = [
            (
                task.transformation_id,
                run_transformation(settings, session, task.transformation_id, run_id),
            )
            for task in plan.tasks
        ]
        rows = {
            r.transformation_id: r
            for r in session.scalars(select(cfg.TaskRun).where(cfg.TaskRun.run_event_id == run_id))
        }
        results = [
            TaskResult(
                outcome,
                rows[tid].state,
                rows[tid].rows_in,
                rows[tid].rows_out,
                rows[tid].output_references or {},
                rows[tid].error_summary,
            )
            for tid, outcome in outcomes
        ]
    return run_id, results


def raw(settings: Settings, template: str = "extract_from_landing") -> RawContract:
    """The raw folder a raw template of pipeline ``p`` writes to (named after the template)."""
    return RawContract("acme", "zentrix", "raw", template, settings=settings)


def expected_csv(settings: Settings, run_id: int) -> bytes:
    """The CSV a publish template should send: run ``run_id`` of ``patients``, data columns."""
    table = DatasetContract("acme", "zentrix", "ingest", "patients", settings=settings)
    data = table.fetch_arrow(run_id=run_id).select(["patient_id", "name", "score", "seen_on"])
    sink = io.BytesIO()
    pacsv.write_csv(data, sink)
    return sink.getvalue()
