"""Faults: what happens, what the user sees, and what is lost (nothing) when a part fails.

One section per fault of issue 8; docs/reliability.md ("Faults") is their table.

- a worker killed in the middle of a publish (SIGKILL, while the Delta writer streams);
- the configuration database (a real PostgreSQL) stopped during a run;
- S3 answering 500/503 or stalling (a faulty proxy in front of moto's server);
- the SFTP server dropping the connection mid-transfer;
- the lake's disk full (a 1 MB tmpfs, or RLIMIT_FSIZE where mounting is not allowed);
- two runs of one pipeline at the same time;
- two editors saving one transformation (optimistic concurrency, through the API and
  in a true race of two sessions on PostgreSQL).

Pipelines run through the real ``core run`` command and ``corebot`` workers, so a
kill or an outage meets the processes a user would have.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sqlalchemy import func, select

from core.database.engine import dispose_engines, get_engine
from core.errors import ConflictError, LakeError
from core.helpers.session_helper import SessionHelper, make_session
from core.lake import DatasetContract, RawContract
from core.models import configuration as cfg
from core.service import resources
from core.settings import Settings, load_settings
from tests.conftest import new_cluster
from tests.integration.transforms.transfer import conftest as transfer_fixtures
from tests.reliability.fault_transforms import incompressible
from tests.support.faulty_http import Fault, Faults, faulty_endpoint
from tests.support.postgres import PostgresCluster, create_database, start_cluster, stop_cluster
from tests.support.worlds import load_test_world

FAULT_WORLD = """
segments: [{name: S, pipeline_types: [t]}]
companies: [{name: acme, brands: [{name: zentrix}, {name: orvida}]}]
templates:
  - name: numbers
    state: ingest
    entrypoint: tests.unit.transforms.sample_transforms:numbers
    variables: {count: {type: int}}
  - name: doubled
    entrypoint: tests.unit.transforms.sample_transforms:slow_doubled
  - name: bulk
    state: ingest
    entrypoint: tests.reliability.fault_transforms:bulk
    variables: {rows: {type: int}}
  - name: copied
    entrypoint: tests.reliability.fault_transforms:copied
    variables: {source: {type: string}}
  - name: rendezvous
    state: ingest
    entrypoint: tests.reliability.fault_transforms:rendezvous
    variables: {rows: {type: int}}
pipelines:
  - name: bulk
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: bulk, variables: {rows: 100000}}]
      - state: master
        transformations: [{template: copied, variables: {source: bulk}}]
  - name: slow
    company: acme
    brand: zentrix
    type: t
    states:
      - state: ingest
        transformations: [{template: numbers, variables: {count: 5}}]
      - state: master
        transformations: [{template: doubled}]
  - name: twin
    company: acme
    brand: orvida
    type: t
    states:
      - state: ingest
        transformations: [{template: rendezvous, variables: {rows: 3000}}]
      - state: master
        transformations: [{template: copied, variables: {source: rendezvous}}]
"""
# The SFTP server and its secret, from the transfer transforms' integration fixtures. (The
# API's app, client and users of each role come from this folder's conftest.)
sftp_server = transfer_fixtures.sftp_server
sftp_secret = transfer_fixtures.sftp_secret
BULK_ROWS = 100_000
TWIN_ROWS = 3000
CORE_RUN = "import sys; from core.cli import main; main(sys.argv[1:])"


# --- shared helpers ------------------------------------------------------------------------


@pytest.fixture
def fault_world(core_env: Path) -> Settings:
    """Dev settings on an embedded database holding FAULT_WORLD (a local lake)."""
    return load_test_world(FAULT_WORLD)


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``core run`` process on these settings."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    return {**inherited, **settings.to_environment(), **extra}


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    """Kill the process group of any ``core run`` a failing test left running."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


