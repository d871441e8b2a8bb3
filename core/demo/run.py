"""Run the demo: the sample configuration, a generated source, the sample pipeline."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from core.checks.evaluate import finding_text
from core.checks.results import results_of_run
from core.database.seed import load_world, sample_world
from core.demo.source import SourceFiles, generate
from core.helpers.session_helper import SessionHelper
from core.models.dataset_checks import CheckResult
from core.runner.local import Listener, LocalRunner
from core.runner.progress import Progress
from core.runner.report import RunReport
from core.service.users import local_admin
from core.settings import Settings
from core.worker_server import start_server

PIPELINE = "acme_zentrix_patient_status"
LANDING = Path("landing/acme_pharma/zentrix")  # relative to CORE_HOME, as in sample.yaml
OUTBOX = Path("outbox/acme_pharma/zentrix")


@dataclass(frozen=True)
class TaskChecks:
    """What the data quality checks found on one task's output in the run.

    Attributes:
        task_id: the task.
        counts: results by status (pass, warn, fail, error), only those that occur.
        problems: one line per result that is not a pass.
    """

    task_id: str
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``master_value_mapping_9: 3 pass``."""
        order = ("pass", "warn", "fail", "error")
        shown = ", ".join(f"{self.counts[s]} {s}" for s in order if s in self.counts)
        return f"{self.task_id}: {shown}"


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: the source it generated, the run, where the outputs are."""

    source: SourceFiles
    report: RunReport
    lake_root: str
    outbox: Path
    login: tuple[str, str]  # the local admin's email and password, for script/server
    checks: list[TaskChecks] = field(default_factory=list)

    def outbox_files(self) -> list[Path]:
        """The files the run published to the outbox."""
        return sorted(self.outbox.glob(f"*run{self.report.run_id}*"))


def run_demo(
    settings: Settings,
    rows: int = 100_000,
    workers: int = 2,
    listener: Listener | Progress | None = None,
    day: dt.date | None = None,
) -> DemoResult:
    """Prepare the sample configuration, generate the source and run the demo pipeline.

    Args:
        settings: CORE's settings (the demo uses CORE_HOME for its source and outbox).
        rows: how many status rows to generate.
        workers: transformations run at once within a group.
        listener: progress callback, as for LocalRunner; a Progress also numbers the tasks.
        day: the date in the generated file names (today when omitted).

    Returns:
        The DemoResult.
    """
    start_server(settings)  # the worker server's imports overlap the preparation and the source
    with SessionHelper(settings, actor="core demo") as session:
        load_world(session, sample_world())  # idempotent: keeps what is configured
        session.commit()
        login = local_admin(settings, session)
    source = generate(settings.home / LANDING, rows, day=day)
    if isinstance(listener, Progress):
        listener.say(f"source: {rows:,} rows generated, {listener.elapsed()}")
    on_start = listener.start if isinstance(listener, Progress) else None
    runner = LocalRunner(settings, workers=workers, listener=listener, on_start=on_start)
    report = runner.run(PIPELINE)
    with SessionHelper(settings) as session:
        checks = run_checks(session, report)
    outbox = settings.home / OUTBOX
    return DemoResult(source, report, settings.lake_root or "", outbox, login, checks)


def run_checks(session: Session, report: RunReport) -> list[TaskChecks]:
    """The run's check results by task, in the run's order (one query)."""
    results: defaultdict[int, list[CheckResult]] = defaultdict(list)
    for result in results_of_run(session, report.run_id):
        results[result.transformation_id].append(result)
    found = []
    for task in report.tasks:
        mine = results.get(task.transformation_id)
        if not mine:
            continue
        counts = dict(Counter(r.status for r in mine))
        problems = [
            f"{r.status}: check {r.check_id} ({r.kind}): {finding_text(r.failing_rows, r.note)}"
            for r in mine
            if r.status != "pass"
        ]
        found.append(TaskChecks(task.task_id, counts, problems))
    return found
