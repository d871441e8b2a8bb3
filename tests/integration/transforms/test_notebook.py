"""Notebook transforms in a real kernel: publish, fail, time out, always stored in the lake."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import nbformat
import pytest
from sqlalchemy import select

import core.models.configuration as config
from core.helpers.session_helper import SessionHelper
from core.lake import DatasetContract
from core.plan import load_plan
from core.runs import start_run
from core.settings import Settings, load_settings
from core.transforms.notebook import ERROR_CELL_TAG
from core.transforms.runtime import run_transformation

pytestmark = pytest.mark.integration


def _ids(session) -> dict[str, int]:
    return {t.template: t.transformation_id for t in load_plan(session, "notebooks").tasks}


def _started(settings: Settings, *names: str) -> tuple[dict[str, int], int]:
    """The ids by template and a new run in which ``names`` already succeeded."""
    with SessionHelper(settings) as session:
        ids = _ids(session)
        run_id = start_run(session, load_plan(session, "notebooks"), "test").id
        for name in names:
            assert run_transformation(settings, session, ids[name], run_id).succeeded
    return ids, run_id


def _task_run(settings: Settings, transform_id: int) -> config.TaskRun:
    with SessionHelper(settings) as session:
        query = select(config.TaskRun).where(config.TaskRun.transformation_id == transform_id)
        row = session.scalars(query).one()
        session.expunge(row)
    return row


def _stored(settings: Settings, location: str) -> nbformat.NotebookNode:
    contract = DatasetContract("acme", "zentrix", "master", "scaled", settings=settings)
    with contract.filesystem.open_input_stream(contract.backend.fs_path(location)) as reader:
        return nbformat.reads(reader.read().decode("utf-8"), as_version=4)


def _corebot(settings: Settings, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "corebot", *argv],
        capture_output=True,
        text=True,
        env={**settings.to_environment(), "PATH": "/usr/bin:/bin"},
    )


def test_the_template_notebook_reads_upstream_and_publishes_through_corebot(
    kernel, notebook_world
) -> None:
    ids, run_id = _started(notebook_world, "numbers")
    done = _corebot(notebook_world, "run", str(ids["scaled"]), str(run_id))
    assert done.returncode == 0, done.stderr
    row = _task_run(notebook_world, ids["scaled"])
    location = row.notebook_location
    assert location.endswith(
        f"/notebooks/dev/acme/zentrix/master/scaled/run_id={run_id}/"
        f"scaled_{ids['scaled']}_attempt1.ipynb"
    )
    assert done.stdout.strip() == (
        f"master/scaled ({ids['scaled']}) wrote 4 rows to "
        f"{notebook_world.lake_root}/dev/acme/zentrix/master/scaled; notebook: {location}"
    )
    assert (row.state, row.rows_in, row.rows_out) == ("success", 4, 4)
    assert row.output_references["version"] == 0 and row.output_references["files"] == 1
    assert row.output_references["factor"] == 3  # ctx.metadata, set in the notebook
    output = DatasetContract("acme", "zentrix", "master", "scaled", settings=notebook_world)
    assert sorted(output.fetch(run_id=run_id)["n"]) == [0, 3, 6, 9]
    notebook = _stored(notebook_world, location)
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    for line in ('as_of = "2024-05-31"', "factor = 3", 'source = "numbers"'):
        assert line in injected[0].source
    assert f"transform_id = {ids['scaled']}" in injected[0].source
    assert f"run_id = {run_id}" in injected[0].source
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]


def test_a_failing_notebook_is_recorded_and_stored_with_its_error(kernel, notebook_world) -> None:
    ids, run_id = _started(notebook_world)
    with SessionHelper(notebook_world) as session:
        outcome = run_transformation(notebook_world, session, ids["failing"], run_id)
    row = _task_run(notebook_world, ids["failing"])
    assert outcome.exit_code == 1
    assert outcome.message == row.error_summary
    assert outcome.message == (
        "notebook failing.ipynb failed: cell In [4] raised ValueError: the source had no header "
        f"row; executed notebook: {row.notebook_location}"
    )
    assert row.state == "failed" and row.rows_out is None
    notebook = _stored(notebook_world, row.notebook_location)
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "the source had no header row")]
    assert not notebook.cells[-1].outputs  # the cell after the error never ran
    assert notebook.metadata.papermill.exception is True


def test_a_cell_longer_than_the_execution_timeout_fails_clearly(
    kernel, notebook_world, monkeypatch
) -> None:
    monkeypatch.setenv("CORE_NOTEBOOK_EXECUTION_TIMEOUT", "1")
    settings = load_settings()
    ids, run_id = _started(settings)
    started = time.monotonic()
    with SessionHelper(settings) as session:
        outcome = run_transformation(settings, session, ids["sleepy"], run_id)
    assert time.monotonic() - started < 240  # the cell sleeps 600 s: the timeout ended it
    row = _task_run(settings, ids["sleepy"])
    assert outcome.exit_code == 1
    assert outcome.message.startswith(
        "notebook sleepy.ipynb timed out: a cell ran longer than 1 s "
        "(CORE_NOTEBOOK_EXECUTION_TIMEOUT); executed notebook: "
    )
    notebook = _stored(settings, row.notebook_location)
    assert ERROR_CELL_TAG in notebook.cells[0].metadata.tags
    assert "ran longer than 1 s" in notebook.cells[0].source
    assert notebook.cells[-3].outputs[0].text.strip() == "about to sleep"


def test_a_missing_notebook_is_a_configuration_error(notebook_world) -> None:
    ids, run_id = _started(notebook_world)
    with SessionHelper(notebook_world) as session:
        outcome = run_transformation(notebook_world, session, ids["ghost"], run_id)
    assert outcome.exit_code == 2
    assert outcome.message.startswith("template 'ghost' is a notebook template, but ")
    assert "ghost.ipynb does not exist" in outcome.message
    row = _task_run(notebook_world, ids["ghost"])
    assert row.state == "failed" and row.notebook_location is None


def test_on_an_s3_lake_the_notebook_is_stored_in_the_bucket(
    kernel, notebook_world, aws_env, monkeypatch
) -> None:
    import boto3

    bucket = f"notebooks-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=bucket)
    monkeypatch.setenv("CORE_LAKE_ROOT", f"s3://{bucket}/root")
    settings = load_settings()
    ids, run_id = _started(settings, "numbers")
    with SessionHelper(settings) as session:
        outcome = run_transformation(settings, session, ids["scaled"], run_id)
    assert outcome.succeeded, outcome.message
    row = _task_run(settings, ids["scaled"])
    assert row.notebook_location == (
        f"s3://{bucket}/root/notebooks/dev/acme/zentrix/master/scaled/run_id={run_id}/"
        f"scaled_{ids['scaled']}_attempt1.ipynb"
    )
    assert (row.rows_in, row.rows_out) == (4, 4)
    assert _stored(settings, row.notebook_location).metadata.papermill.exception is None


def test_sigterm_while_a_cell_runs_ends_the_worker_and_its_kernel(kernel, notebook_world) -> None:
    import psutil

    settings = load_settings()
    ids, run_id = _started(settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "corebot", "run", str(ids["sleepy"]), str(run_id)],
        env={**os.environ, **settings.to_environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker, deadline = psutil.Process(process.pid), time.monotonic() + 120
    while not (kernels := worker.children(recursive=True)):
        assert process.poll() is None and time.monotonic() < deadline, "no kernel started"
        time.sleep(0.1)
    time.sleep(2)  # into the sleeping cell (a stop during the kernel's start must hold too)
    process.terminate()
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    row = _task_run(settings, ids["sleepy"])
    assert row.state == "failed" and row.ended_at is not None
    assert "SIGTERM" in row.error_summary
    _, alive = psutil.wait_procs(kernels, timeout=30)
    assert not alive, "the kernel outlived its worker"
