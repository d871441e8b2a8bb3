"""Benchmark: the REST API under load (``bench/api.py [--duration 20] [--clients 50]``).

Fills a configuration database with N pipelines x 7 states x 5 transformations (bulk
inserts, as ``bench/dags.py``) and 3 runs per pipeline, starts the application with
uvicorn (``core.api.app:app_from_environment``) on a loopback port in a subprocess,
and drives it from this process with C concurrent clients (one ``httpx.AsyncClient``
and keep-alive connection each, authenticated with an API token) for D seconds per
endpoint, one endpoint after the other:

- ``GET /healthz``: the baseline, the cheapest route of the same server (no login, one
  ``SELECT 1``): what uvicorn, FastAPI and a database session cost by themselves;
- ``GET /api/pipelines``: the pipeline list, default page (50 rows with their last run);
- ``GET /api/pipelines/{id}``: a pipeline page (its 7 states and 35 transformations with
  their variables), a random pipeline per request;
- ``GET /pipelines``: the web UI's HTML list, when the app serves it.

An error is any status other than 200, or a failed request. Latency is measured by
the client, from sending the request to reading the whole body. "server CPU ms/req"
is the CPU time of uvicorn's processes (from /proc) over the requests served;
"clients' CPU" the share of one core the clients themselves used (they run on the
same machine).

    .venv/bin/python bench/api.py                        # 1,000 pipelines, 50 clients, 20 s
    .venv/bin/python bench/api.py --duration 3 --clients 10 --pipelines 100   # quick
    .venv/bin/python bench/api.py --workers 1 2 --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P99_MS = 100.0  # the issue's target for the pipeline list


@dataclass(frozen=True)
class Result:
    """What one endpoint did under load."""

    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    first_error: str = ""
    server_cpu: float = 0.0  # CPU seconds the server's processes used during the run
    client_cpu: float = 0.0  # CPU seconds this process (the clients) used

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU milliseconds per request."""
        return 1000 * self.server_cpu / self.requests if self.requests else float("nan")

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """A latency percentile in milliseconds (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fill(url: str, pipelines: int, runs: int) -> None:
    """Bulk-insert the pipelines (bench/dags.py's shapes) and each pipeline's runs."""
    import datetime as dt

    from sqlalchemy import insert

    import core.models.configuration as cfg
    from bench.dags import fill as fill_pipelines
    from core.database.engine import get_engine

    fill_pipelines(url, pipelines, 7, 5)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        {
            "pipeline_id": p + 1,
            "state": "failed" if (p + r) % 7 == 0 else "success",
            "triggered_by": "bench",
            "started_at": start + dt.timedelta(days=r, minutes=p),
            "ended_at": start + dt.timedelta(days=r, minutes=p + 5),
        }
        for p in range(pipelines)
        for r in range(runs)
    ]
    with get_engine(url).begin() as db:
        db.execute(insert(cfg.RunEvent), rows)


def add_admin(url: str) -> str:
    """An admin with an API token; the token."""
    from core.database.engine import get_engine
    from core.helpers.session_helper import make_session
    from core.models.administrators import Administrator
    from core.service.users import issue_token

    with make_session(get_engine(url), actor="bench") as session:
        user = Administrator(email_address="bench@example.com", role="admin")
        session.add(user)
        session.commit()
        return issue_token(session, user.id, "bench").token


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its direct children (uvicorn's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # fields[1]: the parent
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def server(env: dict[str, str], workers: int) -> Iterator[tuple[str, int]]:
    """uvicorn serving the app in a subprocess; its base URL once /healthz answers."""
    import httpx

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "core.api.app:app_from_environment",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit code {process.poll()})")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def load(
    server: tuple[str, int],
    name: str,
    paths: Any,
    headers: dict[str, str],
    clients: int,
    duration: float,
) -> Result:
    """``clients`` clients requesting ``paths()`` as fast as they can for ``duration`` s."""
    import httpx

    base, pid = server
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = 0.0

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                response = await http.get(paths(), headers=headers)
                failed = "" if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                failed = f"{type(exc).__name__}: {exc}"
            if failed:
                errors.append(failed)
            else:
                latencies.append((time.perf_counter() - started) * 1000)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [httpx.AsyncClient(base_url=base, timeout=30, limits=limits) for _ in range(clients)]
    try:
        stop_at = time.perf_counter() + min(2.0, duration / 5)  # warm up: connections, caches
        await asyncio.gather(*(client(http) for http in https))
        latencies.clear()
        errors.clear()
        server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
        started = time.perf_counter()
        stop_at = started + duration
        await asyncio.gather(*(client(http) for http in https))
        seconds = time.perf_counter() - started
        server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return Result(
        name,
        len(latencies) + len(errors),
        len(errors),
        seconds,
        latencies,
        (errors or [""])[0],
        server_cpu,
        client_cpu,
    )


def measure(
    server: tuple[str, int], token: str, pipelines: int, args: argparse.Namespace
) -> list[Result]:
    """Every endpoint of the table, one after the other, on a running server."""
    import httpx

    base = server[0]
    headers = {"Authorization": f"Bearer {token}"}
    endpoints: list[tuple[str, Any]] = [
        ("GET /healthz (baseline)", lambda: "/healthz"),
        ("GET /api/pipelines (list)", lambda: "/api/pipelines"),
        (
            "GET /api/pipelines/{id} (pipeline page)",
            lambda: f"/api/pipelines/{random.randint(1, pipelines)}",  # noqa: S311
        ),
    ]
    html = httpx.get(f"{base}/pipelines", headers=headers, timeout=30)
    if html.status_code == 200:
        endpoints.append(("GET /pipelines (HTML list)", lambda: "/pipelines"))
    else:
        print(f"GET /pipelines answered {html.status_code}: skipped")
    results = []
    for name, paths in endpoints:
        result = asyncio.run(load(server, name, paths, headers, args.clients, args.duration))
        print(
            f"  {name}: {result.requests} requests, {result.errors} errors, "
            f"p50 {result.percentile(0.5):.1f} ms, p99 {result.percentile(0.99):.1f} ms, "
            f"server CPU {result.server_cpu_ms:.2f} ms/request, "
            f"clients' CPU {result.client_cpu / result.seconds:.0%} of a core",
            flush=True,
        )
        results.append(result)
    return results


def prepare(home: Path, args: argparse.Namespace, postgres_url: str | None) -> tuple[dict, str]:
    """Migrate and fill the database; the server's environment and an admin's token."""
    from core.database import migrate
    from core.settings import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("CORE_")}
    env.update(
        CORE_HOME=str(home),
        CORE_CONFIG=str(home / "absent.toml"),
        CORE_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    if postgres_url:
        env.update(CORE_DATABASE_URL=postgres_url, CORE_ENVIRONMENT="dev")
    url = postgres_url or load_settings(env).embedded_database_url
    migrate.upgrade(url)
    started = time.perf_counter()
    fill(url, args.pipelines, args.runs)
    print(f"filled {args.pipelines} pipelines in {time.perf_counter() - started:.1f} s")
    return env, add_admin(url)


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    """None for the embedded SQLite file, or the URL of a throwaway PostgreSQL database."""
    if kind == "sqlite":
        yield None
        return
    from tests.support.postgres import running_cluster

    with running_cluster() as cluster:
        import sqlalchemy as sa

        admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text("CREATE DATABASE bench_api"))
        admin.dispose()
        yield cluster.url("bench_api")


def main() -> None:
    """Fill, serve, load each endpoint with every worker count asked for, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="runs per pipeline")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per endpoint")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="uvicorn worker processes"
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    rows: list[tuple[int, Result]] = []
    with tempfile.TemporaryDirectory() as folder, database(args.database) as postgres_url:
        home = Path(folder)
        env, token = prepare(home, args, postgres_url)
        for workers in args.workers:
            print(f"uvicorn --workers {workers}, {args.clients} clients, {args.duration:g} s each")
            with server(env, workers) as running:
                rows += [(workers, r) for r in measure(running, token, args.pipelines, args)]
    print_table(args, rows)


