"""The scripts people run, run as people run them: from the repository root."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _run(argv: list[str], home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    env["CORE_HOME"] = str(home)
    return subprocess.run(
        argv, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def test_demo_runs_the_sample_pipeline_and_a_second_run_duplicates_nothing(
    core_env: Path,
) -> None:
    result = _run(["script/demo", "--rows", "2000"], core_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run 1 of acme_zentrix_patient_status: success" in result.stdout
    assert "dimensional_publish_to_s3_12" in result.stdout
    for checked in ("master_value_mapping_9: 3 pass", "enrich_sql_10: 2 pass", "metrics_sql_11: 2"):
        assert f"checks:  {checked}" in result.stdout
    assert "web UI:  script/server, then http://127.0.0.1:8000/ as admin@core.local / " in (
        result.stdout
    )
    outbox = core_env / "outbox" / "acme_pharma" / "zentrix"
    assert len(list(outbox.glob("fill_metrics_*_run1.csv"))) == 1
    again = _run(["script/demo", "--rows", "2000"], core_env)
    assert again.returncode == 0 and "run 2 of acme_zentrix_patient_status: success" in again.stdout
    assert len(list(outbox.glob("fill_metrics_*.csv"))) == 2


def test_console_opens_a_prompt_with_a_session(core_env: Path) -> None:
    result = _run(
        ["script/console"], core_env, stdin="print('PLANS', sorted(p.name for p in plans))\n"
    )
    assert result.returncode == 0, result.stderr
    assert "PLANS ['acme_zentrix_patient_status', 'bluepeak_orvida_hub_services']" in result.stdout


def test_setup_migrates_and_seeds(core_env: Path) -> None:
    result = _run(["script/setup"], core_env)
    assert result.returncode == 0, result.stderr
    assert "added 3 pipelines" in result.stdout


def test_server_serves_the_api_until_stopped(core_env: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    env["CORE_HOME"] = str(core_env)
    server = subprocess.Popen(
        ["script/server", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = _wait_for(f"http://127.0.0.1:{port}/healthz", server)
        assert body["status"] == "ok"
        docs = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
        assert "/api/pipelines" in docs["paths"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"CORE at http://127.0.0.1:{port}/" in output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {server.communicate()[0]}")
        try:
            return httpx.get(url, timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")