def core_run(settings: Settings, *args: str, **env: str) -> subprocess.Popen[str]:
    """Start ``core run ARGS`` in its own process group (so a kill takes its workers too)."""
    process = subprocess.Popen(
        [sys.executable, "-c", CORE_RUN, "run", *args],
        env=worker_env(settings, **env),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _STARTED.append(process)
    return process


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """Wait for a process; its exit code and its stdout and stderr together."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def run_ids(settings: Settings, pipeline: str) -> list[int]:
    """The run ids of a pipeline, oldest first."""
    query = (
        select(cfg.RunEvent.id)
        .join(cfg.RunEvent.pipeline)
        .where(cfg.Pipeline.name == pipeline)
        .order_by(cfg.RunEvent.id)
    )
    with SessionHelper(settings) as session:
        return list(session.scalars(query))


def run_state(settings: Settings, run_id: int) -> tuple[str, dict[str, str]]:
    """A run's state and its tasks' states by template name."""
    with SessionHelper(settings) as session:
        event = session.get(cfg.RunEvent, run_id)
        tasks = {
            row.transformation.transformation_template.name: row.state
            for row in session.scalars(
                select(cfg.TaskRun).where(cfg.TaskRun.run_event_id == run_id)
            )
        }
        return event.state, tasks


def run_in_this_process(settings: Settings, pipeline: str) -> int:
    """Run every task of a pipeline here, without worker processes (quicker); the run id."""
    from core.plan import load_plan
    from core.runs import finish_run, start_run
    from core.transforms.runtime import run_transformation

    with SessionHelper(settings) as session:
        plan = load_plan(session, pipeline)
        run_id = start_run(session, plan, "test").id
        for task in plan.tasks:
            outcome = run_transformation(settings, session, task.transformation_id, run_id)
            assert outcome.succeeded, outcome.message
        finish_run(session, run_id, failed=False)
    return run_id


def dataset(settings: Settings, state: str, name: str, brand: str = "zentrix") -> DatasetContract:
    """A dataset of company acme."""
    return DatasetContract("acme", brand, state, name, settings=settings)


def assert_whole_run(contract: DatasetContract, run_id: int, rows: int) -> None:
    """The run's rows are all there, each once (n is 0 .. rows-1, no duplicate)."""
    table = contract.fetch_arrow(run_id=run_id, columns=["n"])
    assert table.num_rows == rows, f"{contract!r} run {run_id}: {table.num_rows} rows"
    assert pc.count_distinct(table["n"]).as_py() == rows
    assert (pc.min(table["n"]).as_py(), pc.max(table["n"]).as_py()) == (0, rows - 1)


# --- a worker killed in the middle of a publish ----------------------------------------------
# tests/unit/runner/test_local.py kills a worker mid-transform (before it publishes); here
# the kill lands inside DatasetContract.publish, while the Delta writer streams data files.


def run_partition(contract: DatasetContract, run_id: int) -> Path:
    """The folder of a run's data files in a local Delta table."""
    return Path(contract.uri) / f"__metadata_run_id={run_id}"


@pytest.mark.integration
def test_a_worker_killed_mid_publish_leaves_no_partial_data_and_resume_completes(
    fault_world: Settings, tmp_path: Path
) -> None:
    first = run_in_this_process(fault_world, "bulk")
    ingest = dataset(fault_world, "ingest", "bulk")
    before = ingest.delta_table().version()
    marker = tmp_path / "stalled"
    process = core_run(fault_world, "bulk", FAULT_STALL_MARKER=str(marker))
    wait_for(lambda: marker.exists() or process.poll() is not None, "the publish to stall")
    assert process.poll() is None, finish(process)[1]
    [_, run_id] = run_ids(fault_world, "bulk")
    written = run_partition(ingest, run_id)
    wait_for(lambda: written.is_dir() and any(written.iterdir()), "data files of the publish")

    os.killpg(process.pid, signal.SIGKILL)  # the runner and its worker, mid-publish
    process.wait()

    # No partial data visible: the table is at the version it was, without the run's rows.
    assert any(written.iterdir()), "the kill should have left uncommitted data files"
    assert ingest.delta_table().version() == before
    assert ingest.run_ids() == [first]
    assert ingest.fetch_arrow(run_id=run_id).num_rows == 0
    assert_whole_run(ingest, first, BULK_ROWS)
    committed = {Path(uri).name for uri in ingest.delta_table().file_uris()}
    assert not committed & {path.name for path in written.iterdir()}
    state, tasks = run_state(fault_world, run_id)
    assert (state, tasks["bulk"]) == ("running", "running")  # what a killed runner leaves

    # `core run --resume` completes the run: every row once, downstream too.
    code, output = finish(core_run(fault_world, "bulk", "--resume", str(run_id)))
    assert code == 0, output
    assert f"run {run_id} of bulk: success" in output
    assert ingest.run_ids() == [first, run_id]
    assert_whole_run(ingest, run_id, BULK_ROWS)
    assert_whole_run(dataset(fault_world, "master", "copied"), run_id, BULK_ROWS)
    assert run_state(fault_world, run_id) == ("success", {"bulk": "success", "copied": "success"})


# --- the configuration database stopped during a run -----------------------------------------
# A private PostgreSQL cluster: stopping the session's shared one would break other tests.


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this module's own, which tests may stop and start."""
    with new_cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def stopped(cluster: PostgresCluster) -> Iterator[None]:
    """The database is down inside the block and up again after it, whatever happens."""
    stop_cluster(cluster)
    try:
        yield
    finally:
        start_cluster(cluster)


@pytest.fixture
def postgres_world(
    private_cluster: PostgresCluster,
    core_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Settings:
    """Settings whose configuration database is a new PostgreSQL database holding FAULT_WORLD."""
    name = f"faults_{request.node.name[5:40].lower()}_{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("CORE_DATABASE_URL", create_database(private_cluster, name))
    return load_test_world(FAULT_WORLD)


@pytest.mark.integration
def test_the_database_stopped_mid_run_is_reported_cleanly_and_the_run_resumes(
    postgres_world: Settings, private_cluster: PostgresCluster, tmp_path: Path
) -> None:
    marker = tmp_path / "doubling"
    process = core_run(postgres_world, "slow", SLOW_MARKER=str(marker), SLOW_SECONDS="1")
    wait_for(lambda: marker.exists() or process.poll() is not None, "the second task to start")
    [run_id] = run_ids(postgres_world, "slow")
    dispose_engines()  # this process's pooled connections would be cut anyway
    with stopped(private_cluster):
        code, output = finish(process)
    # The runner says what happened and how to go on, in one line: no traceback.
    assert code == 1, output
    assert "Traceback" not in output, output
    assert "FAILED: the configuration database cannot be reached" in output
    assert f"resume it with `core run slow --resume {run_id}`" in output
    [log] = (postgres_world.home / "logs" / f"run_{run_id}").glob("master_doubled_*.log")
    worker = log.read_text()  # the worker, too, says it in one line
    assert "Traceback" not in worker, worker
    assert "FAILED: the configuration database cannot be reached" in worker
    assert f"of run {run_id} is not recorded as finished" in worker
    # Nothing is lost: the run is resumable, and resuming it completes it without duplicates.
    resumed = core_run(
        postgres_world, "slow", "--resume", str(run_id), SLOW_MARKER=str(marker), SLOW_SECONDS="0"
    )
    code, output = finish(resumed)
    assert code == 0, output
    assert run_state(postgres_world, run_id) == (
        "success",
        {"numbers": "success", "doubled": "success"},
    )
    doubled = dataset(postgres_world, "master", "doubled")
    assert sorted(doubled.fetch_arrow(run_id=run_id)["n"].to_pylist()) == [0, 2, 4, 6, 8]


@pytest.mark.integration
def test_the_runner_reports_a_database_down_before_a_run_starts(
    postgres_world: Settings, private_cluster: PostgresCluster
) -> None:
    with stopped(private_cluster):
        code, output = finish(core_run(postgres_world, "slow"))
    assert code == 1, output
    assert "Traceback" not in output, output
    assert "FAILED: cannot read the revision of postgresql+psycopg://" in output
    assert "no run of 'slow' was started" in output
    assert run_ids(postgres_world, "slow") == []


@pytest.mark.integration
def test_the_airflow_dag_file_keeps_the_last_good_dags_while_the_database_is_down(
    postgres_world: Settings, private_cluster: PostgresCluster
) -> None:
    from tests.support.airflow import configure_airflow

    configure_airflow()  # before Airflow is imported
    from core.airflow.dagbuilder.dag_builder import DagBuilder

    good = DagBuilder(postgres_world).do_build_dags()
    assert sorted(good) == ["bulk", "slow", "twin"]
    dispose_engines()
    with stopped(private_cluster):
        builder = DagBuilder(postgres_world)
        kept = builder.do_build_dags()
    assert sorted(kept) == sorted(good)
    assert "configuration database unavailable" in builder.problems["*"]
    for name, dag in good.items():
        assert sorted(kept[name].task_dict) == sorted(dag.task_dict)
    # Once the database is back, the DAGs come from it again (no problem recorded).
    dispose_engines()
    again = DagBuilder(postgres_world)
    assert sorted(again.do_build_dags()) == sorted(good) and not again.problems


# --- S3 answering 500/503 or timing out -------------------------------------------------------
# A faulty proxy in front of moto's server (tests/support/faulty_http.py); CORE talks to the
# proxy. Three retries and one-second requests keep the failing cases short.

S3_RETRIES = 3


@pytest.fixture
def faulty_s3(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Faults]]:
    """Settings of an s3:// lake reached through a faulty proxy, and the proxy's Faults."""
    import boto3

    from tests.support.aws import FAKE_CREDENTIALS

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=bucket)
    with faulty_endpoint(moto_url) as (url, faults):
        monkeypatch.setenv("CORE_AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("CORE_LAKE_ROOT", f"s3://{bucket}/root")
        monkeypatch.setenv("CORE_AWS_RETRIES", str(S3_RETRIES))
        monkeypatch.setenv("CORE_AWS_TIMEOUT_SECONDS", "1")
        yield load_settings(), faults


def published(settings: Settings) -> DatasetContract:
    """A dataset on the lake, published once by run 1 (rows 0 .. 9)."""
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=settings)
    contract.publish(pa.table({"n": pa.array(range(10), pa.int64())}), 1)
    return contract


