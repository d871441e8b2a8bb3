"""Rules for the names users give things, checked wherever a name enters CORE.

Two rules matter: a pipeline name becomes an Airflow dag id, and the names of
companies, brands, states and templates become parts of data-lake paths (S3
keys and Athena table names), so they must be safe there.
"""

from __future__ import annotations

import datetime as dt
import re

from core.errors import InvalidNameError

# Patterns are used with fullmatch: "$" alone would let a trailing line break through.
DAG_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
DAG_ID_MAX_LENGTH = 250
# What validate_dag_id allows, in words: its message and the new-pipeline form's help.
DAG_ID_RULE = f"1 to {DAG_ID_MAX_LENGTH} letters, digits, '_', '.' or '-' (no spaces)"
PATH_PART_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
PATH_PART_MAX_LENGTH = 100
LABEL_MAX_LENGTH = 200
PRESET_FREQUENCIES = ("none", "hourly", "daily", "weekly", "monthly", "yearly")
CRON_FIELDS = 5
# name@domain.tld in plain ASCII: no spaces, line breaks, commas or angle brackets, so
# an address can go into a mail header as it is.
EMAIL_PATTERN = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)
EMAIL_MAX_LENGTH = 254
EMAIL_LIST_MAX_LENGTH = 50


def validate_dag_id(value: object, field: str) -> str:
    """Check that a value can be an Airflow dag id.

    Args:
        value: the proposed name.
        field: what the name is, for the message (e.g. "pipeline name").

    Returns:
        The value, unchanged.

    Raises:
        InvalidNameError: the value is not a string of letters, digits, '_', '.', '-'.
    """
    text = _as_text(value, field)
    if len(text) > DAG_ID_MAX_LENGTH or not DAG_ID_PATTERN.fullmatch(text):
        raise InvalidNameError(
            f"{field} {text!r} is not a valid Airflow dag id: expected {DAG_ID_RULE}"
        )
    return text


def validate_path_part(value: object, field: str) -> str:
    """Check that a value can be one part of a data-lake path.

    Args:
        value: the proposed name.
        field: what the name is, for the message (e.g. "brand name").

    Returns:
        The value, unchanged.

    Raises:
        InvalidNameError: the value is not lower-case letters, digits, '_' or '-'.
    """
    text = _as_text(value, field)
    if len(text) > PATH_PART_MAX_LENGTH or not PATH_PART_PATTERN.fullmatch(text):
        hint = f" (did you mean {_suggest_part(text)!r}?)" if _suggest_part(text) else ""
        raise InvalidNameError(
            f"{field} {text!r} is not valid in a data-lake path: expected 1 to "
            f"{PATH_PART_MAX_LENGTH} lower-case letters, digits, '_' or '-', "
            f"starting with a letter or digit{hint}"
        )
    return text


def validate_label(value: object, field: str) -> str:
    """Check a free-text name (segment, pipeline type, tag): not blank, not too long.

    Raises:
        InvalidNameError: the value is blank or longer than LABEL_MAX_LENGTH.
    """
    text = _as_text(value, field)
    if len(text) > LABEL_MAX_LENGTH or text != text.strip():
        raise InvalidNameError(
            f"{field} {text!r} is not valid: expected 1 to {LABEL_MAX_LENGTH} characters "
            "without leading or trailing spaces"
        )
    return text


# Airflow's names for the preset frequencies ("none": not scheduled).
PRESET_SCHEDULES = {
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "yearly": "@yearly",
}

PRESET_WORDS = {
    "hourly": "every hour, on the hour (UTC)",
    "daily": "every day at 00:00 UTC",
    "weekly": "every Sunday at 00:00 UTC",
    "monthly": "on the 1st of every month at 00:00 UTC",
    "yearly": "on 1 January at 00:00 UTC",
}


def schedule_for(run_frequency: str) -> str | None:
    """Airflow's schedule for a pipeline's run_frequency.

    Args:
        run_frequency: none, hourly, daily, weekly, monthly, yearly or a cron expression.

    Returns:
        None for ``none``, an ``@preset`` for the named frequencies, else the cron string.
    """
    if run_frequency == "none":
        return None
    return PRESET_SCHEDULES.get(run_frequency, run_frequency)


