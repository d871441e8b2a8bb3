"""Notebook transforms: ``{transforms_dir}/{template}.ipynb`` executed with papermill.

The worker (``corebot run``) runs the notebook in a fresh ``python3`` kernel with
parameters injected after the cell tagged ``parameters``: ``transform_id``,
``run_id`` and the transformation's typed variables (dates and datetimes as ISO
strings). Secrets are never parameters: the notebook asks for them by name with
``ctx.secret(...)``. Inside the notebook, :func:`load_context` builds the same
TransformContext the runtime builds for a Python transform.

The executed notebook is always stored in the lake, also when a cell fails or
times out, at::

    {lake_root}/notebooks/{contract key}/run_id={run_id}/{template}_{id}_attempt{n}.ipynb

where the contract key is ``{branch}/{company}/{brand}/{state}/{dataset}`` of the
transformation's output. The kernel is another process, so the worker learns
what the notebook published by reading the lake back (the Delta commit of this
run made while the notebook ran: rows, files, version), and its ``rows_in`` and
``ctx.metadata`` from a small report the notebook's context displays in its
outputs each time it reads or publishes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import (
    ConfigurationError,
    ContractNotFoundError,
    LakeError,
    NotebookError,
)
from core.lake.dataset_contract import RUN_ID, DatasetContract, PublishSummary
from core.lake.storage import backend_for
from core.settings import Settings
from core.stop import interruptible
from core.transforms.context import TransformContext
from core.transforms.kinds import KindResult, TemplateRef
from core.transforms.notebook_validation import notebook_path

if TYPE_CHECKING:  # neither is needed to run a notebook: the kernel does the work
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger("core.transforms.notebook")

KERNEL_NAME = "python3"
NOTEBOOKS_FOLDER = "notebooks"
REPORT_MIME = "application/vnd.core.notebook-report+json"
ERROR_CELL_TAG = "core-error"


class NotebookContext(TransformContext):
    """The TransformContext of a notebook: reports rows_in and metadata to the worker."""

    def input(self, name: str, *args: Any, **kwargs: Any) -> pa.Table:
        """Another dataset, as :meth:`TransformContext.input`; the read is reported."""
        table = super().input(name, *args, **kwargs)
        self._report(f"read {table.num_rows} rows of {name!r}")
        return table

    def publish(
        self, data: pd.DataFrame | pa.Table, partitions: list[str] | None = None
    ) -> PublishSummary:
        """Publish, as :meth:`TransformContext.publish`; the publish is reported."""
        summary = super().publish(data, partitions)
        self._report(f"published {summary.rows} rows to {self.output.uri} (v{summary.version})")
        return summary

    def _report(self, line: str) -> None:
        from IPython.display import display

        metadata = json.loads(json.dumps(self.metadata, default=str))
        report = {"rows_in": self.rows_in, "metadata": metadata}
        display({"text/plain": line, REPORT_MIME: report}, raw=True)


def load_context(
    transform_id: int | None, run_id: int | None, settings: Settings | None = None
) -> NotebookContext:
    """The context of a transformation in a run, for use inside its notebook.

    Args:
        transform_id: the ``transform_id`` parameter (corebot injects it).
        run_id: the ``run_id`` parameter (corebot injects it).
        settings: CORE's settings; loaded from the environment when omitted (the
            worker passes its settings to the kernel as ``CORE_*`` variables).

    Raises:
        NotebookError: transform_id or run_id is None (the notebook was not run by corebot).
        ConfigurationError: the transformation or run is unknown or they do not match.
    """
    if transform_id is None or run_id is None:
        raise NotebookError(
            "load_context needs transform_id and run_id: corebot injects them when it runs "
            "the notebook; to work interactively, set them in the parameters cell to a "
            "transformation and a run of your configuration (`core runs list`)"
        )
    from core.helpers.session_helper import SessionHelper
    from core.settings import load_settings
    from core.transforms.runtime import build_context

    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    session = SessionHelper(settings, actor="notebook").session
    ctx = build_context(settings, session, int(transform_id), int(run_id))
    return NotebookContext(**vars(ctx))


def run_notebook(ctx: TransformContext, template: TemplateRef) -> KindResult:
    """Execute a notebook template for one transformation, store it, and read back its output.

    Returns:
        The lake URI of the executed notebook.

    Raises:
        ConfigurationError: the template's notebook does not exist.
        NotebookError: a cell failed or timed out, or the kernel did not start; its
            ``kind_result`` holds the stored notebook's location.
    """
    source = existing_notebook(ctx.settings, template.name)
    before = _table_version(ctx.output)
    location = notebook_location(ctx, _attempt(ctx))
    with tempfile.TemporaryDirectory(prefix="core-notebook-") as work:
        executed = Path(work) / source.name
        try:
            _execute(ctx, source, executed, Path(work))
        except Exception as exc:
            raise _failure(ctx, template, exc, executed, location) from exc
        except BaseException as exc:  # Terminated, KeyboardInterrupt: keep them, store anyway
            exc.kind_result = KindResult(_store_quietly(ctx, executed, location))  # type: ignore[attr-defined]
            raise
        result = KindResult(notebook_location=_store(ctx, executed, location))
        try:
            _read_back(ctx, before, executed)
        except Exception as exc:
            exc.kind_result = result  # type: ignore[attr-defined]
            raise
    return result


def existing_notebook(settings: Settings, template_name: str) -> Path:
    """The notebook file of a template.

    Raises:
        ConfigurationError: it does not exist.
    """
    path = notebook_path(settings, template_name)
    if not path.is_file():
        raise ConfigurationError(
            f"template {template_name!r} is a notebook template, but {path} does not exist; "
            "create it from transforms/Template.ipynb, or set CORE_TRANSFORMS_DIR to the "
            "folder that holds it"
        )
    return path


def notebook_parameters(ctx: TransformContext) -> dict[str, Any]:
    """What is injected: the variables (dates as ISO strings), transform_id and run_id."""
    values = {name: _plain(value) for name, value in ctx.variables.items()}
    return {**values, "transform_id": ctx.transform_id, "run_id": ctx.run_id}


def notebook_location(ctx: TransformContext, attempt: int) -> str:
    """Where the executed notebook of one attempt is stored (a local path or s3:// URI)."""
    key = "/".join(ctx.output.parts)
    name = f"{ctx.template}_{ctx.transform_id}_attempt{attempt}.ipynb"
    return f"{ctx.output.root}/{NOTEBOOKS_FOLDER}/{key}/run_id={ctx.run_id}/{name}"


def published_since(contract: DatasetContract, run_id: int, before: int | None) -> Any:
    """What was published for a run after table version ``before``, read from the lake.

    Returns:
        A PublishSummary of the newest commit that replaced the run's rows (its rows
        from the commit's metrics, no scan), or None when the run was not published.
    """
    latest = _table_version(contract)
    if latest is None:
        return None
    predicate = f"{RUN_ID} = {run_id}"
    for entry in contract.history(limit=latest - (-1 if before is None else before)):
        if entry["predicate"] == predicate:
            version, rows = entry["version"], entry["rows"]
            if rows is None:  # a writer that records no metrics: count the run's rows
                scan = contract.fetch_arrow(columns=[RUN_ID], run_id=run_id, version=version)
                rows = scan.num_rows
            files = contract.delta_table(version).file_uris(file_pruning_predicate=predicate)
            return PublishSummary(run_id, int(rows), len(files), version)
    return None


def _execute(ctx: TransformContext, source: Path, executed: Path, work: Path) -> None:
    with _kernel_environment(ctx.settings), _started_kernel(work) as manager:
        import papermill  # imported while the kernel boots

        timeout = ctx.settings.notebook_execution_timeout
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=notebook_parameters(ctx),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            start_timeout=math.ceil(ctx.settings.notebook_start_timeout),
            execution_timeout=math.ceil(timeout) if timeout else None,
            kernel_manager_class=_adopting(manager),
            # Every output has arrived when the last cell ends: no graceful shutdown to await.
            shutdown_kernel="immediate",
        )


