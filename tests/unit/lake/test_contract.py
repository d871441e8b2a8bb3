"""Contract addressing, validation and the storage registry (no I/O)."""

from __future__ import annotations

import pytest

from core.errors import ContractError, LakeError
from core.lake import DatasetContract, RawContract
from core.lake.contract import Contract
from core.lake.storage import BACKENDS, LOCAL, S3, backend_for
from core.settings import Settings, load_settings


def s3_settings(**extra: str) -> Settings:
    return load_settings({"CORE_HOME": "/tmp/h", "CORE_LAKE_ROOT": "s3://my-bucket/lake", **extra})


def test_local_addressing(lake_settings: Settings) -> None:
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)
    assert contract.key == "dev/acme/zentrix/ingest/sales"
    assert contract.uri == f"{lake_settings.home / 'lake'}/dev/acme/zentrix/ingest/sales"
    assert contract.path == contract.uri
    assert contract.bucket is None
    assert contract.contract_type == "dataset"


def test_s3_addressing_keeps_the_root_prefix_in_the_key() -> None:
    contract = DatasetContract("acme", "zentrix", "master", "sales", settings=s3_settings())
    assert contract.bucket == "my-bucket"
    assert contract.key == "lake/dev/acme/zentrix/master/sales"
    assert contract.uri == "s3://my-bucket/lake/dev/acme/zentrix/master/sales"
    assert contract.path == "my-bucket/lake/dev/acme/zentrix/master/sales"


def test_aliases_customer_and_brand(lake_settings: Settings) -> None:
    contract = DatasetContract(
        customer="acme", brand="zentrix", state="ingest", dataset="d", settings=lake_settings
    )
    assert (contract.parent, contract.child) == ("acme", "zentrix")
    assert (contract.customer, contract.brand) == ("acme", "zentrix")


def test_alias_disagreeing_with_part_is_refused(lake_settings: Settings) -> None:
    with pytest.raises(ContractError, match="parent 'acme' and customer 'other' disagree"):
        Contract("acme", "zentrix", "ingest", "d", customer="other", settings=lake_settings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parent": "Acme"}, "parent \\(company\\) 'Acme'"),
        ({"child": "zen/trix"}, "child \\(brand\\) 'zen/trix'"),
        ({"dataset": ".."}, "dataset '\\.\\.'"),
        ({"dataset": " "}, "dataset ' '"),
        ({"dataset": ""}, "dataset ''"),
        ({"dataset": "sales data"}, "dataset 'sales data'"),
        ({"dataset": "sales.csv"}, "dataset 'sales.csv'"),
        ({"dataset": "x" * 101}, "dataset 'xxx"),
        ({"state": "bronze"}, "state 'bronze' is not a lake state"),
        ({"branch": "Feature"}, "branch 'Feature'"),
        ({"dataset": None}, "dataset None"),
    ],
)
def test_invalid_parts_name_the_part_and_value(
    lake_settings: Settings, kwargs: dict[str, str], message: str
) -> None:
    parts = {"parent": "acme", "child": "zentrix", "state": "ingest", "dataset": "sales"}
    with pytest.raises(ContractError, match=message):
        DatasetContract(**{**parts, **kwargs}, settings=lake_settings)


@pytest.mark.parametrize("branch", ["master", "test", "uat", "prod"])
def test_protected_branches_are_refused_in_dev(lake_settings: Settings, branch: str) -> None:
    assert lake_settings.environment == "dev"
    with pytest.raises(ContractError, match=f"branch '{branch}' is protected"):
        DatasetContract("acme", "zentrix", "ingest", "d", branch=branch, settings=lake_settings)


def test_protected_branch_is_allowed_outside_dev() -> None:
    settings = load_settings({"CORE_HOME": "/tmp/h", "CORE_ENVIRONMENT": "test"})
    contract = DatasetContract("acme", "zentrix", "ingest", "d", settings=settings)
    assert contract.branch == "test"
    prod = s3_settings(CORE_ENVIRONMENT="prod")
    assert DatasetContract("acme", "zentrix", "ingest", "d", settings=prod).branch == "master"


def test_states_are_ordered(lake_settings: Settings) -> None:
    raw = RawContract("acme", "zentrix", "raw", settings=lake_settings)
    assert (raw.previous_state, raw.next_state, raw.contract_type) == (None, "ingest", "raw")
    last = DatasetContract("acme", "zentrix", "dimensional", "d", settings=lake_settings)
    assert (last.previous_state, last.next_state) == ("metrics", None)


def test_raw_contract_refuses_other_states(lake_settings: Settings) -> None:
    with pytest.raises(ContractError, match="expected 'raw'"):
        RawContract("acme", "zentrix", "ingest", "files", settings=lake_settings)


def test_sibling_builds_the_right_class(lake_settings: Settings) -> None:
    contract = DatasetContract("acme", "zentrix", "ingest", "sales", settings=lake_settings)
    assert isinstance(contract.sibling(state="raw"), RawContract)
    assert contract.sibling(dataset="other").key == "dev/acme/zentrix/ingest/other"


def test_settings_are_loaded_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_BRANCH", "feature-x")
    assert DatasetContract("acme", "zentrix", "ingest", "d").branch == "feature-x"


def test_storage_registry_is_keyed_by_scheme() -> None:
    assert backend_for("/tmp/lake") is LOCAL
    assert backend_for("file:///tmp/lake") is LOCAL
    assert backend_for("s3://bucket/lake") is S3
    assert set(BACKENDS) >= {"", "file", "s3"}
    with pytest.raises(LakeError, match="scheme 'gopher'"):
        backend_for("gopher://x/y")


def test_s3_storage_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    settings = s3_settings(CORE_AWS_ENDPOINT_URL="http://127.0.0.1:9", CORE_AWS_REGION="eu-west-1")
    options = S3.storage_options(settings)
    assert options["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert options["AWS_ALLOW_HTTP"] == "true"
    assert options["AWS_REGION"] == "eu-west-1"
    assert options["aws_conditional_put"] == "etag"
    assert options["AWS_ACCESS_KEY_ID"] == "key"
    filesystem = S3.filesystem(settings)
    assert filesystem.region == "eu-west-1"
    assert LOCAL.storage_options(settings) == {}
