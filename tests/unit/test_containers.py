"""The containerised environment, checked without a Docker engine.

docker-compose.yml and dockerfiles/ are parsed: the seed's services, ports, health
checks, named volumes, multi-stage images run by an unprivileged user, no credential
in an image, a worker image without Airflow or the web stack, and every command a
container runs exists. script/dev_env is run against fake ``docker`` programs.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from core.cli import app

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SERVICES = {"configurationpg", "airflow_pg", "airflow", "application", "notebook"}
IMAGES = ("worker", "application", "airflow", "notebook")
EXTRAS = {"worker": [], "application": ["web"], "airflow": ["airflow"], "notebook": ["notebook"]}
# Programs of the postgres image; every other program must be in CORE's environment.
POSTGRES_PROGRAMS = {"postgres", "pg_isready"}
# What the worker image must never contain (Airflow, the web stack, JupyterLab).
NOT_IN_WORKER = {"apache-airflow", "apache-airflow-core", "fastapi", "uvicorn", "jupyterlab"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _instructions(path: Path) -> list[tuple[str, str]]:
    """A Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    lines = (line.strip() for line in joined.splitlines())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages(path: Path) -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (the global ARGs before the first FROM dropped)."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in _instructions(path):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def _dockerfile(name: str) -> Path:
    return ROOT / "dockerfiles" / f"{name}.Dockerfile"


def _final(name: str) -> list[tuple[str, str]]:
    return _stages(_dockerfile(name))[-1]


def _exec_form(name: str, keyword: str) -> list[str]:
    found = [json.loads(args) for key, args in _final(name) if key == keyword]
    return found[-1] if found else []


def _project_scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def test_the_seed_s_services_are_all_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_airflow_jupyterlab_and_the_application_are_published_on_localhost_only(
    compose: dict[str, Any],
) -> None:
    published = {name: s.get("ports", []) for name, s in compose["services"].items()}
    assert published == {
        "configurationpg": [],
        "airflow_pg": [],
        "airflow": ["127.0.0.1:8080:8080"],
        "application": ["127.0.0.1:8000:8000"],
        "notebook": ["127.0.0.1:8081:8081"],
    }


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    urls = {name: " ".join(s["healthcheck"]["test"]) for name, s in compose["services"].items()}
    assert "localhost:8080/api/v2/monitor/health" in urls["airflow"]
    assert "localhost:8000/healthz" in urls["application"]
    assert "localhost:8081/api'" in urls["notebook"]  # answers without the token


def test_data_lives_in_declared_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = {
        volume.split(":", 1)[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }
    assert (
        used == declared == {"configuration_data", "airflow_db_data", "airflow_home", "core_home"}
    )
    for database in ("configurationpg", "airflow_pg"):
        volumes = compose["services"][database]["volumes"]
        assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes)


def test_the_configuration_database_is_the_seed_s_with_credentials_from_the_environment(
    compose: dict[str, Any],
) -> None:
    env = compose["services"]["configurationpg"]["environment"]
    assert env["POSTGRES_DB"] == "configuration_application"
    assert env["POSTGRES_USER"] == "${CONFIGURATION_DB_USER:-configurator}"
    assert env["POSTGRES_PASSWORD"] == "${CONFIGURATION_DB_PASSWORD:-configurator}"
    for name in ("airflow", "application", "notebook"):
        url = compose["services"][name]["environment"]["CORE_DATABASE_URL"]
        assert url == (
            "postgresql+psycopg://${CONFIGURATION_DB_USER:-configurator}:"
            "${CONFIGURATION_DB_PASSWORD:-configurator}@configurationpg:5432/"
            "configuration_application"
        )