def assert_unchanged(contract: DatasetContract, version: int, faults: Faults) -> None:
    """With the faults gone, the table is at ``version`` and holds run 1's rows only."""
    faults.clear()
    assert contract.delta_table().version() == version
    assert contract.run_ids() == [1]
    assert_whole_run(contract, 1, 10)


@pytest.mark.integration
def test_s3_500_and_503_answers_are_retried_with_backoff_and_the_publish_succeeds(
    faulty_s3: tuple[Settings, Faults],
) -> None:
    settings, faults = faulty_s3
    contract = published(settings)
    faults.add(Fault(times=2, status=503))
    faults.add(Fault(times=1, status=500))
    started = time.monotonic()
    summary = contract.publish(pa.table({"n": pa.array(range(5), pa.int64())}), 2)
    assert (faults.served("503"), faults.served("500")) == (2, 1)
    assert time.monotonic() - started >= 0.3  # object_store waits at least 100 ms per retry
    assert summary.rows == 5 and contract.run_ids() == [1, 2]
    assert_whole_run(contract, 2, 5)


@pytest.mark.integration
def test_s3_failing_on_every_retry_fails_clearly_naming_the_dataset_and_changes_nothing(
    faulty_s3: tuple[Settings, Faults],
) -> None:
    settings, faults = faulty_s3
    contract = published(settings)
    version = contract.delta_table().version()
    faults.add(Fault(times=10**6, status=503))
    started = time.monotonic()
    with pytest.raises(LakeError) as failure:
        contract.publish(pa.table({"n": [99]}), 2)
    assert time.monotonic() - started < 120  # bounded: the fault would answer 503 for ever
    message = str(failure.value)
    assert message.startswith(f"DatasetContract('{contract.uri}')")
    assert f"after {S3_RETRIES} retries" in message and "503 Service Unavailable" in message
    assert "\x1b" not in message and "\n" not in message  # one plain line
    assert_unchanged(contract, version, faults)


