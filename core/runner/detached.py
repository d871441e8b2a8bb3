"""A run in the background: the local runner as a detached process (the UI's "run now").

The service creates the run event (so the caller gets its id at once) and hands it
to ``core run PIPELINE --resume RUN_ID`` in a process of its own session, whose output
goes to ``$CORE_HOME/logs/run_N/runner.log``. A run with no task runs yet is run
from its start. A thread of the starting process waits for it (no zombie is left)
and ends the run failed when the runner died before it could.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import threading

from core.errors import CoreError, OrchestratorError
from core.helpers.session_helper import SessionHelper
from core.runner.report import run_log_dir
from core.runs import finish_run, get_run
from core.settings import Settings
from core.worker import worker_environment

logger = logging.getLogger("core.runner.detached")


def spawn_runner(
    settings: Settings, pipeline: str, run_id: int, resumed_at: dt.datetime | None = None
) -> subprocess.Popen[bytes]:
    """Run ``core run PIPELINE --resume RUN_ID`` detached; its output goes to runner.log.

    The run is already pinned (to the plan it started with, or by the resume that asked
    for it), so the runner goes on with its snapshot as it is (``--configuration pinned``).
    A thread waits for the process; if it failed and left the run ``running``, the run is
    marked failed, unless a later resume (another ``resumed_at``) took the run over.

    Args:
        settings: CORE's settings.
        pipeline: the pipeline's name.
        run_id: the run (already started or resumed).
        resumed_at: the run's ``resumed_at`` as this resume set it (None for a new run).

    Raises:
        OrchestratorError: the process could not be started (the run is marked failed).
    """
    log = run_log_dir(settings, run_id) / "runner.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # "--" ends the options: a pipeline name may start with "-".
    command = [sys.executable, "-m", "core.cli", "run", "--resume", str(run_id)]
    command += ["--configuration", "pinned", "--", pipeline]
    try:
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=worker_environment(settings),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        _fail_if_running(settings, run_id, resumed_at)
        raise OrchestratorError(
            f"cannot start the local runner for run {run_id} ({' '.join(command[:4])}): {exc}"
        ) from exc
    name = f"core-run-{run_id}-reaper"
    reaper = threading.Thread(
        target=_wait, args=(settings, process, run_id, resumed_at), name=name, daemon=True
    )
    reaper.start()
    return process


def _wait(
    settings: Settings,
    process: subprocess.Popen[bytes],
    run_id: int,
    resumed_at: dt.datetime | None,
) -> None:
    if process.wait() != 0:
        _fail_if_running(settings, run_id, resumed_at)


def _fail_if_running(settings: Settings, run_id: int, resumed_at: dt.datetime | None) -> None:
    """End the run failed if it is still at the start or resume this runner was given."""
    try:
        with SessionHelper(settings, actor="core api") as session:
            event = get_run(session, run_id)
            if event.state == "running" and _same_time(event.resumed_at, resumed_at):
                finish_run(session, run_id, failed=True)
    except CoreError as exc:  # nobody to tell but the log: the request has returned
        logger.warning("could not mark run %s failed: %s", run_id, exc)


def _same_time(stored: dt.datetime | None, expected: dt.datetime | None) -> bool:
    """Whether two resume times are the same one (SQLite returns them without a zone)."""
    if stored is None or expected is None:
        return stored is expected
    return stored.replace(tzinfo=None) == expected.replace(tzinfo=None)
