"""Run the demo: the sample configuration, a generated source, the sample pipeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from core.database.seed import load_world, sample_world
from core.demo.source import SourceFiles, generate
from core.helpers.session_helper import SessionHelper
from core.runner.local import Listener, LocalRunner
from core.runner.progress import Progress
from core.runner.report import RunReport
from core.service.users import local_admin
from core.settings import Settings

PIPELINE = "acme_zentrix_patient_status"
LANDING = Path("landing/acme_pharma/zentrix")  # relative to CORE_HOME, as in sample.yaml
OUTBOX = Path("outbox/acme_pharma/zentrix")


@dataclass(frozen=True)
class DemoResult:
    """What the demo did: the source it generated, the run, where the outputs are."""

    source: SourceFiles
    report: RunReport
    lake_root: str
    outbox: Path
    login: tuple[str, str]  # the local admin's email and password, for script/server

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
    return DemoResult(source, report, settings.lake_root or "", settings.home / OUTBOX, login)