@pytest.mark.integration
def test_s3_data_uploads_failing_mid_publish_leave_the_table_as_it_was(
    faulty_s3: tuple[Settings, Faults],
) -> None:
    settings, faults = faulty_s3
    contract = published(settings)
    version = contract.delta_table().version()

    def data_upload(method: str, path: str) -> bool:
        return method == "PUT" and ".parquet" in path

    faults.add(Fault(times=10**6, status=500, match=data_upload))
    with pytest.raises(LakeError, match="publishing run 2 failed and nothing was committed") as e:
        contract.publish(pa.table({"n": pa.array(range(50_000), pa.int64())}), 2)
    assert "__metadata_run_id%3D2/part-" in str(e.value) or "__metadata_run_id=2" in str(e.value)
    assert_unchanged(contract, version, faults)


@pytest.mark.integration
def test_s3_time_outs_are_retried_and_a_stalled_store_fails_in_bounded_time(
    faulty_s3: tuple[Settings, Faults],
) -> None:
    settings, faults = faulty_s3
    contract = published(settings)
    version = contract.delta_table().version()
    # one request held far past the 1 s timeout: the publish ends before the hold does
    # only because that request was timed out and retried (headroom for a busy machine)
    faults.add(Fault(times=1, delay=60))
    started = time.monotonic()
    contract.publish(pa.table({"n": pa.array(range(3), pa.int64())}), 2)
    assert faults.served("delayed") == 1 and time.monotonic() - started < 60
    assert_whole_run(contract, 2, 3)

    faults.add(Fault(times=10**6, delay=3, status=503))  # the store stops answering
    started = time.monotonic()
    with pytest.raises(LakeError, match="timed out") as failure:
        contract.publish(pa.table({"n": [99]}), 3)
    assert time.monotonic() - started < 120  # bounded: the fault would hold for ever
    assert str(failure.value).startswith(f"DatasetContract('{contract.uri}')")
    faults.clear()
    assert contract.delta_table().version() == version + 1 and contract.run_ids() == [1, 2]


