"""Lake fixtures for integration tests: every contract test runs on a local lake and on S3.

The S3 lake is a fresh bucket on moto's server (the aws_env fixture), reached over
real HTTP by both deltalake (delta-rs) and pyarrow's S3 file system.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from core.settings import Settings, load_settings


@pytest.fixture(params=["local", "s3"])
def lake_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a local lake, then for an s3:// lake in a new moto bucket."""
    if request.param == "s3":
        endpoint = request.getfixturevalue("aws_env")
        bucket = f"lake-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=bucket
        )
        monkeypatch.setenv("CORE_LAKE_ROOT", f"s3://{bucket}/root")
    return load_settings()
