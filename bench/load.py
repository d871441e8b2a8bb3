"""Benchmark: the REST API under concurrent reads and writes (``bench/load.py [--duration 60]``).

Fills a configuration database as ``bench/api.py`` does (N pipelines x 7 states x 5
transformations, 3 runs each), gives the templates a ``dataset`` string variable, starts
the application with uvicorn on a loopback port (``bench.api.server``) and drives it with
C concurrent clients (one ``httpx.AsyncClient`` and keep-alive connection each, an API
token) for D seconds, every client picking at random, request after request:

- ``GET /api/pipelines``: the pipeline list (25 %);
- ``GET /api/pipelines/{id}``: a random pipeline's page (25 %);
- an edit (35 %): ``GET /api/transformations/{id}`` of one of H "hot" transformations, then
  ``PATCH`` of its ``dataset`` variable to a value no one else sends, with the version it
  read. Many clients editing few rows: a stale version must be a 409, never a 500 or a
  silently lost update;
- ``POST /api/segments`` with a name no one else sends (15 %).

An error is a transport failure or a status other than the expected ones (200 for reads
and edits, 409 for an edit from a stale read, 201 for a creation). After the load, the
database itself is checked for lost writes:

- every segment answered 201 is stored (and nothing was stored that was not answered 201);
- every PATCH answered 200 saved the version it read + 1 (it overwrote no edit its client
  had not seen: no lost update);
- every hot transformation's version rose by exactly the number of 200 PATCHes it got, the
  200 answers carried the versions ``v0+1 .. v0+k`` once each (no two edits from the same
  read both won), and its stored value is the one of the PATCH that answered the highest.

On PostgreSQL the id sequences are first moved past the bulk-filled ids (which would
otherwise make the first segment created a duplicate key). ``tests/reliability/test_load.py``
runs the same load, shorter, in the test suite; docs/reliability.md ("Load") has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import Result, database, prepare, server  # noqa: E402

VARIABLE = "dataset"
LIST = "GET /api/pipelines (list)"
PAGE = "GET /api/pipelines/{id} (pipeline page)"
READ = "GET /api/transformations/{id} (edit: read)"
PATCH = "PATCH /api/transformations/{id} (edit: write)"
CREATE = "POST /api/segments (create)"
ENDPOINTS = (LIST, PAGE, READ, PATCH, CREATE)
MIX = ((LIST, 25), (PAGE, 25), (PATCH, 35), (CREATE, 15))  # weights in percent


@dataclass
class Tally:
    """What one endpoint did: every request's latency, its errors and its 409s."""

    requests: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # of every answered request
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0


@dataclass
class Ledger:
    """What the clients were told about their writes, to check against the database."""

    created: set[str] = field(default_factory=set)  # segment names answered 201
    # per hot transformation: (version answered, value sent) of every PATCH answered 200
    patched: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    # 200 PATCHes whose answered version is not the one read + 1: they overwrote an edit
    # their client never saw (a lost update)
    blind: list[str] = field(default_factory=list)
    start_versions: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadRun:
    """The outcome of one mixed load: per endpoint figures and the writes' ledger."""

    results: list[Result]
    conflicts: dict[str, int]
    ledger: Ledger
    seconds: float

    @property
    def errors(self) -> int:
        """Errors over every endpoint."""
        return sum(r.errors for r in self.results)

    def first_errors(self) -> list[str]:
        """The first error of each endpoint that had one."""
        return [f"{r.name}: {r.first_error}" for r in self.results if r.first_error]


def give_templates_a_variable(url: str) -> None:
    """Declare the ``dataset`` string variable that bench.dags' transformations store."""
    from sqlalchemy import update

    import core.models.configuration as cfg
    from core.database.engine import get_engine

    with get_engine(url).begin() as db:
        db.execute(
            update(cfg.TransformationTemplate).values(
                variable_structures={VARIABLE: {"type": "string"}}
            )
        )


def advance_sequences(url: str) -> None:
    """On PostgreSQL, move every id sequence past the ids that the bulk fill inserted.

    ``bench.dags.fill`` inserts explicit ids, which PostgreSQL's sequences do not see: the
    first row created through the API would get id 1 again (a 409, duplicate key).
    """
    from sqlalchemy import func, select

    import core.models.configuration as cfg
    from core.database.engine import get_engine

    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as db:
        for table in cfg.Base.metadata.sorted_tables:
            if "id" not in table.c or not table.c.id.primary_key:
                continue
            name = f"{table.schema}.{table.name}" if table.schema else table.name
            sequence = func.pg_get_serial_sequence(name, "id")
            top = select(func.coalesce(func.max(table.c.id), 0) + 1).scalar_subquery()
            db.execute(select(func.setval(sequence, top, False)))


