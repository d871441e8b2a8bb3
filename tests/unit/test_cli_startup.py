"""Start-up: ``core --version``, ``core --help`` and ``corebot --help`` import no heavy library.

Each case runs in a fresh interpreter and reads ``sys.modules`` after the command: what a
command imports is what its start-up costs (no timings here; bench/startup.py has them).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from core.cli import COMMANDS, app
from tests.support.cli import core

HEAVY = ("sqlalchemy", "alembic", "pyarrow", "deltalake", "duckdb", "airflow", "pydantic", "rich")

PROBE = """
import json, sys
from {module} import main
try:
    main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted({{m.split('.')[0] for m in sys.modules}})}}))
"""


def _imported(module: str, argv: list[str]) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, argv=argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    *printed, last = done.stdout.strip().splitlines()
    result = json.loads(last)
    return result["code"], set(result["modules"]), "\n".join(printed)


@pytest.mark.parametrize(
    ("module", "argv", "expected"),
    [
        ("core.cli", ["--version"], "core 0.1.0"),
        ("core.cli", ["--help"], "Commands:"),
        ("corebot.cli", ["--help"], "Commands:"),
    ],
)
def test_start_up_imports_no_heavy_library(module: str, argv: list[str], expected: str) -> None:
    code, modules, out = _imported(module, argv)
    assert code == 0
    assert expected in out
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_core_help_lists_every_command_without_importing_it() -> None:
    code, modules, out = _imported("core.cli", ["--help"])
    assert code == 0
    for name in COMMANDS:
        assert f"  {name} " in out
    assert not any(m.startswith("core.cli.") for m in modules - {"core.cli.common"})


def test_a_command_imports_what_it_uses_only() -> None:
    """`core runs list` reads the database: no lake (pyarrow), no Airflow."""
    code, modules, _ = _imported("core.cli", ["runs", "--help"])
    assert code == 0
    assert "sqlalchemy" in modules
    assert modules.isdisjoint({"pyarrow", "deltalake", "duckdb", "airflow"})


def _python(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (stripped)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def test_the_worker_servers_preload_starts_no_process() -> None:
    # croniter's import runs `file` on the interpreter: a subprocess that every process
    # loading the models (each command, the worker server) waited for; schedules only.
    code = "import sys, core.preload; print(sorted(m for m in sys.modules if 'croniter' in m))"
    assert _python(code) == "[]"


def test_the_worker_servers_preload_leaves_its_objects_frozen_and_the_collector_on() -> None:
    # The preload pauses the collector while it imports and freezes what it built, so no
    # forked task scans (and copies) the server's objects; the collector must be back
    # on for the tasks, whose own cycles it still has to collect.
    code = (
        "import gc, json, core.preload, core.transforms.library.mapping; "
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count(), gc.get_count()[0]]))"
    )
    enabled, frozen, young = json.loads(_python(code))
    assert enabled
    assert frozen > 100_000  # the data stack, SQLAlchemy and CORE's modules
    assert young < 1_000  # nothing built by the imports is left for a first collection


def test_loading_the_settings_imports_no_settings_framework() -> None:
    # Every command, worker and server loads the settings before anything else: they
    # are a plain pydantic model, read by load_settings (pydantic-settings and the
    # asyncio it imports cost each process 0.025 s for sources CORE does not use).
    code = (
        "import sys; from core.settings import load_settings; load_settings({}); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic_settings', 'asyncio'}))"
    )
    assert _python(code) == "[]"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_lazy_command_loads_with_the_help_core_help_shows(name: str) -> None:
    group = typer.main.get_command(app)
    command = group.get_command(typer.Context(group), name)  # type: ignore[attr-defined]
    assert command is not None and command.name == name
    first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
    assert first_paragraph == COMMANDS[name].help
    assert not any(p.name == "install_completion" for p in command.params)


def test_sub_command_help_and_unknown_commands(capsys) -> None:
    assert core("db", "--help") == 0
    out = capsys.readouterr().out
    assert "upgrade" in out and "completion" not in out
    assert core("pipelinez") == 2
    assert "Did you mean 'pipelines'?" in capsys.readouterr().err


ENDING = """
import atexit, sys, threading, time
from pathlib import Path
from core.command_line import exit_script

folder = Path(sys.argv[1])
atexit.register(lambda: (folder / "atexit").write_text("ran"))
late = threading.Thread(target=lambda: (time.sleep(0.3), (folder / "thread").write_text("ran")))
late.start()
sys.stdout.write("buffered, no newline")
exit_script(int(sys.argv[2]))
print("never")
"""


@pytest.mark.parametrize("code", [0, 3])
def test_a_console_script_ends_as_python_does_without_the_teardown(tmp_path, code: int) -> None:
    # exit_script skips freeing the modules, not what an exit owes: its threads, its
    # atexit handlers, its buffered output and its code.
    done = subprocess.run(
        [sys.executable, "-c", ENDING, str(tmp_path), str(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (code, "buffered, no newline", "")
    assert (tmp_path / "thread").read_text() == "ran"
    assert (tmp_path / "atexit").read_text() == "ran"


@pytest.mark.parametrize(
    ("script", "argv", "code", "stream", "expected"),
    [
        ("core", ["--version"], 0, "stdout", "core 0.1.0"),
        ("core", ["runs", "show", "999"], 2, "stderr", "FAILED: no run with id 999"),
        ("corebot", ["run", "x", "1"], 2, "stderr", "Invalid value for 'transform_id'"),
    ],
)
def test_the_console_scripts_keep_their_exit_codes_and_output(
    tmp_path, script: str, argv: list[str], code: int, stream: str, expected: str
) -> None:
    environment = {**os.environ, "CORE_HOME": str(tmp_path), "CORE_CONFIG": str(tmp_path / "no")}
    executable = Path(sys.executable).with_name(script)
    done = subprocess.run(
        [str(executable), *argv], capture_output=True, text=True, timeout=120, env=environment
    )
    assert done.returncode == code
    assert expected in getattr(done, stream)
