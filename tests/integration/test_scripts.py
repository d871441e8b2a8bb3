"""The scripts people run, run as people run them: from the repository root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
