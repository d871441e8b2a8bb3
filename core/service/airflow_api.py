"""Airflow 3's REST API, as far as CORE uses it: trigger, clear and fail DAG runs.

CORE signs in with ``POST {url}/auth/token`` and the ``username`` and ``password`` of
the secret ``CORE_AIRFLOW_SECRET`` names; without one it asks ``GET {url}/auth/token``,
which Airflow's simple auth manager answers when every user is an admin (as in the
dev docker-compose). The token then authorises ``POST {url}/api/v2/dags/{dag}/dagRuns``.
Nothing here imports Airflow: this is an HTTP client of its api-server.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from core.errors import OrchestratorError, SecretError
from core.settings import Settings

TIMEOUT_SECONDS = 30.0
# The secret is read as {env}/airflow/{CORE_AIRFLOW_SECRET}/read (docs/secrets.md).
SECRET_TYPE = "airflow"  # noqa: S105 - a secret type, not a password
SECRET_MODE = "read"  # noqa: S105 - an access mode
DETAIL_LIMIT = 500


def trigger_dag_run(settings: Settings, dag_id: str, triggered_by: str) -> str:
    """Ask Airflow to run a DAG now.

    Args:
        settings: CORE's settings (``airflow_api_url``, ``airflow_secret``).
        dag_id: the DAG, i.e. the pipeline's name.
        triggered_by: who asked; passed in the DAG run's conf.

    Returns:
        Airflow's ``dag_run_id`` of the new DAG run.

    Raises:
        OrchestratorError: Airflow is unreachable or answered with an error (its URL,
            status and detail are in the message).
        SecretNotFoundError, SecretError: the Airflow secret is missing or incomplete.
    """
    base = (settings.airflow_api_url or "").rstrip("/")
    url = f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns"
    body = {"logical_date": None, "conf": {"triggered_by": triggered_by}}
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        headers = {"Authorization": f"Bearer {_token(client, base, settings)}"}
        answer = _call(client, "POST", url, json=body, headers=headers)
    if not answer.get("dag_run_id"):
        raise OrchestratorError(f"Airflow accepted POST {url} but returned no dag_run_id")
    return str(answer["dag_run_id"])


def clear_failed_tasks(settings: Settings, dag_id: str, dag_run_id: str) -> list[str]:
    """Clear a DAG run's failed tasks and everything downstream of them, EndRun included.

    What Airflow's "Clear" with *Downstream* and *Only failed* does: the failed and
    upstream_failed tasks are cleared, the DAG run is queued again, and the scheduler
    runs them; RunEvent, which succeeded, keeps the run id in its XCom.

    Returns:
        The ids of the tasks Airflow cleared.

    Raises:
        OrchestratorError: Airflow is unreachable, answered with an error, or cleared
            nothing (the DAG run has no failed task).
    """
    return _clear(settings, dag_id, dag_run_id, {"only_failed": True}, "failed tasks")


def clear_task(settings: Settings, dag_id: str, dag_run_id: str, task_id: str) -> list[str]:
    """Clear one task of a DAG run and everything downstream of it, whatever their state.

    What Airflow's "Clear" with *Downstream* does on one task instance: it and its
    downstream tasks (EndRun included) run again in the same DAG run.

    Returns:
        The ids of the tasks Airflow cleared.

    Raises:
        OrchestratorError: Airflow is unreachable, answered with an error, or cleared
            nothing (no such task in the DAG run).
    """
    fields = {"only_failed": False, "task_ids": [task_id]}
    return _clear(settings, dag_id, dag_run_id, fields, f"task {task_id!r}")


def fail_dag_run(settings: Settings, dag_id: str, dag_run_id: str) -> None:
    """Mark a DAG run failed: Airflow stops its running tasks (SIGTERM to their workers).

    Raises:
        OrchestratorError: Airflow is unreachable or answered with an error.
    """
    base = (settings.airflow_api_url or "").rstrip("/")
    url = f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}"
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        headers = {"Authorization": f"Bearer {_token(client, base, settings)}"}
        _call(client, "PATCH", url, json={"state": "failed"}, headers=headers)


def _clear(
    settings: Settings, dag_id: str, dag_run_id: str, fields: dict[str, Any], what: str
) -> list[str]:
    base = (settings.airflow_api_url or "").rstrip("/")
    url = f"{base}/api/v2/dags/{quote(dag_id, safe='')}/clearTaskInstances"
    body = {
        "dry_run": False,
        "dag_run_id": dag_run_id,
        "include_downstream": True,
        "reset_dag_runs": True,
        **fields,
    }
    with httpx.Client(timeout=TIMEOUT_SECONDS) as client:
        headers = {"Authorization": f"Bearer {_token(client, base, settings)}"}
        answer = _call(client, "POST", url, json=body, headers=headers)
    cleared = [str(t.get("task_id")) for t in answer.get("task_instances") or []]
    if not cleared:
        raise OrchestratorError(
            f"Airflow cleared no task of DAG run {dag_run_id!r} of {dag_id!r} (POST {url}): "
            f"expected {what} to clear; see the DAG run in Airflow"
        )
    return cleared


def _token(client: httpx.Client, base: str, settings: Settings) -> str:
    url = f"{base}/auth/token"
    if settings.airflow_secret:
        answer = _call(client, "POST", url, json=_credentials(settings))
    else:
        answer = _call(client, "GET", url)
    token = answer.get("access_token")
    if not token:
        raise OrchestratorError(f"Airflow's {url} answered without an access_token")
    return str(token)


def _credentials(settings: Settings) -> dict[str, str]:
    from core.secret import Secret  # reads the secrets backend: only when configured

    secret = Secret(
        name=settings.airflow_secret,
        type_of=SECRET_TYPE,
        mode=SECRET_MODE,
        env=settings.environment,
        settings=settings,
    )
    values = secret.to_dict()
    missing = [key for key in ("username", "password") if not values.get(key)]
    if missing:
        raise SecretError(
            f"secret {secret.identifier!r} (CORE_AIRFLOW_SECRET) has no {' or '.join(missing)}; "
            "expected the username and password of an Airflow user allowed to trigger DAG runs"
        )
    return {"username": str(values["username"]), "password": str(values["password"])}


def _call(client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise OrchestratorError(
            f"cannot reach Airflow's REST API at {url}: {exc}; check CORE_AIRFLOW_API_URL "
            "and that Airflow's api-server is running"
        ) from exc
    if response.is_error:
        raise OrchestratorError(
            f"Airflow refused {method} {url}: HTTP {response.status_code}: {_detail(response)}"
        )
    try:
        answer = response.json()
    except ValueError as exc:
        raise OrchestratorError(
            f"Airflow answered {method} {url} with HTTP {response.status_code} but not JSON: "
            f"{response.text[:DETAIL_LIMIT]!r}"
        ) from exc
    return answer if isinstance(answer, dict) else {}


def _detail(response: httpx.Response) -> str:
    """Airflow's explanation: the ``detail`` of its JSON error, else the body's start."""
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return text[:DETAIL_LIMIT] or response.reason_phrase
