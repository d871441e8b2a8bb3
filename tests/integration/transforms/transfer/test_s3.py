"""extract_from_landing from an s3:// prefix and publish_to_s3 to one, on moto's server."""

from __future__ import annotations

import gzip
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from core.settings import Settings
from tests.unit.transforms.library.transfer_world import (
    expected_csv,
    make_world,
    raw,
    run_tasks,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(aws_env: str) -> Any:
    return boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, whose landing/ and outbox/ prefixes are the allowed roots."""
    name = f"transfer-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("CORE_LANDING_ROOTS", f"s3://{name}/landing")
    monkeypatch.setenv("CORE_EXPORT_ROOTS", f"s3://{name}/outbox")
    return name


def landing_world(source: str, **variables: object) -> Settings:
    variables = {"source": source, **variables}
    transformation = {"template": "extract_from_landing", "variables": variables}
    return make_world([{"state": "raw", "transformations": [transformation]}])


def test_landing_copies_new_and_changed_objects(s3: Any, bucket: str, tmp_path: Path) -> None:
    for key, body in [("a.csv", b"a\n1\n"), ("b.csv", b"b\n2\n"), ("c.txt", b"c")]:
        s3.put_object(Bucket=bucket, Key=f"landing/acme/zentrix/{key}", Body=body)
    settings = landing_world(f"s3://{bucket}/landing/acme/zentrix/", suffix=".csv")
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert (task.rows_out, task.references["files_seen"]) == (2, 2)
    stored = raw(settings)
    assert [f.name for f in stored.list_files()] == ["a.csv", "b.csv"]
    assert stored.file_info("a.csv").source_path == f"s3://{bucket}/landing/acme/zentrix/a.csv"
    assert stored.get_file("b.csv", tmp_path).read_bytes() == b"b\n2\n"
    _, [again] = run_tasks(settings)
    assert (again.rows_out, again.references["files_skipped"]) == (0, 2)
    time.sleep(1.1)  # S3 modification times have a resolution of one second
    s3.put_object(Bucket=bucket, Key="landing/acme/zentrix/a.csv", Body=b"a\n11\n")
    _, [third] = run_tasks(settings)
    assert (third.rows_out, third.references["files_skipped"]) == (1, 1)
    assert stored.get_file("a.csv", tmp_path).read_bytes() == b"a\n11\n"


def test_landing_from_an_empty_prefix_names_the_variable(bucket: str) -> None:
    settings = landing_world(f"s3://{bucket}/landing/acme/zentrix/nothing")
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert f"variable 'source'='s3://{bucket}/landing/acme/zentrix/nothing'" in (task.error or "")


def publish_world(destination: str, **variables: object) -> Settings:
    variables = {
        "input": "patients",
        "destination": destination,
        "file_pattern": "out.csv",
        **variables,
    }
    return make_world(
        [
            {"state": "ingest", "transformations": [{"template": "patients"}]},
            {
                "state": "dimensional",
                "transformations": [{"template": "publish_to_s3", "variables": variables}],
            },
        ]
    )


def test_publish_puts_one_object_and_never_overwrites_it(s3: Any, bucket: str) -> None:
    settings = publish_world(f"s3://{bucket}/outbox/acme/zentrix")
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert task.references["location"] == f"s3://{bucket}/outbox/acme/zentrix/out.csv"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="outbox/")
    assert [o["Key"] for o in listing["Contents"]] == ["outbox/acme/zentrix/out.csv"]
    body = s3.get_object(Bucket=bucket, Key="outbox/acme/zentrix/out.csv")["Body"].read()
    assert body == expected_csv(settings, run_id)
    _, [_, again] = run_tasks(settings)
    assert again.outcome.exit_code == 2
    assert f"s3://{bucket}/outbox/acme/zentrix/out.csv already exists" in (again.error or "")
    assert s3.get_object(Bucket=bucket, Key="outbox/acme/zentrix/out.csv")["Body"].read() == body


def test_gzip_files_travel_as_they_are(s3: Any, bucket: str, tmp_path: Path) -> None:
    packed = gzip.compress(b"a\n1\n")
    s3.put_object(Bucket=bucket, Key="landing/acme/zentrix/a.csv.gz", Body=packed)
    settings = landing_world(f"s3://{bucket}/landing/acme/zentrix")
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert raw(settings).get_file("a.csv.gz", tmp_path).read_bytes() == packed


def test_a_gzip_export_is_compressed_once(s3: Any, bucket: str) -> None:
    settings = publish_world(f"s3://{bucket}/outbox/acme/zentrix", gzip=True)
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    body = s3.get_object(Bucket=bucket, Key="outbox/acme/zentrix/out.csv.gz")["Body"].read()
    assert gzip.decompress(body) == expected_csv(settings, run_id)
    assert task.references["bytes"] == len(body)
