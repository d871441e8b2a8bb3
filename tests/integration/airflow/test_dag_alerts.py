"""The failure alert of a DAG run: sent by EndRun, like the local runner's."""

import pytest

from core.airflow.dagbuilder.dag_builder import DagBuilder
from tests.support.alerts import OWNERS, configure_alerts, http_receiver, smtp_server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]


def test_end_run_of_a_failed_dag_run_sends_the_alert(airflow_db, world, monkeypatch) -> None:
    with smtp_server() as mailbox, http_receiver() as receiver:
        settings = configure_alerts(monkeypatch, mailbox.port, receiver.url, OWNERS)
        assert DagBuilder(settings).do_build_dags()["failing"].test().state == "failed"
    [mail] = mailbox.mails
    [text] = receiver.texts()
    assert sorted(mail.rcpt_tos) == OWNERS
    for body in (mail.body, text):
        assert "Triggered by: airflow dags test" in body and "ingest_broken_" in body
        assert "ValueError: the source had no header row" in body
        assert "core run failing --resume " in body
