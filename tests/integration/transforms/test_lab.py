"""``core notebook`` for real: JupyterLab answers on a loopback port with the project's kernel."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[3]
TOKEN = "core-test-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            return _get(url)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"JupyterLab did not answer {url} within {seconds} s")


def test_core_notebook_serves_the_transforms_folder_with_the_core_kernel(
    core_env: Path, tmp_path: Path
) -> None:
    transforms = tmp_path / "transforms"
    transforms.mkdir()
    shutil.copy(REPOSITORY / "transforms" / "Template.ipynb", transforms)
    jupyter = tmp_path / "jupyter"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CORE_", "JUPYTER"))},
        "CORE_HOME": str(core_env),
        "CORE_TRANSFORMS_DIR": str(transforms),
        "JUPYTER_TOKEN": TOKEN,
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
    }
    port = _free_port()
    argv = [str(Path(sys.executable).parent / "core"), "notebook", "--ip", "127.0.0.1"]
    process = subprocess.Popen(
        [*argv, "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        status = _wait_for(f"{base}/api/status?token={TOKEN}", process)
        assert status["kernels"] == 0
        with pytest.raises(urllib.error.HTTPError):  # the token is required
            _get(f"{base}/api/contents")
        contents = _get(f"{base}/api/contents?token={TOKEN}")
        assert [item["name"] for item in contents["content"]] == ["Template.ipynb"]
        specs = _get(f"{base}/api/kernelspecs?token={TOKEN}")
        assert specs["default"] == "python3"
        assert specs["kernelspecs"]["python3"]["spec"]["argv"][0] == sys.executable
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert output.startswith(f"starting JupyterLab in {transforms} on {base}/lab")