@pytest.mark.integration
def test_s3_raw_uploads_are_retried_then_fail_naming_the_file_and_keep_the_old_copy(
    faulty_s3: tuple[Settings, Faults], tmp_path: Path
) -> None:
    settings, faults = faulty_s3
    raw = RawContract("acme", "zentrix", "raw", "drops", settings=settings)
    raw.put_file(b"id\n1\n", "sales.csv")
    faults.add(Fault(times=2, status=503))
    raw.put_file(b"id\n1\n2\n", "sales.csv")
    assert faults.served("503") == 2
    faults.add(Fault(times=10**6, status=500, match=lambda method, _path: method != "GET"))
    with pytest.raises(LakeError) as failure:
        raw.put_file(b"id\n1\n2\n3\n", "sales.csv")
    message = str(failure.value)
    assert "storing raw file 'sales.csv' failed and nothing was replaced" in message
    assert f"key '{raw.key}/sales.csv' in bucket '{raw.bucket}'" in message
    faults.clear()
    assert raw.get_file("sales.csv", tmp_path).read_bytes() == b"id\n1\n2\n"


@pytest.mark.integration
def test_s3_reads_of_an_unreachable_store_fail_naming_the_dataset(
    faulty_s3: tuple[Settings, Faults],
) -> None:
    settings, faults = faulty_s3
    contract = published(settings)
    faults.add(Fault(times=10**6, status=503))
    with pytest.raises(LakeError, match="cannot open the Delta table") as failure:
        contract.fetch_arrow()
    assert str(failure.value).startswith(f"DatasetContract('{contract.uri}')")
    faults.clear()
    table = contract.delta_table()
    faults.add(Fault(times=10**6, status=503, match=lambda _m, path: ".parquet" in path))
    with pytest.raises(LakeError, match="reading failed"):
        contract.fetch_arrow()
    faults.clear()
    assert table.version() == contract.delta_table().version()


