"""A world for the data transforms (ingest, mapping, standardize, sql) and a way to run them.

Each test describes the states after raw of one pipeline ``p`` (company acme, brand
zentrix). The world holds the data transforms' templates as their modules declare
them (without an entrypoint, so the runtime finds them through BUILTINS), ``drop``,
a raw template whose folder the tests fill with RawContract.put_file, and ``given``,
an ingest template publishing the rows of its ``rows`` variable (all text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from core.helpers.session_helper import SessionHelper
from core.lake import METADATA_COLUMNS, DatasetContract, RawContract
from core.models import configuration as cfg
from core.plan import load_plan
from core.runs import resume_run, start_run
from core.settings import Settings
from core.transforms.library import ingest, mapping, sql, standardize
from core.transforms.runtime import Outcome, run_transformation
from tests.support.worlds import load_test_world

DROP = {"name": "drop", "state": "raw", "entrypoint": "core.transforms.library.noop:noop"}
GIVEN = {
    "name": "given",
    "entrypoint": "tests.unit.transforms.library.data_world:given",
    "variables": {"dataset": {"type": "string"}, "rows": {"type": "json"}},
}


def given(ctx: Any) -> pa.Table:
    """The rows of the ``rows`` variable (a list of objects) as a table of text."""
    rows = ctx.variables["rows"]
    names = list(dict.fromkeys(k for row in rows for k in row))
    return pa.Table.from_pylist(rows, schema=pa.schema([(n, pa.string()) for n in names]))


def data_templates() -> list[dict[str, Any]]:
    """The data transforms' templates as world entries (no entrypoint: found by name)."""
    return [
        {
            "name": t.name,
            "state": t.state,
            "description": t.description,
            "tags": list(t.tags),
            "variables": t.variables,
        }
        for module in (ingest, mapping, standardize, sql)
        for t in module.TEMPLATES
    ]


@dataclass(frozen=True)
class TaskResult:
    """What one task run recorded."""

    outcome: Outcome
    state: str
    rows_in: int | None
    rows_out: int | None
    metadata: dict[str, Any]
    error: str | None


@dataclass
class Pipeline:
    """Pipeline ``p`` of this test's world, and the run its tasks run in."""

    settings: Settings
    ids: list[int]
    run_id: int
    results: dict[int, TaskResult] = field(default_factory=dict)

    @property
    def raw(self) -> RawContract:
        """The raw folder that initial_ingest reads."""
        return RawContract("acme", "zentrix", "raw", "drop", settings=self.settings)

    def store_as_is(self, data: bytes, name: str) -> None:
        """Write a file into the raw folder byte for byte.

        RawContract.put_file re-compresses a file whose name ends in .gz, .bz2, … (pyarrow's
        output streams detect compression by the name), so compressed inputs are written here.
        """
        path = f"{self.raw.path}/{name}"
        self.raw.filesystem.create_dir(self.raw.path, recursive=True)
        with self.raw.filesystem.open_output_stream(path, compression=None) as writer:
            writer.write(data)

    def run(self, index: int) -> TaskResult:
        """Run the index-th transformation after raw (plan order) and return its record."""
        transform_id = self.ids[index]
        with SessionHelper(self.settings) as session:
            outcome = run_transformation(self.settings, session, transform_id, self.run_id)
            row = session.scalars(
                select(cfg.TaskRun).where(
                    cfg.TaskRun.run_event_id == self.run_id,
                    cfg.TaskRun.transformation_id == transform_id,
                )
            ).one()
            result = TaskResult(
                outcome,
                row.state,
                row.rows_in,
                row.rows_out,
                row.output_references or {},
                row.error_summary,
            )
        self.results[index] = result
        return result

    def run_all(self) -> list[TaskResult]:
        """Run every transformation after raw, in plan order."""
        return [self.run(i) for i in range(len(self.ids))]

    def set_variables(self, index: int, **changes: Any) -> None:
        """Change variables of the index-th transformation after raw.

        Runs read their configuration from their snapshot, so the current run is then
        re-pinned to the changed configuration (as a resume with ``current`` does).
        """
        with SessionHelper(self.settings) as session:
            transformation = session.get(cfg.Transformation, self.ids[index])
            transformation.set_variables({**transformation.stored_variables, **changes})
            session.commit()
            resume_run(session, self.run_id, "current", "test", current=load_plan(session, "p"))

    def new_run(self) -> int:
        """Start another run of the pipeline; later tasks run in it."""
        with SessionHelper(self.settings) as session:
            self.run_id = start_run(session, load_plan(session, "p"), "test").id
        return self.run_id

    def contract(self, state: str, dataset: str) -> DatasetContract:
        """A dataset of the pipeline's company and brand."""
        return DatasetContract("acme", "zentrix", state, dataset, settings=self.settings)

    def output(self, state: str, dataset: str) -> pa.Table:
        """This run's rows of a dataset, without the five standard metadata columns."""
        table = self.contract(state, dataset).fetch_arrow(run_id=self.run_id)
        return table.drop_columns([c for c in METADATA_COLUMNS if c in table.column_names])


def make_pipeline(states: list[dict[str, Any]]) -> Pipeline:
    """Migrate this test's database, load the world with pipeline ``p`` and start a run.

    Args:
        states: the states after raw, as in a world file (``{state, transformations}``).

    Returns:
        The pipeline, with the ids of its transformations after raw in plan order.
    """
    raw = {"state": "raw", "transformations": [{"template": "drop"}]}
    pipeline = {"name": "p", "company": "acme", "brand": "zentrix", "type": "t"}
    settings = load_test_world(
        {
            "segments": [{"name": "S", "pipeline_types": ["t"]}],
            "companies": [{"name": "acme", "brands": [{"name": "zentrix"}]}],
            "templates": [*data_templates(), DROP, GIVEN],
            "pipelines": [{**pipeline, "states": [raw, *states]}],
        }
    )
    with SessionHelper(settings) as session:
        plan = load_plan(session, "p")
        ids = [t.transformation_id for t in plan.tasks if t.state != "raw"]
        run_id = start_run(session, plan, "test").id
    return Pipeline(settings, ids, run_id)


def ingest_step(**variables: Any) -> dict[str, Any]:
    """An ingest state with one initial_ingest of dataset ``data`` (unless given)."""
    return {
        "state": "ingest",
        "transformations": [
            {"template": "initial_ingest", "variables": {"dataset": "data", **variables}}
        ],
    }


def given_then(
    state: str, template: str, rows: list[dict[str, Any]], **variables: Any
) -> list[dict[str, Any]]:
    """An ingest state publishing ``rows`` as dataset ``given``, then ``template`` in ``state``."""
    return [
        {
            "state": "ingest",
            "transformations": [
                {"template": "given", "variables": {"dataset": "given", "rows": rows}}
            ],
        },
        {
            "state": state,
            "transformations": [
                {
                    "template": template,
                    "variables": {"input": "given", "dataset": "out", **variables},
                }
            ],
        },
    ]
