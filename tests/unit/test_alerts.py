"""Failure alerts against a real SMTP server (aiosmtpd) and a local HTTP receiver."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from core.alerts import AlertResult, notify_failure
from core.database.seed import sample_world
from core.errors import ConfigurationError
from core.helpers.session_helper import SessionHelper
from core.models.configuration import Pipeline
from core.plan import load_plan
from core.runner.local import LocalRunner
from core.runs import begin_task, end_task, finish_run, mark_tasks, start_run
from core.settings import Settings
from tests.support.alerts import (
    OWNERS,
    SMTP_PASSWORD,
    SMTP_USER,
    Mailbox,
    Receiver,
    configure_alerts,
    free_port,
    http_receiver,
    smtp_server,
)

# The test server requires AUTH without TLS on loopback, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
ERROR = "ValueError: the source had no header row"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture
def alerting(world, mailbox: Mailbox, receiver: Receiver, monkeypatch) -> Settings:
    """Both channels configured; the ``failing`` pipeline has two owners."""
    return configure_alerts(monkeypatch, mailbox.port, receiver.url, OWNERS)


def _failed_run(settings: Settings) -> int:
    """A failed run of ``failing``, recorded as a runner would, without running workers."""
    with SessionHelper(settings, actor="test") as session:
        plan = load_plan(session, "failing")
        run_id = start_run(session, plan, "ana@example.com").id
        tasks = {task.template: task for task in plan.tasks}
        numbers = begin_task(session, run_id, tasks["numbers"].transformation_id)
        end_task(session, numbers, "success")
        broken = begin_task(session, run_id, tasks["broken"].transformation_id)
        end_task(session, broken, "failed", error_summary=ERROR)
        later = [tasks["doubled"].transformation_id, tasks["noop"].transformation_id]
        mark_tasks(session, run_id, later, "upstream_failed")
        finish_run(session, run_id, failed=True)
    return run_id


def _notify(settings: Settings, run_id: int) -> list[AlertResult]:
    with SessionHelper(settings) as session:
        return notify_failure(settings, session, run_id)


def _statuses(results: list[AlertResult]) -> dict[str, str]:
    return {result.channel: result.status for result in results}


def _assert_no_secret(*texts: str, url: str) -> None:
    for text in texts:
        assert SMTP_PASSWORD not in text
        assert url not in text and "/hooks/T0/B0/token" not in text


def test_a_failed_run_mails_each_owner_once_and_posts_to_the_webhook(
    alerting: Settings, mailbox: Mailbox, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    report = LocalRunner(alerting, sleep=lambda _: None).run("failing")
    assert report.failed
    [mail] = mailbox.mails
    assert sorted(mail.rcpt_tos) == OWNERS and mail.mail_from == SMTP_USER
    assert mail.message["Subject"] == f"CORE: run {report.run_id} of pipeline failing failed"
    [text] = receiver.texts()
    assert receiver.posts[0]["headers"]["Content-Type"] == "application/json"
    broken = next(task for task in report.tasks if "broken" in task.task_id)
    for body in (mail.body, text):
        assert f"Run {report.run_id} of pipeline failing failed." in body
        assert "Triggered by: core run" in body
        assert f"- {broken.task_id} (attempt 2, " in body and ERROR in body
        assert "Not run because of the failure: master_doubled_" in body
        assert f"core run failing --resume {report.run_id}" in body
    _assert_no_secret(mail.body, text, caplog.text, url=receiver.url)


def test_a_run_stopped_by_a_check_alerts_with_the_check_and_its_failing_rows(
    world, receiver: Receiver, monkeypatch
) -> None:
    from core.service.checks import DATASET_CHECKS
    from core.service.resources import create_row

    settings = configure_alerts(monkeypatch, None, receiver.url, owners=None)
    with SessionHelper(settings, actor="test") as session:
        doubled = next(t for t in load_plan(session, "small").tasks if t.template == "doubled")
        values = {"transformation_id": doubled.transformation_id, "kind": "range"}
        check = create_row(
            session, DATASET_CHECKS, {**values, "arguments": {"column": "n", "max": 5}}
        )
        check_id = check.id
    report = LocalRunner(settings, sleep=lambda _: None).run("small")
    assert report.failed
    [text] = receiver.texts()
    assert f"- {doubled.task_id} (attempt 1, " in text
    assert f'check {check_id} range(column="n", max=5) failed on 2 row(s)' in text
    assert '"n": 6' in text and '"n": 8' in text  # examples of the failing rows
    assert "nothing was published to master/doubled" in text
    assert f"core run small --resume {report.run_id}" in text


def test_a_successful_run_sends_nothing(
    alerting: Settings, mailbox: Mailbox, receiver: Receiver
) -> None:
    assert LocalRunner(alerting).run("small").state == "success"
    assert mailbox.mails == [] and receiver.posts == []


def test_an_unreachable_smtp_server_is_logged_and_the_webhook_still_posts(
    world, receiver: Receiver, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = configure_alerts(monkeypatch, free_port(), receiver.url, OWNERS)
    results = _notify(settings, _failed_run(settings))
    assert _statuses(results) == {"email": "failed", "webhook": "sent"}
    assert "ConnectionRefusedError" in results[0].detail
    assert "'dev/email/alerts/read'" in results[0].detail
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "core.alerts" and "email failed" in warning.getMessage()
    assert len(receiver.texts()) == 1


def test_a_webhook_answering_500_is_logged_and_the_owners_are_still_mailed(
    alerting: Settings, mailbox: Mailbox, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 500
    results = _notify(alerting, _failed_run(alerting))
    assert _statuses(results) == {"email": "sent", "webhook": "failed"}
    assert "answered HTTP 500" in results[1].detail
    assert "mailed 2 of 2 owners" in results[0].detail
    assert "webhook failed" in caplog.text and len(mailbox.mails) == 1


def test_no_secret_value_reaches_the_message_the_logs_or_the_results(
    world, mailbox: Mailbox, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A webhook nobody listens on (its URL in the errors of urllib), and a refused login.
    url = f"http://127.0.0.1:{free_port()}/hooks/T0/B0/token"
    settings = configure_alerts(monkeypatch, mailbox.port, url, OWNERS)
    from core.secret import set_secret

    set_secret("dev/email/alerts/read", {"username": SMTP_PASSWORD}, settings)  # a bad login
    results = _notify(settings, _failed_run(settings))
    assert _statuses(results) == {"email": "failed", "webhook": "failed"}
    assert "SMTPAuthenticationError" in results[0].detail
    assert "could not be reached" in results[1].detail
    details = [result.detail for result in results]
    _assert_no_secret(*details, caplog.text, repr(results), url=url)


def test_a_pipeline_without_owners_is_not_mailed_and_says_so(
    world, mailbox: Mailbox, receiver: Receiver, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="core.alerts")
    settings = configure_alerts(monkeypatch, mailbox.port, receiver.url, owners=[])
    results = _notify(settings, _failed_run(settings))
    assert _statuses(results) == {"email": "skipped", "webhook": "sent"}
    assert "pipeline 'failing' has no owners" in caplog.text
    assert mailbox.mails == [] and len(receiver.posts) == 1


def test_nothing_configured_sends_nothing(world) -> None:
    assert _notify(world, _failed_run(world)) == []


def test_a_missing_secret_is_a_failed_result_naming_the_identifier(
    world, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setenv("CORE_ALERT_EMAIL_SECRET", "nowhere")
    settings = configure_alerts(monkeypatch, None, receiver.url, OWNERS)
    results = _notify(settings, _failed_run(settings))
    assert _statuses(results) == {"email": "failed", "webhook": "sent"}
    assert "'dev/email/nowhere/read'" in results[0].detail


def test_owners_are_checked_as_they_are_set() -> None:
    pipeline = Pipeline(name="p1", owners=["ana@example.com", "ANA@example.com", "bo@ex.org"])
    assert pipeline.owners == ["ana@example.com", "bo@ex.org"]  # a repeat is dropped
    with pytest.raises(ConfigurationError) as caught:
        pipeline.owners = ["ana@example.com", "ana at example"]
    message = str(caught.value)
    assert "pipeline 'p1' owners" in message and "'ana at example'" in message
    assert "expected name@domain" in message
    with pytest.raises(ConfigurationError, match="expected a list of at most 50 email"):
        pipeline.owners = "ana@example.com"
    with pytest.raises(ConfigurationError, match="not a valid email address"):
        pipeline.owners = ["ana@example.com\nBcc: eve@example.com"]


def test_the_sample_world_gives_its_pipelines_owners() -> None:
    assert all(pipeline.owners for pipeline in sample_world().pipelines)
