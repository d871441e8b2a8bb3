"""JupyterLab for notebook authors: what ``core notebook`` starts.

JupyterLab serves the transforms folder (``settings.transforms_dir``) with the
project's kernel: a kernelspec named ``python3`` — the kernel papermill runs
notebook transforms in — whose command is this interpreter (``sys.executable``,
the virtual environment CORE is installed in). It is written to
``{CORE_HOME}/jupyter/kernels/python3`` and put first on ``JUPYTER_PATH``, so a
``python3`` kernel of another Python (in ``~/.local/share/jupyter``) cannot shadow
it. The server's environment carries CORE's settings as ``CORE_*`` variables, so a
kernel loads the same settings as the command that started it (the kernel's
working directory is the transforms folder, where ``./core.toml`` is not).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from core.errors import ConfigurationError, MissingExtraError
from core.settings import Settings
from core.transforms.notebook import KERNEL_NAME

JUPYTER_FOLDER = "jupyter"


@dataclass(frozen=True)
class LabOptions:
    """How JupyterLab listens.

    Attributes:
        ip: the address to listen on (``0.0.0.0`` in a container).
        port: the port; JupyterLab fails rather than pick another when it is taken.
        open_browser: open a browser tab on start.
    """

    ip: str = "127.0.0.1"
    port: int = 8888
    open_browser: bool = True


def kernel_spec(executable: str = sys.executable) -> dict[str, object]:
    """The kernelspec of the project's kernel: ipykernel in ``executable``."""
    return {
        "argv": [executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (CORE)",
        "language": "python",
        "metadata": {"debugger": True},
    }


def install_kernel(settings: Settings) -> Path:
    """Write the project's kernelspec below ``{CORE_HOME}/jupyter`` (idempotent).

    Returns:
        The Jupyter data folder to put first on ``JUPYTER_PATH``.
    """
    data = settings.home / JUPYTER_FOLDER
    folder = data / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(kernel_spec(), indent=1) + "\n")
    return data


def lab_command(settings: Settings, options: LabOptions) -> list[str]:
    """The JupyterLab command line: this interpreter, the transforms folder, the options."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={settings.transforms_dir}",
        f"--ServerApp.ip={options.ip}",
        f"--ServerApp.port={options.port}",
        "--ServerApp.port_retries=0",
        f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
        "--ServerApp.open_browser=" + str(options.open_browser),
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")  # as root in a container or a VM
    return command


def lab_environment(
    settings: Settings, data_folder: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The server's environment: CORE's settings, and the project's kernel found first."""
    environ = dict(os.environ if environ is None else environ)
    paths = [str(data_folder), *filter(None, environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    return {**environ, **settings.to_environment(), "JUPYTER_PATH": os.pathsep.join(paths)}


def check_lab(settings: Settings) -> None:
    """Check that JupyterLab is installed and the transforms folder exists.

    Raises:
        MissingExtraError: jupyterlab is not installed.
        ConfigurationError: the transforms folder does not exist.
    """
    if importlib.util.find_spec("jupyterlab") is None:
        raise MissingExtraError(
            f"JupyterLab is not installed in {sys.prefix}; `core notebook` needs CORE's "
            "'notebook' extra: run script/bootstrap (or pip install 'core[notebook]')"
        )
    if not settings.transforms_dir or not settings.transforms_dir.is_dir():
        raise ConfigurationError(
            f"the transforms folder {settings.transforms_dir} does not exist; run `core "
            "notebook` from the repository root, or set CORE_TRANSFORMS_DIR to the folder "
            "holding the notebook transforms"
        )


def start_lab(settings: Settings, options: LabOptions) -> NoReturn:
    """Replace this process with JupyterLab in the transforms folder.

    Raises:
        MissingExtraError: jupyterlab is not installed.
        ConfigurationError: the transforms folder does not exist.
    """
    check_lab(settings)
    environment = lab_environment(settings, install_kernel(settings))
    command = lab_command(settings, options)
    sys.stdout.flush()
    sys.stderr.flush()
    # No shell, and this interpreter as the program; signals reach JupyterLab directly.
    os.execve(command[0], command, environment)  # noqa: S606