@contextmanager
def _started_kernel(work: Path) -> Iterator[Any]:
    """A kernel started at once, on a private socket in ``work``; stopped in any case."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    manager = AsyncKernelManager(
        kernel_name=KERNEL_NAME,
        transport="ipc",  # no TCP port, and the connection file is not in ~
        ip=str(work / "kernel"),
        connection_file=str(work / "kernel.json"),
    )
    run_sync(manager.start_kernel)()
    try:
        with interruptible(partial(_kill_kernel, manager)):
            yield manager
    finally:
        if manager.has_kernel:  # nbclient stops the kernel it adopted; this is for errors
            run_sync(manager.shutdown_kernel)(now=True)


def _kill_kernel(manager: Any) -> None:
    """From the stop watcher (core.stop): kill the kernel and its children at once."""
    provisioner = getattr(manager, "provisioner", None)
    pid, group = getattr(provisioner, "pid", None), getattr(provisioner, "pgid", None)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and group != os.getpgid(0):  # its own session (jupyter_client starts one)
            os.killpg(group, signal.SIGKILL)
        elif pid:
            os.kill(pid, signal.SIGKILL)


def _adopting(manager: Any) -> type:
    """A kernel manager class whose instances are ``manager``: nbclient adopts the kernel."""

    class Adopted(type(manager)):  # type: ignore[misc]
        def __new__(cls, *_args: Any, **_kwargs: Any) -> Any:
            return manager

    return Adopted


@contextmanager
def _kernel_environment(settings: Settings) -> Iterator[None]:
    """The worker's settings as CORE_* variables, for the kernel it starts."""
    values = settings.to_environment()
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _failure(
    ctx: TransformContext, template: TemplateRef, exc: Exception, executed: Path, location: str
) -> NotebookError:
    reason = _reason(exc, ctx.settings)
    if not reason.startswith("failed: cell"):  # papermill marks a failed cell itself
        _annotate(executed, reason)
    stored = _store_quietly(ctx, executed, location)
    where = f"executed notebook: {stored}" if stored else "the notebook was not stored"
    error = NotebookError(f"notebook {template.name}.ipynb {reason}; {where}")
    error.kind_result = KindResult(notebook_location=stored)  # type: ignore[attr-defined]
    return error


