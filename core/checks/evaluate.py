"""Evaluate a dataset's checks on the table about to be published (DuckDB over Arrow).

The row kinds of all checks of a dataset are counted in one scan; examples are read
only for the checks that failed, and the dataset-level kinds evaluate themselves. A
check that cannot be evaluated (a column it names is missing, a query DuckDB refuses)
is recorded ``error`` and counts as a failure of its severity.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from core.checks.kinds import KINDS, Args, Evaluation, Finding, examples_of, quote
from core.errors import InvalidInputError, TransformError, did_you_mean
from core.models.dataset_checks import SEVERITIES

# Columns an example row shows when the check names none (a wide table stays readable).
EXAMPLE_COLUMNS = 8


def arguments_text(arguments: Mapping[str, Any] | None) -> str:
    """Arguments shown compactly: ``columns=["patient_id"], max=5``."""
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (arguments or {}).items())


@dataclass(frozen=True)
class CheckSpec:
    """One check as a run's snapshot carries it."""

    id: int | None
    kind: str
    arguments: dict[str, Any]
    severity: str = "error"
    description: str | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> CheckSpec:
        """From a snapshot's dict (unknown keys ignored)."""
        return cls(
            **{
                k: data[k]
                for k in ("id", "kind", "arguments", "severity", "description")
                if k in data
            }
        )

    @property
    def label(self) -> str:
        """``check 3 not_null(columns=["patient_id"])``."""
        shown = arguments_text(self.arguments)
        return f"check {self.id if self.id is not None else '(new)'} {self.kind}({shown})"


@dataclass
class Outcome:
    """What one check found on one table."""

    check_id: int | None
    kind: str
    severity: str
    description: str | None
    status: str
    failing_rows: int = 0
    examples: list[Any] = field(default_factory=list)
    note: str | None = None
    seconds: float = 0.0
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (the task run's metadata, the CLI)."""
        return asdict(self)

    @property
    def blocks(self) -> bool:
        """True when the publish must not happen: an error check failed or broke."""
        return self.severity == "error" and self.status in ("fail", "error")


class CheckFailedError(TransformError):
    """An ``error`` check failed: nothing was published."""

    def __init__(self, dataset: str, failed: list[Outcome]) -> None:
        self.failed = failed
        parts = [_sentence(o) for o in failed]
        super().__init__("; ".join(parts) + f"; nothing was published to {dataset}")


def _sentence(outcome: Outcome) -> str:
    text = f"{outcome.label}"
    if outcome.status == "error":
        return f"{text} could not be evaluated: {outcome.note}"
    text += f" failed on {outcome.failing_rows} row(s)" if outcome.failing_rows else " failed"
    if outcome.note:
        text += f" ({outcome.note})"
    if outcome.examples:
        text += ", e.g. " + ", ".join(json.dumps(e, default=str) for e in outcome.examples)
    return text


def parse_arguments(kind: str, arguments: Any, where: str = "arguments") -> Args:
    """The typed arguments of a check, or an InvalidInputError naming each bad field.

    Raises:
        InvalidInputError: an unknown kind, or arguments that do not fit it.
    """
    entry = KINDS.get(kind)
    if entry is None:
        known = ", ".join(sorted(KINDS))
        raise InvalidInputError(
            [("kind", kind, f"expected one of {known}." + did_you_mean(str(kind), list(KINDS)))]
        )
    if not isinstance(arguments, dict):
        raise InvalidInputError(
            [(where, arguments, "expected an object of argument names to values")]
        )
    try:
        return entry.args.model_validate(arguments)
    except ValidationError as exc:
        problems = [
            (
                f"{where}.{'.'.join(map(str, e['loc']))}" if e["loc"] else where,
                e.get("input"),
                f"{kind}: {e['msg']}",
            )
            for e in exc.errors()
        ]
        raise InvalidInputError(problems) from None


def check_severity(severity: Any) -> str | None:
    """Why a severity is refused, or None."""
    return None if severity in SEVERITIES else f"expected one of {', '.join(SEVERITIES)}"


def validate_spec(spec: CheckSpec) -> None:
    """Refuse a check not saved yet (tried from the CLI or the UI), every problem at once.

    Raises:
        InvalidInputError: its severity, kind or arguments, each by field.
    """
    reason = check_severity(spec.severity)
    problems = [("severity", spec.severity, reason)] if reason else []
    try:
        parse_arguments(spec.kind, spec.arguments)
    except InvalidInputError as exc:
        problems += exc.problems
    if problems:
        raise InvalidInputError(problems)


def finding_text(failing_rows: int, note: str | None) -> str:
    """What a check found in words: ``2 failing row(s); note``, or ``no failing row``."""
    rows = f"{failing_rows:,} failing row(s)" if failing_rows else ""
    return "; ".join(part for part in (rows, note or "") if part) or "no failing row"


def evaluate_checks(
    checks: Iterable[CheckSpec],
    table: pa.Table,
    previous_rows: Callable[[], int | None] = lambda: None,
    other: Callable[[str], pa.Table] | None = None,
    now: dt.datetime | None = None,
    time_limit: float | None = None,
) -> list[Outcome]:
    """Evaluate checks on a table; never raises for a check that fails or breaks.

    Args:
        checks: the checks of the dataset.
        table: the rows about to be published.
        previous_rows: the previous successful run's row count (row_count_change).
        other: another dataset's rows of this run (relationship).
        now: the time freshness is measured against (now by default).
        time_limit: seconds after which DuckDB is interrupted and the checks not done
            are recorded ``error`` (a check tried in the web server must not hold it);
            None in a worker, which its own stop and timeouts bound.

    Returns:
        One outcome per check, in order.
    """
    from core.transforms.library._common import duckdb_connection  # locked, interruptible

    specs = list(checks)
    if not specs:
        return []
    with duckdb_connection() as con, _limited(con, time_limit) as expired:
        con.register("data", table)
        ev = Evaluation(
            con, table, previous_rows, other or _no_other, now or dt.datetime.now(dt.UTC)
        )
        parsed = [_parsed(spec) for spec in specs]
        counts, scan_seconds = _scan(ev, specs, parsed)
        outcomes = [
            _outcome(ev, spec, args, counts.get(i), scan_seconds)
            for i, (spec, args) in enumerate(zip(specs, parsed, strict=True))
        ]
    if expired.is_set():  # the interrupted check broke; the others ran to their end
        for outcome in outcomes:
            if outcome.status == "error" and "interrupt" in (outcome.note or "").lower():
                outcome.note = (
                    f"stopped after {time_limit:g} s: not evaluated in time; make the check "
                    "cheaper (fewer joins, a predicate instead of a query) or try it on a "
                    "smaller run"
                )
    return outcomes


@contextmanager
def _limited(con: Any, time_limit: float | None) -> Iterator[threading.Event]:
    """Interrupt the connection's queries once ``time_limit`` seconds have passed."""
    expired = threading.Event()
    if time_limit is None:
        yield expired
        return

    def stop() -> None:
        expired.set()
        con.interrupt()

    timer = threading.Timer(time_limit, stop)
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()


def _no_other(name: str) -> pa.Table:
    raise ValueError(f"dataset {name!r} is not available here")


def _parsed(spec: CheckSpec) -> Args | Exception:
    try:
        return parse_arguments(spec.kind, spec.arguments)
    except InvalidInputError as exc:
        return exc


def _condition(spec: CheckSpec, args: Args | Exception) -> str | None:
    if isinstance(args, Exception):
        return None
    kind = KINDS[spec.kind]
    return kind.condition(args) if kind.condition else None


def _scan(
    ev: Evaluation, specs: list[CheckSpec], parsed: list[Args | Exception]
) -> tuple[dict[int, int | Exception], float]:
    """Failing-row counts of every row check, in one scan (one per check if that fails)."""
    conditions = {
        i: c for i, (s, a) in enumerate(zip(specs, parsed, strict=True)) if (c := _condition(s, a))
    }
    if not conditions:
        return {}, 0.0
    started = time.perf_counter()
    counts: dict[int, int | Exception] = {}
    try:
        columns = ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions.values())
        row = ev.con.execute(f"SELECT {columns} FROM data").fetchone() or ()
        counts = dict(zip(conditions, map(int, row), strict=True))
    except Exception:  # one bad check: find it, keep the others' counts
        for index, condition in conditions.items():
            try:
                counts[index] = int(
                    ev.con.execute(f"SELECT count(*) FROM data WHERE {condition}").fetchone()[0]
                )  # type: ignore[index]
            except Exception as exc:  # a missing column, a predicate DuckDB refuses
                counts[index] = exc
    return counts, (time.perf_counter() - started) / len(conditions)


