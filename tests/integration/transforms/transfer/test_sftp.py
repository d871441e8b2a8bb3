"""extract_from_sftp and publish_to_sftp against a real SFTP server on loopback."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import asyncssh
import pytest

from core.secret import set_secret
from core.settings import Settings, load_settings
from tests.integration.transforms.transfer.sftp_server import PASSWORD, SftpServer
from tests.unit.transforms.library.transfer_world import (
    expected_csv,
    make_world,
    raw,
    run_tasks,
)

pytestmark = pytest.mark.integration

BIG = os.urandom(400_000)


def extract_world(**variables: object) -> Settings:
    variables = {
        "secret_name": "hub",
        "remote_path": "/outgoing",
        "prefix": "enrollments",
        "backoff_seconds": 0.01,
        **variables,
    }
    transformation = {"template": "extract_from_sftp", "variables": variables}
    return make_world([{"state": "raw", "transformations": [transformation]}])


def publish_world(rows: int = 3000, **variables: object) -> Settings:
    variables = {
        "input": "patients",
        "secret_name": "hub",
        "remote_path": "/incoming",
        "file_pattern": "{dataset}_{run_id}.csv",
        "backoff_seconds": 0.01,
        **variables,
    }
    return make_world(
        [
            {
                "state": "ingest",
                "transformations": [{"template": "patients", "variables": {"rows": rows}}],
            },
            {
                "state": "dimensional",
                "transformations": [{"template": "publish_to_sftp", "variables": variables}],
            },
        ]
    )


def stored(settings: Settings, name: str, tmp_path: Path) -> bytes:
    return raw(settings, "extract_from_sftp").get_file(name, tmp_path).read_bytes()


def stored_names(settings: Settings) -> list[str]:
    return [f.name for f in raw(settings, "extract_from_sftp").list_files()]


@pytest.fixture
def outgoing(sftp_server: SftpServer) -> Path:
    folder = sftp_server.root / "outgoing"
    (folder / "enrollments_1.csv").write_text("id\n1\n")
    (folder / "enrollments_2.csv").write_text("id\n2\n")
    (folder / "other_1.csv").write_text("id\n3\n")
    (folder / ".enrollments_3.csv").write_text("still uploading")
    (folder / "enrollments_folder").mkdir()
    return folder


def test_new_files_are_downloaded_with_their_remote_time(
    sftp_secret: str, outgoing: Path, tmp_path: Path
) -> None:
    settings = extract_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert (task.rows_out, task.references["files_seen"]) == (2, 2)
    assert task.references["source"] == "/outgoing (SFTP secret all/SFTP/hub/read)"
    assert stored_names(settings) == ["enrollments_1.csv", "enrollments_2.csv"]
    assert stored(settings, "enrollments_2.csv", tmp_path) == b"id\n2\n"
    info = raw(settings, "extract_from_sftp").file_info("enrollments_1.csv")
    assert info.source_path == "/outgoing/enrollments_1.csv"
    remote_mtime = int((outgoing / "enrollments_1.csv").stat().st_mtime)
    assert info.source_modified_time.timestamp() == remote_mtime


def test_unchanged_files_are_skipped_and_changed_ones_downloaded(
    sftp_secret: str, outgoing: Path, tmp_path: Path
) -> None:
    settings = extract_world()
    run_tasks(settings)
    _, [again] = run_tasks(settings)
    assert (again.rows_out, again.references["files_skipped"]) == (0, 2)
    changed = outgoing / "enrollments_1.csv"
    later = changed.stat().st_mtime + 60
    changed.write_text("id\n11\n")
    os.utime(changed, (later, later))
    _, [third] = run_tasks(settings)
    assert (third.references["files_copied"], third.references["files_skipped"]) == (1, 1)
    assert stored(settings, "enrollments_1.csv", tmp_path) == b"id\n11\n"


def test_a_connection_dropped_mid_transfer_is_retried_and_no_truncated_file_kept(
    sftp_server: SftpServer, sftp_secret: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (sftp_server.root / "outgoing" / "enrollments_big.bin").write_bytes(BIG)
    sftp_server.faults.reads["enrollments_big"] = 1
    settings = extract_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert sftp_server.faults.dropped == 1
    assert len(sftp_server.logins) == 2
    assert stored(settings, "enrollments_big.bin", tmp_path) == BIG
    assert "retry 1 of 3" in caplog.text
    assert PASSWORD not in caplog.text


def test_a_connection_that_keeps_dropping_fails_and_stores_nothing(
    sftp_server: SftpServer, sftp_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (sftp_server.root / "outgoing" / "enrollments_big.bin").write_bytes(BIG)
    sftp_server.faults.reads["enrollments_big"] = 100
    settings = extract_world(retries=2)
    _, [task] = run_tasks(settings)
    assert (task.outcome.exit_code, task.state) == (1, "failed")
    assert "failed on 3 attempts" in (task.error or "")
    assert "'retries'" in (task.error or "")
    assert sftp_server.faults.dropped == 3
    assert stored_names(settings) == []
    assert (task.references["files_seen"], task.references["files_copied"]) == (1, 0)
    assert PASSWORD not in caplog.text + (task.error or "")


def test_a_refused_login_is_not_retried_and_names_the_secret(
    sftp_server: SftpServer, sftp_secret: str, outgoing: Path
) -> None:
    set_secret("all/SFTP/hub/read", {"password": "wrong-password"}, load_settings())
    settings = extract_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "'all/SFTP/hub/read' refused its user and password" in (task.error or "")
    assert "wrong-password" not in (task.error or "")
    assert len(sftp_server.logins) == 1


def test_a_different_host_key_is_refused(sftp_secret: str, outgoing: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()
    set_secret("all/SFTP/hub/read", {"host_key": other.strip()}, load_settings())
    settings = extract_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "differs from the secret's host_key" in (task.error or "")
    assert stored_names(settings) == []


def test_a_missing_remote_directory_names_the_variable(sftp_secret: str) -> None:
    settings = extract_world(remote_path="/nowhere")
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "variable 'remote_path'='/nowhere'" in (task.error or "")


def test_ftp_is_refused_with_the_fix(sftp_secret: str) -> None:
    settings = extract_world(secret_type="FTP")
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "variable 'secret_type'='FTP' is not supported" in (task.error or "")


def test_publish_uploads_the_csv_under_its_name(sftp_server: SftpServer, sftp_secret: str) -> None:
    settings = publish_world()
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    incoming = sftp_server.root / "incoming"
    assert [p.name for p in incoming.iterdir()] == [f"patients_{run_id}.csv"]
    assert (incoming / f"patients_{run_id}.csv").read_bytes() == expected_csv(settings, run_id)
    assert task.references["location"] == f"/incoming/patients_{run_id}.csv"
    assert task.references["secret"] == "all/SFTP/hub/write"
    assert (task.rows_in, task.rows_out) == (3000, 3000)


def test_publish_never_overwrites_a_remote_file(sftp_server: SftpServer, sftp_secret: str) -> None:
    incoming = sftp_server.root / "incoming"
    (incoming / "fixed.csv").write_text("keep me\n")
    settings = publish_world(file_pattern="fixed.csv")
    _, [_, task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "/incoming/fixed.csv already exists" in (task.error or "")
    assert [p.name for p in incoming.iterdir()] == ["fixed.csv"]
    assert (incoming / "fixed.csv").read_text() == "keep me\n"


def test_publish_retries_a_dropped_upload_and_leaves_no_temporary_file(
    sftp_server: SftpServer, sftp_secret: str
) -> None:
    sftp_server.faults.writes["patients"] = 1
    settings = publish_world(file_pattern="{dataset}.csv")
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert sftp_server.faults.dropped == 1
    incoming = sftp_server.root / "incoming"
    assert [p.name for p in incoming.iterdir()] == ["patients.csv"]
    assert (incoming / "patients.csv").read_bytes() == expected_csv(settings, run_id)


def test_a_secret_without_host_key_sends_no_password(
    sftp_secret: str, outgoing: Path, sftp_server
) -> None:
    set_secret("all/SFTP/hub/read", {"host_key": None}, load_settings())  # None removes it
    settings = extract_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "has no host_key, so the server cannot be verified" in (task.error or "")
    assert f'host_key = "{sftp_server.host_key.split()[0]}' in (task.error or "")
    assert sftp_server.logins == []
    assert stored_names(settings) == []