def _reason(exc: Exception, settings: Settings) -> str:
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        raised = _one_line(exc.ename, exc.evalue)
        return f"failed: cell In [{exc.exec_count}] raised {raised}"
    if isinstance(exc, CellTimeoutError):
        limit = settings.notebook_execution_timeout
        return f"timed out: a cell ran longer than {limit:g} s (CORE_NOTEBOOK_EXECUTION_TIMEOUT)"
    if isinstance(exc, NoSuchKernel):
        return (
            f"cannot run: no Jupyter kernel {KERNEL_NAME!r}; install ipykernel (script/bootstrap)"
        )
    if isinstance(exc, RuntimeError) and "didn't respond" in str(exc):
        limit = settings.notebook_start_timeout
        return f"did not start: no kernel within {limit:g} s (CORE_NOTEBOOK_START_TIMEOUT)"
    return f"failed: {_one_line(type(exc).__name__, str(exc))}"


def _one_line(name: str, message: str) -> str:
    """``Name: first line of the message`` (just the name when the message is empty)."""
    lines = str(message).strip().splitlines()
    return f"{name}: {lines[0]}" if lines else name


def _annotate(executed: Path, reason: str) -> None:
    """Put the reason at the top of a partly executed notebook (when there is one)."""
    import nbformat

    if not executed.is_file():
        return
    notebook = nbformat.read(executed, as_version=4)
    cell = nbformat.v4.new_markdown_cell(f"**CORE stopped this notebook: it {reason}.**")
    cell.metadata["tags"] = [ERROR_CELL_TAG]
    notebook.cells.insert(0, cell)
    notebook.metadata.setdefault("papermill", {})["exception"] = True
    nbformat.write(notebook, executed)


def _store(ctx: TransformContext, executed: Path, location: str) -> str:
    """Copy the executed notebook to the lake with the output contract's file system.

    Raises:
        LakeError: the lake cannot be written.
    """
    backend, filesystem = backend_for(location), ctx.output.filesystem
    path = backend.fs_path(location)
    try:
        if not backend.atomic_put:
            filesystem.create_dir(path.rpartition("/")[0], recursive=True)
        with executed.open("rb") as reader, filesystem.open_output_stream(path) as writer:
            shutil.copyfileobj(reader, writer)
    except OSError as exc:
        raise LakeError(f"storing the executed notebook at {location} failed: {exc}") from exc
    return location


def _store_quietly(ctx: TransformContext, executed: Path, location: str) -> str | None:
    """Store what exists of a failed notebook; a storage error must not hide the failure."""
    if not executed.is_file():
        return None
    try:
        return _store(ctx, executed, location)
    except LakeError as exc:
        logger.warning("%s", exc)
        return None


def _read_back(ctx: TransformContext, before: int | None, executed: Path) -> None:
    report = _last_report(executed)
    ctx.rows_in += int(report.get("rows_in", 0))
    ctx.metadata.update(report.get("metadata", {}))
    if isinstance(ctx.output, DatasetContract):
        ctx.published = published_since(ctx.output, ctx.run_id, before)


def _last_report(executed: Path) -> dict[str, Any]:
    import nbformat

    notebook = nbformat.read(executed, as_version=4)
    reports = [
        output["data"][REPORT_MIME]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if REPORT_MIME in output.get("data", {})
    ]
    return reports[-1] if reports else {}


def _table_version(contract: Any) -> int | None:
    if not isinstance(contract, DatasetContract):
        return None
    try:
        return contract.delta_table().version()
    except ContractNotFoundError:
        return None


def _attempt(ctx: TransformContext) -> int:
    from core.runs import task_runs

    row = task_runs(ctx.session, ctx.run_id).get(ctx.transform_id)
    return row.attempt if row is not None and row.attempt else 1


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