def next_fire_times(run_frequency: str, after: dt.datetime, count: int = 3) -> list[dt.datetime]:
    """When a valid schedule next fires after ``after`` (UTC, as Airflow reads cron): none
    for ``none``."""
    schedule = schedule_for(run_frequency)
    if schedule is None:
        return []
    from croniter import croniter

    fires = croniter(schedule, after)
    return [fires.get_next(dt.datetime) for _ in range(count)]


def describe_frequency(run_frequency: str) -> str:
    """A valid schedule in words: "At 06:00 AM, Monday through Friday", "not scheduled"."""
    schedule = schedule_for(run_frequency)
    if schedule is None:
        return "not scheduled: runs start by hand, or when its datasets are published"
    if schedule.startswith("@"):
        return PRESET_WORDS[run_frequency]
    from cron_descriptor import get_description

    return f"{get_description(schedule)} (UTC)"


def validate_run_frequency(value: object, field: str = "run_frequency") -> str:
    """Check a schedule: a preset name or a five-field cron expression.

    Raises:
        InvalidNameError: neither a preset nor a valid cron expression.
    """
    text = _as_text(value, field)
    if text in PRESET_FREQUENCIES:
        return text
    if text == text.strip() and _is_cron(text):
        if _fires(text):
            return text
        raise InvalidNameError(
            f"{field} {text!r} never fires (no such date, e.g. 31 February): expected a "
            "cron expression that matches a real date, such as '0 6 28 2 *'"
        )
    raise InvalidNameError(
        f"{field} {text!r} is not a schedule: expected one of {', '.join(PRESET_FREQUENCIES)} "
        "or a five-field cron expression (minute hour day month weekday) such as '0 6 * * 1-5'"
    )


def _is_cron(text: str) -> bool:
    # Imported here: croniter's import asks `file` about the interpreter (a subprocess),
    # 30-50 ms that every process loading the models paid, workers included.
    from croniter import croniter

    # croniter also takes a sixth (seconds) and seventh (year) field, which Airflow does
    # not: '* * * * * *' would be a DAG scheduled every second.
    if text.startswith("@"):
        return croniter.is_valid(text)
    return len(text.split()) == CRON_FIELDS and croniter.is_valid(text)


def _fires(text: str) -> bool:
    # croniter gives up (CroniterBadDateError) when no date matches within decades.
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(text, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except CroniterBadDateError:
        return False
    return True


def validate_email(value: object, field: str) -> str:
    """Check an email address: ``name@domain.tld``, ASCII, at most EMAIL_MAX_LENGTH characters.

    Args:
        value: the proposed address.
        field: what the address is, for the message (e.g. "pipeline 'x' owner").

    Returns:
        The value, unchanged.

    Raises:
        InvalidNameError: the value is not such an address.
    """
    text = _as_text(value, field)
    if len(text) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(text):
        raise InvalidNameError(
            f"{field} {text!r} is not a valid email address: expected name@domain, e.g. "
            f"ana@example.com (ASCII, no spaces, at most {EMAIL_MAX_LENGTH} characters)"
        )
    return text


def validate_email_list(value: object, field: str) -> list[str]:
    """Check a list of email addresses; repeats (ignoring case) are dropped.

    Args:
        value: the proposed list.
        field: what the list is, for the message (e.g. "pipeline 'x' owners").

    Returns:
        The addresses in their given order, each once.

    Raises:
        InvalidNameError: the value is not a list, is too long, or holds a bad address.
    """
    if not isinstance(value, list | tuple) or len(value) > EMAIL_LIST_MAX_LENGTH:
        raise InvalidNameError(
            f"{field} {value!r} is not valid: expected a list of at most "
            f"{EMAIL_LIST_MAX_LENGTH} email addresses, e.g. ['ana@example.com']"
        )
    seen: dict[str, str] = {}
    for item in value:
        seen.setdefault(validate_email(item, f"{field}: address").lower(), item)
    return list(seen.values())


def _as_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidNameError(f"{field} {value!r} is not valid: expected a non-empty string")
    return value


def _suggest_part(text: str) -> str:
    suggestion = re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_-")
    return suggestion if suggestion and suggestion != text else ""
