"""PlanCache: the last good plan of every pipeline, on disk as JSON.

The DAG file saves the plans it built DAGs from, with the configuration's
fingerprint. The next parse uses them as they are while the fingerprint has not
changed (one query instead of four), and when the database is unreachable or a
pipeline cannot be built it falls back on them, so no DAG disappears.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.plan import PipelinePlan, TaskGroup, TaskSpec

log = logging.getLogger(__name__)
FILE_NAME = "plans.json"


PLAN_CODE = Path(__file__).resolve().parents[2] / "plan"


def plan_format() -> str:
    """The plan's JSON layout and the code that builds plans: a cache from others is ignored."""
    layout = ",".join(f.name for cls in (PipelinePlan, TaskGroup, TaskSpec) for f in fields(cls))
    digest = hashlib.sha256(layout.encode())
    for path in sorted(PLAN_CODE.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def plan_dict(plan: PipelinePlan) -> dict[str, Any]:
    """``plan.to_dict()``, built directly: ``asdict`` deep-copies and is ten times slower."""
    data = dict(vars(plan))
    data["groups"] = [
        {**vars(group), "tasks": [dict(vars(task)) for task in group.tasks]}
        for group in plan.groups
    ]
    return data


class PlanCache:
    """The last good plans, in ``directory/plans.json``.

    Args:
        directory: where the cache lives (the ``airflow_dag_cache`` setting).
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self.fingerprint: str | None = None
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {"fingerprint": None, "plans": {}}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return self._data
            except (OSError, ValueError) as exc:
                log.warning("CORE: ignoring the unreadable plan cache %s (%s)", self.path, exc)
                return self._data
            if data.get("format") == plan_format():
                self._data = data
        return self._data

    def plans_for(self, fingerprint: str) -> list[PipelinePlan] | None:
        """The cached plans if they were saved for this fingerprint, else None."""
        self.fingerprint = fingerprint
        data = self._load()
        if data["fingerprint"] != fingerprint:
            return None
        return self._plans(data["plans"].values())

    def last_good(self, only: str | None = None) -> list[PipelinePlan]:
        """Every last good plan (or only the named pipeline's), ordered by name."""
        plans = self._load()["plans"]
        return self._plans(p for name, p in plans.items() if only in (None, name))

    def last_good_plan(self, name: str) -> PipelinePlan | None:
        """The last good plan of one pipeline, or None."""
        data = self._load()["plans"].get(name)
        return None if data is None else PipelinePlan.from_dict(data)

    def save_good(self, plans: dict[str, PipelinePlan], clean: bool) -> None:
        """Keep these plans as the last good ones (atomically; failures are only logged).

        Args:
            plans: the plans the DAGs were built from, by pipeline name.
            clean: nothing went wrong: the fingerprint is saved, so the next parse may
                reuse the plans as they are; otherwise it reloads them from the database.
        """
        fingerprint = self.fingerprint if clean else None
        data = self._load()
        if data["fingerprint"] == fingerprint is not None and set(data["plans"]) == set(plans):
            return
        payload = {
            "format": plan_format(),
            "fingerprint": fingerprint,
            "plans": {name: plan_dict(plan) for name, plan in sorted(plans.items())},
        }
        try:
            write_atomically(self.path, json.dumps(payload, separators=(",", ":")).encode())
        except OSError as exc:
            log.warning("CORE: cannot save the plan cache %s (%s)", self.path, exc)
            return
        self._data = payload

    @staticmethod
    def _plans(items: Any) -> list[PipelinePlan]:
        plans = [PipelinePlan.from_dict(item) for item in items]
        return sorted(plans, key=lambda plan: plan.name)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never half of it.

    Args:
        path: the file to write (its folder is created if missing).
        data: the whole new content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(handle, "wb") as output:
            output.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