def print_table(args: argparse.Namespace, rows: list[tuple[int, Result]]) -> None:
    """The results as a Markdown table, each endpoint against the baseline and the target."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\n{args.pipelines} pipelines x 7 states x 5 transformations, {args.runs} runs each, "
        f"{args.database}; {args.clients} clients for {args.duration:g} s per endpoint, "
        f"{os.cpu_count()} cores (load average at the end: {load})\n"
    )
    print(
        "| workers | endpoint | requests | errors | req/s | p50 ms | p99 ms | p99 vs baseline |"
        " server CPU ms/req | clients' CPU | target |"
    )
    print("|---" * 11 + "|")
    baselines = {w: r.percentile(0.99) for w, r in rows if r.name.startswith("GET /healthz")}
    for workers, result in rows:
        p99 = result.percentile(0.99)
        target = ""
        if "(list)" in result.name:
            met = p99 < TARGET_P99_MS and result.errors == 0
            target = f"p99 < {TARGET_P99_MS:g} ms, 0 errors: {'met' if met else 'missed'}"
        ratio = p99 / baselines[workers] if baselines.get(workers) else float("nan")
        print(
            f"| {workers} | {result.name} | {result.requests:,} | {result.errors} "
            f"| {result.rate:,.0f} | {result.percentile(0.5):.1f} | {p99:.1f} | {ratio:.2f}x "
            f"| {result.server_cpu_ms:.2f} | {result.client_cpu / result.seconds:.0%} | {target} |"
        )
    for _, result in rows:
        if result.first_error:
            print(f"first error of {result.name}: {result.first_error}")


if __name__ == "__main__":
    main()