def hot_transformations(url: str, count: int) -> dict[int, int]:
    """The ids of the first ``count`` transformations, with their versions."""
    from sqlalchemy import select

    import core.models.configuration as cfg
    from core.database.engine import get_engine

    query = select(cfg.Transformation.id, cfg.Transformation.version)
    with get_engine(url).connect() as db:
        return dict(db.execute(query.order_by(cfg.Transformation.id).limit(count)).all())


async def mixed_load(
    base: str,
    token: str,
    pipelines: int,
    hot: dict[int, int],
    clients: int,
    duration: float,
    seed: int = 0,
) -> LoadRun:
    """``clients`` clients sending the mix for ``duration`` seconds; what they saw.

    Args:
        base: the server's base URL.
        token: an editor's (or admin's) API token.
        pipelines: pipeline ids 1..pipelines exist.
        hot: the transformations to edit, with their versions before the load.
        clients: concurrent clients, one connection each.
        duration: seconds of load.
        seed: makes the clients' choices repeatable.
    """
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    tallies = {name: Tally() for name in ENDPOINTS}
    ledger = Ledger(patched={tid: [] for tid in hot}, start_versions=dict(hot))
    hot_ids = sorted(hot)
    stop_at = 0.0  # set once every client is ready

    async def send(
        http: httpx.AsyncClient, name: str, method: str, path: str, expected: int, **kw
    ) -> httpx.Response | None:
        """One request, tallied; the response when it had the expected status (or a 409)."""
        tally = tallies[name]
        tally.requests += 1
        started = time.perf_counter()
        try:
            response = await http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            tally.errors.append(f"{type(exc).__name__}: {exc}")
            return None
        tally.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code == expected:
            return response
        if response.status_code == 409 and name == PATCH:
            tally.conflicts += 1
            return None
        tally.errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
        return None

    async def edit(http: httpx.AsyncClient, tid: int, value: str) -> None:
        read = await send(http, READ, "GET", f"/api/transformations/{tid}", 200)
        if read is None:
            return
        version = read.json()["version"]
        body = {"variables": {VARIABLE: value}, "version": version}
        written = await send(http, PATCH, "PATCH", f"/api/transformations/{tid}", 200, json=body)
        if written is not None:
            answer = written.json()
            if answer["variables"].get(VARIABLE) != value:
                tallies[PATCH].errors.append(f"200 but answered {answer['variables']!r}")
            ledger.patched[tid].append((answer["version"], value))
            if answer["version"] != version + 1:
                ledger.blind.append(f"{tid}: read {version}, saved as {answer['version']}")

    async def client(number: int, http: httpx.AsyncClient) -> None:
        chooser = random.Random(seed * 1000 + number)  # noqa: S311 - not cryptography
        names, weights = zip(*MIX, strict=True)
        sent = 0
        while time.perf_counter() < stop_at:
            sent += 1
            unique = f"load_c{number}_{sent}"
            kind = chooser.choices(names, weights)[0]
            if kind == LIST:
                await send(http, LIST, "GET", "/api/pipelines", 200)
            elif kind == PAGE:
                await send(
                    http, PAGE, "GET", f"/api/pipelines/{chooser.randint(1, pipelines)}", 200
                )
            elif kind == PATCH:
                await edit(http, chooser.choice(hot_ids), unique)
            elif await send(http, CREATE, "POST", "/api/segments", 201, json={"name": unique}):
                ledger.created.add(unique)

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [httpx.AsyncClient(base_url=base, timeout=60, limits=limits) for _ in range(clients)]
    started = time.perf_counter()
    stop_at = started + duration
    try:
        await asyncio.gather(*(client(n, http) for n, http in enumerate(https)))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    seconds = time.perf_counter() - started
    results = [
        Result(
            name,
            t.requests,
            len(t.errors),
            seconds,
            t.latencies_ms,
            (t.errors or [""])[0],
        )
        for name, t in tallies.items()
    ]
    conflicts = {name: t.conflicts for name, t in tallies.items()}
    return LoadRun(results, conflicts, ledger, seconds)


