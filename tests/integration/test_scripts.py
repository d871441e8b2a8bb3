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


def test_demo_prepares_the_embedded_database_and_prints_the_pipelines(core_env: Path) -> None:
    result = _run(["script/demo"], core_env)
    assert result.returncode == 0, result.stderr
    assert (core_env / "configuration.db").exists()
    for name in ("acme_zentrix_patient_status", "bluepeak_orvida_hub_services"):
        assert result.stdout.count(name) >= 2  # listed, then shown
    assert "raw_extract_from_landing_1" in result.stdout
    again = _run(["script/demo"], core_env)
    assert again.returncode == 0 and "nothing to add" in again.stdout


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