# --- the SFTP server dropping the connection mid-transfer -------------------------------------
# tests/integration/transforms/transfer/test_sftp.py shows a drop retried for a new file and
# a drop on every attempt storing nothing; here the file is a changed one that raw already
# holds, so a truncated download would replace a good copy.


def sftp_world() -> Settings:
    """Pipeline ``p``: extract_from_sftp of /outgoing/enrollments* (fast retries)."""
    from tests.unit.transforms.library.transfer_world import make_world

    variables = {
        "secret_name": "hub",
        "remote_path": "/outgoing",
        "prefix": "enrollments",
        "retries": 2,
        "backoff_seconds": 0.01,
    }
    transformation = {"template": "extract_from_sftp", "variables": variables}
    return make_world([{"state": "raw", "transformations": [transformation]}])


def lake_files(settings: Settings) -> list[str]:
    """Every file under the local lake, relative to it (temporary files included)."""
    root = Path(settings.lake_root or "")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.integration
def test_an_sftp_drop_mid_transfer_never_replaces_a_stored_file_with_a_truncated_one(
    sftp_server: Any, sftp_secret: str, tmp_path: Path
) -> None:
    from tests.unit.transforms.library.transfer_world import raw, run_tasks

    remote = sftp_server.root / "outgoing" / "enrollments.bin"
    old, new = os.urandom(300_000), os.urandom(500_000)
    remote.write_bytes(old)
    settings = sftp_world()
    run_tasks(settings)
    stored = raw(settings, "extract_from_sftp")
    files = lake_files(settings)
    later = remote.stat().st_mtime + 60
    remote.write_bytes(new)
    os.utime(remote, (later, later))

    sftp_server.faults.reads["enrollments"] = 100  # every attempt drops after the first chunk
    _, [task] = run_tasks(settings)
    assert (task.state, sftp_server.faults.dropped) == ("failed", 3)
    assert "enrollments.bin over SFTP secret 'all/SFTP/hub/read' failed on 3 attempts" in (
        task.error or ""
    )
    assert stored.get_file("enrollments.bin", tmp_path / "kept.bin").read_bytes() == old
    assert lake_files(settings) == files  # no partial or temporary file left behind

    sftp_server.faults.reads["enrollments"] = 1  # the line holds after one more drop
    _, [task] = run_tasks(settings)
    assert task.state == "success" and task.references["files_copied"] == 1
    assert stored.get_file("enrollments.bin", tmp_path / "new.bin").read_bytes() == new
    assert lake_files(settings) == files


# --- the lake's disk full ---------------------------------------------------------------------
# A 1 MB tmpfs as the lake when mounting is allowed (root in a container); everywhere, a
# worker-like process whose RLIMIT_FSIZE stops a file growing (EFBIG) mid-publish.


@pytest.fixture
def tiny_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 1 MB tmpfs mounted on a new folder, which CORE_LAKE_ROOT points at."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(
            "cannot mount a 1 MB tmpfs (needs root or CAP_SYS_ADMIN); the RLIMIT_FSIZE test "
            "covers a write failing mid-publish"
        )
    monkeypatch.setenv("CORE_LAKE_ROOT", str(mountpoint / "lake"))
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def lake_tree(root: Path) -> dict[str, bytes]:
    """Every file under a folder and its content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_full_lake_disk_fails_clearly_and_leaves_tables_and_raw_files_as_they_were(
    tiny_disk: Path, core_env: Path
) -> None:
    core_env.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=settings)
    contract.publish(pa.table({"n": pa.array(range(10), pa.int64())}), 1)
    raw = RawContract("acme", "zentrix", "raw", "drops", settings=settings)
    raw.put_file(b"id\n1\n", "sales.csv")
    before = lake_tree(tiny_disk)

    with pytest.raises(LakeError) as failure:
        contract.publish(incompressible(10_000), 2)  # about 2 MB on a 1 MB disk
    message = str(failure.value)
    assert message.startswith(f"DatasetContract('{contract.uri}'): publishing run 2 failed")
    assert "the lake's disk is full (no space left on device)" in message
    with pytest.raises(LakeError, match="the lake's disk is full") as raw_failure:
        raw.put_file(os.urandom(2_000_000), "sales.csv")
    assert "storing raw file 'sales.csv' failed and nothing was replaced" in str(raw_failure.value)

    assert lake_tree(tiny_disk) == before  # not a byte changed, no partial file left
    assert contract.delta_table().version() == 0 and contract.run_ids() == [1]
    assert_whole_run(contract, 1, 10)
    # The disk is usable again as soon as the data fits: nothing was damaged.
    contract.publish(pa.table({"n": pa.array(range(3), pa.int64())}), 2)
    assert contract.run_ids() == [1, 2]


FILE_SIZE_LIMITED_PUBLISH = """
import resource, signal, sys
import pyarrow as pa
from core.errors import LakeError
from core.lake import DatasetContract
from core.settings import load_settings
from tests.reliability.fault_transforms import incompressible

contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=load_settings())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
try:
    contract.publish(incompressible(10_000), 2)
except LakeError as exc:
    print(exc)
    sys.exit(3)
"""


@pytest.mark.integration
def test_a_file_size_limit_mid_publish_fails_clearly_and_leaves_the_table_as_it_was(
    core_env: Path,
) -> None:
    core_env.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=settings)
    contract.publish(pa.table({"n": pa.array(range(10), pa.int64())}), 1)
    lake = Path(settings.lake_root or "")
    before = lake_tree(lake)
    result = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMITED_PUBLISH],
        env=worker_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith(f"DatasetContract('{contract.uri}'): publishing run 2 failed")
    assert "file too large" in result.stdout.lower()
    assert lake_tree(lake) == before
    assert contract.delta_table().version() == 0 and contract.run_ids() == [1]


# --- two runs of one pipeline at the same time ------------------------------------------------


@pytest.mark.integration
def test_two_runs_of_one_pipeline_at_once_get_their_own_run_ids_and_clobber_nothing(
    fault_world: Settings, tmp_path: Path
) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    # Both publish to the same (new) tables at the same moment: the ingest step waits
    # until both runs have reached it.
    runs = [core_run(fault_world, "twin", FAULT_RENDEZVOUS=str(meeting)) for _ in range(2)]
    outcomes = [finish(process) for process in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    first, second = run_ids(fault_world, "twin")
    assert first != second
    assert sorted(p.name for p in meeting.iterdir()) == [f"started-{first}", f"started-{second}"]
    for state, name in (("ingest", "rendezvous"), ("master", "copied")):
        contract = dataset(fault_world, state, name, brand="orvida")
        assert contract.run_ids() == [first, second]
        for run_id in (first, second):
            assert_whole_run(contract, run_id, TWIN_ROWS)
        assert contract.fetch_arrow(columns=["n"]).num_rows == 2 * TWIN_ROWS
    for run_id in (first, second):
        assert run_state(fault_world, run_id) == (
            "success",
            {"rendezvous": "success", "copied": "success"},
        )


# --- two editors saving one transformation ----------------------------------------------------
# tests/unit/api/test_resources.py checks a stale PATCH one after the other; here the
# second editor recovers without losing either change, and two saves truly race: through
# the API (both requests read before either writes) and as two sessions on PostgreSQL.


def first_transformation(app: Any) -> str:
    """The API path of a transformation of the sample configuration."""
    from tests.unit.api.resource_cases import load_world as load_sample_ids

    ids = load_sample_ids(app)
    return f"/api/transformations/{ids.transformations['acme_zentrix_patient_status'][0]}"


def test_the_second_of_two_editors_gets_a_409_and_loses_nothing_by_reloading(
    client: Any, app: Any, editor: dict[str, str], admin: dict[str, str]
) -> None:
    path = first_transformation(app)
    read_by_editor = client.get(path, headers=editor).json()
    read_by_admin = client.get(path, headers=admin).json()
    saved = client.patch(
        path, json={"retries": 4, "version": read_by_editor["version"]}, headers=editor
    )
    assert saved.status_code == 200, saved.text
    stale = client.patch(
        path, json={"retry_delay_seconds": 7, "version": read_by_admin["version"]}, headers=admin
    )
    assert stale.status_code == 409
    assert "changed since you read it" in stale.json()["detail"]
    assert "reload it and apply your change again" in stale.json()["detail"]
    reloaded = client.get(path, headers=admin).json()
    assert (reloaded["retries"], reloaded["retry_delay_seconds"]) == (
        4,
        read_by_admin["retry_delay_seconds"],
    )
    again = client.patch(
        path, json={"retry_delay_seconds": 7, "version": reloaded["version"]}, headers=admin
    )
    assert again.status_code == 200, again.text
    final = client.get(path, headers=editor).json()
    assert (final["retries"], final["retry_delay_seconds"]) == (4, 7)  # both changes kept
    assert final["version"] == read_by_editor["version"] + 2


def test_two_saves_racing_through_the_api_give_one_409_and_never_a_lost_update(
    client: Any, app: Any, editor: dict[str, str], admin: dict[str, str], monkeypatch: Any
) -> None:
    path = first_transformation(app)
    read = client.get(path, headers=editor).json()
    both_read = threading.Barrier(2, timeout=20)
    check_version = resources.check_version

    def check_then_wait(*args: Any) -> None:
        check_version(*args)  # both pass: each holds the version it read
        both_read.wait()  # neither writes before both have read

    monkeypatch.setattr(resources, "check_version", check_then_wait)
    bodies = {
        "editor": ({"variables": {"source": "landing/acme_pharma/zentrix/editor"}}, editor),
        "admin": ({"variables": {"source": "landing/acme_pharma/zentrix/admin"}}, admin),
    }
    answers: dict[str, Any] = {}

    def save(who: str) -> None:
        body, headers = bodies[who]
        body = {**body, "version": read["version"]}
        answers[who] = client.patch(path, json=body, headers=headers)

    threads = [threading.Thread(target=save, args=(who,)) for who in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    codes = sorted(answer.status_code for answer in answers.values())
    assert codes == [200, 409], {who: a.text for who, a in answers.items()}
    [winner] = [who for who, answer in answers.items() if answer.status_code == 200]
    loser = answers["admin" if winner == "editor" else "editor"]
    assert "was changed by someone else while you edited it" in loser.json()["detail"]
    stored = client.get(path, headers=editor).json()
    assert stored["variables"] == {"source": f"landing/acme_pharma/zentrix/{winner}"}
    assert stored["version"] == read["version"] + 1


@pytest.mark.integration
def test_two_sessions_racing_on_postgres_give_the_second_a_conflict(
    postgres_world: Settings,
) -> None:
    url = postgres_world.database_url or ""
    with SessionHelper(postgres_world) as session:
        transformation_id = session.scalar(select(func.min(cfg.Transformation.id)))
        version = session.get(cfg.Transformation, transformation_id).version
    both_loaded = threading.Barrier(2, timeout=20)
    outcomes: dict[int, str] = {}

    def save(retries: int) -> None:
        with make_session(get_engine(url), actor=f"editor-{retries}") as session:
            row = session.get(cfg.Transformation, transformation_id)
            assert row.version == version
            both_loaded.wait()  # both hold the same version before either saves
            row.retries = retries
            try:
                resources.commit(session, f"transformation {transformation_id}")
            except ConflictError as exc:
                outcomes[retries] = str(exc)
            else:
                outcomes[retries] = "saved"

    threads = [threading.Thread(target=save, args=(retries,)) for retries in (5, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert list(outcomes.values()).count("saved") == 1 and len(outcomes) == 2, outcomes
    [winner] = [retries for retries, outcome in outcomes.items() if outcome == "saved"]
    [message] = [outcome for outcome in outcomes.values() if outcome != "saved"]
    assert message == (
        f"transformation {transformation_id} was changed by someone else while you edited it; "
        "reload it and retry"
    )
    with SessionHelper(postgres_world) as session:
        row = session.get(cfg.Transformation, transformation_id)
        assert (row.retries, row.version) == (winner, version + 1)