def test_airflow_parses_the_mounted_dag_folder_with_the_local_worker_backend(
    compose: dict[str, Any],
) -> None:
    airflow = compose["services"]["airflow"]
    env = airflow["environment"]
    assert "./core/airflow/dags:/opt/core/dags:ro" in airflow["volumes"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/core/dags"
    assert (ROOT / "core/airflow/dags/executor.py").is_file()
    assert env["CORE_WORKER_BACKEND"] == "local"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@airflow_pg:5432/airflow")
    assert {"airflow_pg", "configurationpg"} <= set(airflow["depends_on"])


def test_the_notebook_container_mounts_the_transforms_folder(compose: dict[str, Any]) -> None:
    notebook = compose["services"]["notebook"]
    assert "./transforms:/app/transforms" in notebook["volumes"]
    assert notebook["environment"]["CORE_TRANSFORMS_DIR"] == "/app/transforms"


def test_every_built_service_has_its_dockerfile(compose: dict[str, Any]) -> None:
    built = {
        name: service["build"]["dockerfile"]
        for name, service in compose["services"].items()
        if "build" in service
    }
    assert built == {name: f"dockerfiles/{name}.Dockerfile" for name in IMAGES[1:]}
    assert sorted(p.name for p in (ROOT / "dockerfiles").glob("*.Dockerfile")) == sorted(
        f"{name}.Dockerfile" for name in IMAGES
    )


@pytest.mark.parametrize("name", IMAGES)
def test_images_are_multi_stage_and_install_from_the_lock_file(name: str) -> None:
    stages = _stages(_dockerfile(name))
    assert len(stages) >= 2
    builds = [args for stage in stages for key, args in stage if key == "RUN" and "uv sync" in args]
    assert builds, f"{name}: no `uv sync` from uv.lock"
    for command in builds:
        words = shlex.split(command)
        assert "--frozen" in words and "--no-dev" in words
        extras = [words[i + 1] for i, word in enumerate(words) if word == "--extra"]
        assert extras == EXTRAS[name], f"{name} installs extras {extras}"
        assert "--all-extras" not in words
    final_from = stages[-1][0][1]
    assert "builder" not in final_from and "uv" not in final_from.lower()
    assert any(k == "COPY" and "--from=builder" in a for k, a in stages[-1])


@pytest.mark.parametrize("name", IMAGES)
def test_the_final_stage_runs_as_an_unprivileged_user(name: str) -> None:
    final = _final(name)
    defaults = dict(args.split("=", 1) for key, args in final if key == "ARG" and "=" in args)
    users = [args for key, args in final if key == "USER"]
    assert users, f"{name}: the final stage has no USER"
    user = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], users[-1]).split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)


@pytest.mark.parametrize("name", IMAGES)
def test_no_credential_is_baked_into_an_image(name: str) -> None:
    text = _dockerfile(name).read_text()
    assert "configurator" not in text and "airflow:airflow" not in text
    assignments = re.findall(r"(?im)^\s*(?:ENV|ARG)\s+(.*)$", text)
    for assignment in assignments:
        assert not re.search(r"(?i)(password|passwd|secret|token|credential|_key)", assignment)
    assert "DATABASE_URL" not in text and "AWS_" not in text


def test_the_worker_image_is_corebot_without_airflow_or_the_web_stack() -> None:
    assert _exec_form("worker", "ENTRYPOINT") == ["corebot"]
    assert "corebot" in _project_scripts()
    installed = _base_dependency_closure()
    assert "deltalake" in installed and "ipykernel" in installed
    assert not installed & NOT_IN_WORKER, installed & NOT_IN_WORKER


def _base_dependency_closure() -> set[str]:
    """Every package `uv sync --no-dev` (no extras) installs for the project, from uv.lock."""
    packages = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    wanted: list[tuple[str, tuple[str, ...]]] = [("core", ())]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        name, extras = wanted.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = packages[name]
        optional = package.get("optional-dependencies", {})
        deps = package.get("dependencies", []) + [d for e in extras for d in optional.get(e, [])]
        wanted.extend((d["name"], tuple(d.get("extra", []))) for d in deps if _applies(d))
    return {name for name, _ in seen} - {"core"}


def _applies(dependency: dict[str, Any]) -> bool:
    """Linux containers: markers for other platforms do not install."""
    marker = dependency.get("marker", "")
    return not any(other in marker for other in ("win32", "darwin", "platform_system == 'Windows'"))


