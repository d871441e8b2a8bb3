"""The executed notebook of a task, read from the lake and rendered as HTML.

Workers store every executed notebook in the lake (see core.transforms.notebook) and
record where in the task run. Rendering keeps the notebook's outputs as they are,
scripts included: whoever serves the HTML must make them inert (the API sends it
under ``Content-Security-Policy: sandbox``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import LakeError, NotFoundError
from core.lake.storage import backend_for, normalise_root
from core.models.runs import TaskRun
from core.runs import get_run, task_runs
from core.settings import Settings


def notebook_html(settings: Settings, session: Session, run_id: int, transformation_id: int) -> str:
    """The executed notebook of one task of a run, as a standalone HTML page.

    Args:
        settings: CORE's settings (the lake).
        session: a configuration session.
        run_id: the run.
        transformation_id: the task's transformation.

    Returns:
        The HTML (nbconvert's HTMLExporter).

    Raises:
        NotFoundError: no such run or task, the task stored no notebook, or the stored
            notebook is gone from the lake.
        LakeError: the lake cannot be read, or the file is not a notebook.
    """
    location = notebook_location(settings, session, run_id, transformation_id)
    return render(read_notebook(settings, location), location)


def notebook_location(
    settings: Settings, session: Session, run_id: int, transformation_id: int
) -> str:
    """Where the executed notebook of a task is stored.

    Raises:
        NotFoundError: no such run or task, or the task stored no notebook.
        LakeError: the recorded location is outside the lake.
    """
    query = select(TaskRun).where(
        TaskRun.run_event_id == run_id, TaskRun.transformation_id == transformation_id
    )
    row = session.scalars(query).one_or_none()
    if row is None:
        get_run(session, run_id)  # an unknown run is named as such
        known = ", ".join(map(str, sorted(task_runs(session, run_id)))) or "none"
        raise NotFoundError(
            f"run {run_id} has no task of transformation {transformation_id}; "
            f"transformations with a task in this run: {known}"
        )
    if not row.notebook_location:
        raise NotFoundError(
            f"the task of transformation {transformation_id} in run {run_id} ({row.state}) "
            "has no executed notebook: only notebook transformations store one, once they ran"
        )
    _check_in_lake(settings, row.notebook_location)
    return row.notebook_location


def _check_in_lake(settings: Settings, location: str) -> None:
    root = normalise_root(settings.require_lake_root())
    if not location.startswith(f"{root}/") or "/../" in location:
        raise LakeError(
            f"the recorded notebook location {location!r} is not inside the lake {root!r}; "
            "CORE reads notebooks only from its lake"
        )


def read_notebook(settings: Settings, location: str) -> bytes:
    """The bytes of a file in the lake.

    Raises:
        NotFoundError: there is no file there.
        LakeError: it cannot be read.
    """
    backend = backend_for(location)
    filesystem = backend.filesystem(settings)
    try:
        with filesystem.open_input_stream(backend.fs_path(location)) as stream:
            return stream.read()
    except FileNotFoundError as exc:
        raise NotFoundError(
            f"the executed notebook recorded at {location} is no longer in the lake"
        ) from exc
    except OSError as exc:
        raise LakeError(f"cannot read the executed notebook at {location}: {exc}") from exc


def render(data: bytes, location: str) -> str:
    """An executed notebook's bytes as HTML.

    Raises:
        LakeError: the bytes are not a notebook.
    """
    import nbformat  # nbconvert costs a second to import: only when a notebook is shown
    from nbconvert import HTMLExporter

    # A file that is not JSON, or JSON of another shape, fails in several ways; once
    # validated against the notebook schema, the exporter can render it.
    unreadable = (ValueError, TypeError, AttributeError, KeyError, nbformat.ValidationError)
    try:
        notebook: Any = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except unreadable as exc:
        raise LakeError(f"the file at {location} is not a Jupyter notebook: {exc}") from exc
    body, _resources = HTMLExporter().from_notebook_node(notebook)
    return body
