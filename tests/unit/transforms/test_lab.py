"""``core notebook``: the JupyterLab command, its environment and the project's kernel."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import typer

from core.cli import app, run
from core.errors import ConfigurationError, MissingExtraError
from core.settings import load_settings
from core.transforms import lab
from core.transforms.lab import LabOptions, install_kernel, lab_command, lab_environment


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    transforms = tmp_path / "transforms"
    transforms.mkdir()
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(transforms))
    return load_settings()


def test_the_command_serves_the_transforms_folder_with_the_options(settings) -> None:
    command = lab_command(settings, LabOptions(ip="0.0.0.0", port=8081, open_browser=False))
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={settings.transforms_dir}" in command
    for option in (
        "--ServerApp.ip=0.0.0.0",
        "--ServerApp.port=8081",
        "--ServerApp.port_retries=0",  # a taken port fails instead of moving elsewhere
        "--ServerApp.open_browser=False",
        "--MappingKernelManager.default_kernel_name=python3",
    ):
        assert option in command
    assert ("--ServerApp.allow_root=True" in command) == (os.geteuid() == 0)
    assert "--ServerApp.open_browser=True" in lab_command(settings, LabOptions())


def test_the_kernel_is_this_interpreter_and_comes_first(settings, tmp_path: Path) -> None:
    data = install_kernel(settings)
    spec = json.loads((data / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert install_kernel(settings) == data == settings.home / "jupyter"  # idempotent
    environ = {"JUPYTER_PATH": "/elsewhere", "PATH": "/usr/bin", "CORE_HOME": "stale"}
    env = lab_environment(settings, data, environ)
    assert env["JUPYTER_PATH"] == os.pathsep.join([str(data), "/elsewhere"])
    assert env["PATH"] == "/usr/bin"
    assert env["CORE_HOME"] == str(settings.home)  # the kernel loads these settings
    assert env["CORE_TRANSFORMS_DIR"] == str(settings.transforms_dir)
    assert lab_environment(settings, data, {})["JUPYTER_PATH"] == str(data)


def test_without_jupyterlab_the_error_says_script_bootstrap_installs_it(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match="'notebook' extra: run script/bootstrap"):
        lab.start_lab(settings, LabOptions())


def test_a_missing_transforms_folder_says_how_to_name_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORE_TRANSFORMS_DIR", str(tmp_path / "absent"))
    code = run(typer.main.get_command(app), ["notebook", "--no-browser"], "core")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"FAILED: the transforms folder {tmp_path / 'absent'} does not exist")
    assert "CORE_TRANSFORMS_DIR" in err
    with pytest.raises(ConfigurationError):
        lab.check_lab(load_settings())
