"""Notebook authoring in a real kernel: develop against a run's upstream data, publish to a
development branch of the lake."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings
from core.transforms.runtime import run_transformation

pytestmark = pytest.mark.integration


def _numbers_run(settings: Settings) -> tuple[dict[str, int], int]:
    with SessionHelper(settings) as session:
        plan = load_plan(session, "notebooks")
        ids = {t.template: t.transformation_id for t in plan.tasks}
        run_id = start_run(session, plan, "test").id
        assert run_transformation(settings, session, ids["numbers"], run_id).succeeded
    return ids, run_id


def test_a_notebook_session_develops_on_upstream_data_and_publishes_to_its_branch(
    kernel: str, notebook_world: Settings, tmp_path: Path
) -> None:
    ids, run_id = _numbers_run(notebook_world)
    cells = [
        "from core.transforms.authoring import development_context\n"
        f"ctx = development_context({ids['scaled']}, branch='dev-ana')",
        "frame = ctx.input('numbers').to_pandas()\n"
        "result = frame[['n']] * ctx.variables['factor']\n"
        "summary = ctx.publish(result)\n"
        "print(ctx.run_id, summary.rows, ctx.output.uri)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        notebook, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = notebook.cells[1].outputs[0].text.split()
    dev_uri = f"{notebook_world.lake_root}/dev-ana/acme/zentrix/master/scaled"
    assert printed == [str(run_id), "4", dev_uri]
    on_dev = DatasetContract(
        "acme", "zentrix", "master", "scaled", branch="dev-ana", settings=notebook_world
    )
    assert sorted(on_dev.fetch(run_id=run_id)["n"]) == [0, 3, 6, 9]
    assert not DatasetContract(
        "acme", "zentrix", "master", "scaled", settings=notebook_world
    ).exists()