def lost_writes(url: str, ledger: Ledger) -> list[str]:
    """Every way the database disagrees with what the clients were told (empty: none lost)."""
    from sqlalchemy import select

    import core.models.configuration as cfg
    from core.database.engine import get_engine

    problems = [f"transformation {edit} (a lost update)" for edit in ledger.blind]
    with get_engine(url).connect() as db:
        stored = set(
            db.scalars(
                select(cfg.Segment.name).where(cfg.Segment.name.like("load\\_%", escape="\\"))
            )
        )
        rows = dict(
            db.execute(
                select(cfg.Transformation.id, cfg.Transformation.version).where(
                    cfg.Transformation.id.in_(ledger.patched)
                )
            ).all()
        )
        values = dict(
            db.execute(
                select(
                    cfg.TransformationVariable.transformation_id, cfg.TransformationVariable.value
                ).where(
                    cfg.TransformationVariable.transformation_id.in_(ledger.patched),
                    cfg.TransformationVariable.name == VARIABLE,
                )
            ).all()
        )
    if missing := ledger.created - stored:
        problems.append(f"{len(missing)} segments answered 201 are missing: {sorted(missing)[:3]}")
    if unexpected := stored - ledger.created:
        problems.append(
            f"{len(unexpected)} segments stored without a 201: {sorted(unexpected)[:5]}"
        )
    for tid, patches in ledger.patched.items():
        start = ledger.start_versions[tid]
        versions = sorted(version for version, _ in patches)
        if versions != list(range(start + 1, start + len(patches) + 1)):
            problems.append(
                f"transformation {tid}: 200 PATCHes answered versions {versions}, expected "
                f"{start + 1}..{start + len(patches)} once each"
            )
        if rows.get(tid) != start + len(patches):
            problems.append(
                f"transformation {tid}: version {rows.get(tid)}, expected {start} + "
                f"{len(patches)} successful PATCHes"
            )
        if patches and values.get(tid) != max(patches)[1]:
            problems.append(
                f"transformation {tid}: stores {values.get(tid)!r}, the last 200 PATCH sent "
                f"{max(patches)[1]!r}"
            )
    return problems


def print_table(run: LoadRun, problems: Sequence[str], heading: str) -> None:
    """The figures as a Markdown table, then the lost-writes check."""
    print(f"\n{heading}\n")
    print("| endpoint | requests | errors | 409s | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for result in run.results:
        print(
            f"| {result.name} | {result.requests:,} | {result.errors} "
            f"| {run.conflicts[result.name]:,} | {result.rate:,.1f} "
            f"| {result.percentile(0.5):.1f} | {result.percentile(0.99):.1f} |"
        )
    total = sum(r.requests for r in run.results)
    print(
        f"| all | {total:,} | {run.errors} | {sum(run.conflicts.values()):,} "
        f"| {total / run.seconds:,.1f} | | |"
    )
    ledger = run.ledger
    patches = sum(len(p) for p in ledger.patched.values())
    print(
        f"\nwrites answered: {len(ledger.created):,} segments created (201), {patches:,} "
        f"edits saved (200) on {len(ledger.patched)} hot transformations, "
        f"{run.conflicts[PATCH]:,} edits refused as stale (409)"
    )
    print("lost writes: " + ("none" if not problems else f"{len(problems)} problems"))
    for line in [*problems, *run.first_errors()]:
        print(f"  {line}")


def main() -> None:
    """Fill, serve, load with the mix, check the writes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3, help="runs per pipeline")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--hot", type=int, default=20, help="transformations being edited")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    from core.settings import load_settings

    with tempfile.TemporaryDirectory() as folder, database(args.database) as postgres_url:
        env, token = prepare(Path(folder), args, postgres_url)
        url = postgres_url or load_settings(env).embedded_database_url
        give_templates_a_variable(url)
        advance_sequences(url)
        hot = hot_transformations(url, args.hot)
        with server(env, args.workers) as (base, _pid):
            print(f"{args.clients} clients for {args.duration:g} s ...", flush=True)
            run = asyncio.run(
                mixed_load(base, token, args.pipelines, hot, args.clients, args.duration)
            )
        problems = lost_writes(url, run.ledger)
    heading = (
        f"{args.pipelines} pipelines x 7 states x 5 transformations, {args.database}, "
        f"uvicorn --workers {args.workers}; {args.clients} clients for {args.duration:g} s "
        f"({run.seconds:.1f} s measured), {args.hot} hot transformations; "
        f"{os.cpu_count()} cores"
    )
    print_table(run, problems, heading)
    sys.exit(1 if problems or run.errors else 0)


if __name__ == "__main__":
    main()