def _commands(compose: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Every command a container runs: each image's ENTRYPOINT + CMD, compose's commands
    and health checks."""
    found = [
        (f"{name}.Dockerfile", _exec_form(name, "ENTRYPOINT") + _exec_form(name, "CMD"))
        for name in IMAGES
    ]
    for name, service in compose["services"].items():
        if "command" in service:
            found.append((name, service["command"]))
        test = service["healthcheck"]["test"]
        argv = test[1:] if test[0] == "CMD" else shlex.split(test[1])
        found.append((f"{name} healthcheck", argv))
    return found


def test_every_command_a_container_runs_exists(compose: dict[str, Any]) -> None:
    for where, argv in _commands(compose):
        assert argv, f"{where} runs nothing"
        program = argv[0]
        if where.split()[0] in ("configurationpg", "airflow_pg"):
            assert program in POSTGRES_PROGRAMS, f"{where}: {program}"
            continue
        assert (VENV_BIN / program).exists(), f"{where}: {program} is not installed by CORE"
        if program in ("core", "corebot"):
            assert program in _project_scripts()
        if program == "core":
            _assert_core_command(argv[1:], where)
        if program == "airflow":
            assert _airflow_has_command(argv[1]), f"{where}: airflow {argv[1]}"


def _assert_core_command(arguments: list[str], where: str) -> None:
    command = typer.main.get_command(app)
    for word in arguments:
        if word.startswith("-") or not hasattr(command, "commands"):
            break
        # get_command, not .commands: the lazy group loads the command with its options
        found = command.get_command(typer.Context(command), word)
        assert found is not None, f"{where}: `core {word}` does not exist"
        command = found
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    for word in arguments:
        if word.startswith("--"):
            assert word in options | {f"--no-{o[2:]}" for o in options} or any(
                word in getattr(p, "secondary_opts", []) for p in command.params
            ), f"{where}: {word} is not an option of {command.name}"


def _airflow_has_command(name: str) -> bool:
    files = importlib.metadata.files("apache-airflow-core") or []
    module = f"airflow/cli/commands/{name.replace('-', '_')}_command.py"
    return any(str(f) == module for f in files)


def test_the_commands_script_dev_env_runs_exist() -> None:
    _assert_core_command(["db", "upgrade"], "script/dev_env")
    _assert_core_command(["notebook", "--ip", "--port", "--no-browser"], "notebook")


def test_the_docker_build_context_leaves_local_state_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "core.toml", ".core", ".env", "tests"} <= ignored
    copied = {"pyproject.toml", "uv.lock", "README.md", "core", "corebot", "transforms"}
    assert not copied & ignored


# script/dev_env, run against fake docker programs (this machine has no Docker engine).


def _fake_docker(folder: Path, script: str) -> dict[str, str]:
    folder.mkdir(exist_ok=True)
    docker = folder / "docker"
    docker.write_text("#!/bin/sh\n" + script)
    docker.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin", "HOME": str(folder)}


def _dev_env(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["script/dev_env", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_without_a_docker_engine_it_says_so_in_one_line(tmp_path: Path) -> None:
    env = _fake_docker(tmp_path / "bin", 'echo "Cannot connect to the Docker daemon" >&2\nexit 1\n')
    for argv in ((), ("--build", "--airflow")):
        result = _dev_env(*argv, env=env)
        assert result.returncode == 1
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("FAILED: no Docker engine is running here (docker info failed)")
        assert "script/server" in lines[0] and "script/demo" in lines[0]


def test_without_docker_at_all_it_says_the_same(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _dev_env(env={"PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr.startswith("FAILED: no Docker engine is running here")


def test_an_unknown_flag_is_named_with_the_usage(tmp_path: Path) -> None:
    result = _dev_env("--react", env=_fake_docker(tmp_path / "bin", "exit 0\n"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "FAILED: script/dev_env: unknown option '--react'; expected --build, --flask, --gui, "
        "--notebook or --airflow",
        "usage: script/dev_env [--build] [--flask|--gui|--notebook|--airflow]",
    ]


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        ((), "notebook"),
        (("--notebook",), "notebook"),
        (("--flask",), "application"),
        (("--gui",), "application"),
        (("--airflow",), "airflow"),
    ],
)
def test_it_starts_waits_migrates_and_opens_the_chosen_shell(
    tmp_path: Path, argv: tuple[str, ...], service: str
) -> None:
    log = tmp_path / "docker.log"
    env = _fake_docker(tmp_path / "bin", f'echo "$*" >> "{log}"\n')
    result = _dev_env(*argv, env=env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls == [
        "info",
        "compose version",
        "compose up --detach --wait configurationpg",
        "compose run --rm --no-deps -T application core db upgrade",
        "compose up --detach --wait --wait-timeout 600",
        f"compose exec -T {service} bash",
    ]


def test_images_are_built_only_with_build(tmp_path: Path) -> None:
    log = tmp_path / "docker.log"
    env = _fake_docker(tmp_path / "bin", f'echo "$*" >> "{log}"\n')
    assert _dev_env("--build", "--gui", env=env).returncode == 0
    calls = log.read_text().splitlines()
    assert calls[2] == "compose build"
    assert calls[-1] == "compose exec -T application bash"
    assert sum("build" in call for call in calls) == 1


def test_dev_env_passes_shellcheck() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "shellcheck"), "-x", "script/dev_env"], cwd=ROOT, capture_output=True
    )
    assert result.returncode == 0, result.stdout
