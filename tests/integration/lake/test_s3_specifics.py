"""What only S3 has: keys below a bucket prefix, objects visible only once complete."""

from __future__ import annotations

import uuid

import boto3
import pandas as pd
import pytest

from core.lake import DatasetContract, RawContract
from core.settings import Settings, load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_settings(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=bucket)
    monkeypatch.setenv("CORE_LAKE_ROOT", f"s3://{bucket}/root")
    return load_settings()


def objects(settings: Settings, prefix: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=settings.aws_endpoint_url, region_name="us-east-1")
    bucket = (settings.lake_root or "").removeprefix("s3://").split("/")[0]
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_delta_table_lives_under_the_contract_key(s3_settings: Settings) -> None:
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=s3_settings)
    contract.publish(pd.DataFrame({"id": [1]}), run_id=4)
    keys = objects(s3_settings, contract.key + "/")
    assert f"{contract.key}/_delta_log/00000000000000000000.json" in keys
    assert any(k.startswith(f"{contract.key}/__metadata_run_id=4/") for k in keys)


def test_raw_files_are_plain_objects_with_a_sidecar(s3_settings: Settings) -> None:
    raw = RawContract("acme", "zentrix", "raw", settings=s3_settings)
    raw.put_file(b"a,b\n", "in/x.csv", source_modified_time=0)
    assert objects(s3_settings, raw.key + "/") == [
        f"{raw.key}/_core_meta/in/x.csv.json",
        f"{raw.key}/in/x.csv",
    ]
