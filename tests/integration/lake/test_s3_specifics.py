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


def test_credentials_come_from_the_named_lake_secret(aws_env, monkeypatch) -> None:
    import uuid

    import boto3
    import pandas as pd

    from core.lake import DatasetContract
    from core.secret import set_secret
    from core.settings import load_settings

    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1").create_bucket(Bucket=bucket)
    monkeypatch.setenv("CORE_LAKE_ROOT", f"s3://{bucket}")
    monkeypatch.setenv("CORE_LAKE_SECRET", "lake")
    set_secret(
        "dev/s3/lake/read",
        {
            "bucket": bucket,
            "region": "us-east-1",
            "aws_access_key_id": "from-secret",
            "aws_secret_access_key": "from-secret",
        },
        load_settings(),
    )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    contract = DatasetContract("acme", "zentrix", "ingest", "d", settings=load_settings())
    assert contract.storage_options["AWS_ACCESS_KEY_ID"] == "from-secret"
    contract.publish(pd.DataFrame({"a": [1, 2]}), run_id=1)
    assert contract.fetch(run_id=1)["a"].tolist() == [1, 2]


def test_a_lake_secret_without_keys_is_a_clear_error(aws_env, monkeypatch) -> None:
    from core.errors import LakeError
    from core.lake import DatasetContract
    from core.secret import set_secret
    from core.settings import load_settings

    monkeypatch.setenv("CORE_LAKE_ROOT", "s3://somewhere")
    monkeypatch.setenv("CORE_LAKE_SECRET", "keyless")
    set_secret(
        "dev/s3/keyless/read", {"bucket": "somewhere", "region": "us-east-1"}, load_settings()
    )
    contract = DatasetContract("acme", "zentrix", "ingest", "d", settings=load_settings())
    with pytest.raises(LakeError, match="has no aws_access_key_id or aws_secret_access_key"):
        contract.storage_options  # noqa: B018
