"""A run in the background: the local runner as a detached process (the UI's "run now").

The service creates the run event (so the caller gets its id at once) and hands it
to ``core run PIPELINE --resume RUN_ID`` in a process of its own session, whose output
goes to ``$CORE_HOME/logs/run_N/runner.log``. A run with no task runs yet is run
from its start. A thread of the starting process waits for it (no zombie is left)
and ends the run failed when the runner died before it could.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

from core.errors import CoreError, OrchestratorError
from core.helpers.session_helper import SessionHelper
from core.runs import finish_run, get_run
from core.settings import Settings
from core.worker import worker_environment

logger = logging.getLogger("core.runner.detached")


def spawn_runner(settings: Settings, pipeline: str, run_id: int) -> subprocess.Popen[bytes]:
    """Run ``core run PIPELINE --resume RUN_ID`` detached; its output goes to runner.log.

    The run is already pinned (to the plan it started with, or by the resume that asked
    for it), so the runner goes on with its snapshot as it is (``--configuration pinned``).

    Raises:
        OrchestratorError: the process could not be started (the run is marked failed).
    """
    log = settings.home / "logs" / f"run_{run_id}" / "runner.log"
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
        _fail_if_running(settings, run_id)
        raise OrchestratorError(
            f"cannot start the local runner for run {run_id} ({' '.join(command[:4])}): {exc}"
        ) from exc
    name = f"core-run-{run_id}-reaper"
    threading.Thread(target=_wait, args=(settings, process, run_id), name=name, daemon=True).start()
    return process


def _wait(settings: Settings, process: subprocess.Popen[bytes], run_id: int) -> None:
    if process.wait() != 0:
        _fail_if_running(settings, run_id)


def _fail_if_running(settings: Settings, run_id: int) -> None:
    try:
        with SessionHelper(settings, actor="core api") as session:
            if get_run(session, run_id).state == "running":
                finish_run(session, run_id, failed=True)
    except CoreError as exc:  # nobody to tell but the log: the request has returned
        logger.warning("could not mark run %s failed: %s", run_id, exc)
