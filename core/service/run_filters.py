"""Which runs a list shows: by pipeline, state, the days they started and who started them.

One filter serves the web UI, the REST API and ``core runs list``, so the three agree on
what "since", "until" and "started by" mean: days in UTC, both ends included; "started
by" matches a part of the starter's name, ignoring case ("alice" finds
``alice@example.com``; "schedule" finds the scheduled runs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func

from core.errors import InvalidInputError, did_you_mean
from core.models.runs import PERSON_LENGTH, RUN_STATES, RunEvent


@dataclass(frozen=True)
class RunFilter:
    """The runs wanted; a None field does not filter."""

    pipeline_id: int | None = None
    state: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    started_by: str | None = None

    def conditions(self) -> list[Any]:
        """The SQL conditions, after checking each field's meaning.

        Raises:
            InvalidInputError: an unknown state, ``since`` after ``until``, or a
                ``started_by`` longer than any starter's name.
        """
        problems = self._problems()
        if problems:
            raise InvalidInputError(problems)
        conditions: list[Any] = []
        if self.pipeline_id is not None:
            conditions.append(RunEvent.pipeline_id == self.pipeline_id)
        if self.state:
            conditions.append(RunEvent.state == self.state)
        if self.since is not None:
            conditions.append(RunEvent.started_at >= _midnight(self.since))
        if self.until is not None:
            conditions.append(RunEvent.started_at < _midnight(self.until + dt.timedelta(days=1)))
        if self.started_by:
            part = self.started_by.strip().lower()
            conditions.append(func.lower(RunEvent.triggered_by).contains(part, autoescape=True))
        return conditions

    def _problems(self) -> list[tuple[str, Any, str]]:
        problems: list[tuple[str, Any, str]] = []
        if self.state and self.state not in RUN_STATES:
            message = f"expected one of {', '.join(RUN_STATES)}." + did_you_mean(
                self.state, RUN_STATES
            )
            problems.append(("state", self.state, message))
        if self.since and self.until and self.since > self.until:
            problems.append(
                (
                    "until",
                    self.until.isoformat(),
                    f"expected a day on or after since ({self.since.isoformat()}); "
                    "swap the two days.",
                )
            )
        if self.started_by and len(self.started_by) > PERSON_LENGTH:
            problems.append(
                (
                    "started_by",
                    self.started_by[:40] + "…",
                    f"expected at most {PERSON_LENGTH} characters (a part of a name or email).",
                )
            )
        return problems


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