def _outcome(
    ev: Evaluation,
    spec: CheckSpec,
    args: Args | Exception,
    count: int | Exception | None,
    scan_seconds: float,
) -> Outcome:
    outcome = Outcome(spec.id, spec.kind, spec.severity, spec.description, "pass", label=spec.label)
    started = time.perf_counter()
    try:
        if isinstance(args, Exception):
            raise args
        finding = _finding(ev, spec, args, count)
    except Exception as exc:
        outcome.status, outcome.note = "error", _reason(exc, ev.table)
    else:
        outcome.failing_rows, outcome.examples, outcome.note = (
            finding.failing_rows,
            finding.examples,
            finding.note,
        )
        if not finding.passed:
            outcome.status = "fail" if spec.severity == "error" else "warn"
    own = time.perf_counter() - started
    outcome.seconds = round(own + (scan_seconds if count is not None else 0.0), 6)
    return outcome


def _finding(ev: Evaluation, spec: CheckSpec, args: Args, count: int | Exception | None) -> Finding:
    """What a check found; a row check's count comes from the shared scan."""
    kind = KINDS[spec.kind]
    condition = kind.condition(args) if kind.condition else None
    if condition is None:
        assert kind.evaluate is not None  # every kind has a condition or an evaluate
        return kind.evaluate(ev, args)
    if isinstance(count, Exception):
        raise count
    if not count:
        return Finding()
    shown = _example_columns(args, ev.table)
    return Finding(count, examples_of(ev.con, f"SELECT {shown} FROM data WHERE {condition}"))


def _example_columns(args: Args, table: pa.Table) -> str:
    from core.lake.dataset_contract import METADATA_PREFIX

    named = [c for c in args.columns() if c in table.column_names]
    rest = [c for c in table.column_names if not c.startswith(METADATA_PREFIX) and c not in named]
    chosen = named + rest[: max(0, EXAMPLE_COLUMNS - len(named))]
    return ", ".join(quote(c) for c in chosen) or "*"


def _reason(exc: Exception, table: pa.Table) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "not found" in text.lower() and "column" in text.lower():
        text += f" (the table has {', '.join(table.column_names[:20])})"
    return text[:500]
