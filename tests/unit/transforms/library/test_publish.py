"""publish_to_s3 to a local directory, run through the real runtime; file naming."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from core.errors import ConfigurationError
from core.lake import DatasetContract
from core.settings import Settings
from core.transforms.library.transfer import file_name
from tests.unit.transforms.library.transfer_world import make_world, run_tasks

WHEN = dt.datetime(2024, 3, 9, 6, 30, tzinfo=dt.UTC)


def publish_world(rows: int = 4, **variables: object) -> Settings:
    variables = {"input": "patients", "destination": "outbox/acme/zentrix", **variables}
    return make_world(
        [
            {
                "state": "ingest",
                "transformations": [{"template": "patients", "variables": {"rows": rows}}],
            },
            {
                "state": "dimensional",
                "transformations": [{"template": "publish_to_s3", "variables": variables}],
            },
        ]
    )


def expected_rows(settings: Settings, run_id: int) -> pa.Table:
    """This run's rows of the upstream dataset, as the export should hold them."""
    table = DatasetContract("acme", "zentrix", "ingest", "patients", settings=settings)
    data = table.fetch_arrow(run_id=run_id)
    assert any(name.startswith("__metadata_") for name in data.column_names)
    return data.select(["patient_id", "name", "score", "seen_on"])


def read_csv(data: bytes, schema: pa.Schema) -> pa.Table:
    options = pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True)
    return pacsv.read_csv(io.BytesIO(data), convert_options=options)


def only_file(folder: Path) -> Path:
    files = list(folder.iterdir())
    assert len(files) == 1, files
    return files[0]


def test_the_csv_holds_the_runs_rows_without_metadata_columns(core_env: Path) -> None:
    settings = publish_world()
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    outbox = core_env / "outbox" / "acme" / "zentrix"
    exported = only_file(outbox)
    assert task.references["location"] == str(exported)
    assert (task.rows_in, task.rows_out) == (4, 4)
    assert task.references["bytes"] == exported.stat().st_size
    data = exported.read_bytes()
    assert data.splitlines()[0] == b'"patient_id","name","score","seen_on"'
    expected = expected_rows(settings, run_id)
    assert read_csv(data, expected.schema).equals(expected)


def test_the_default_name_is_the_dataset_and_the_runs_date(core_env: Path) -> None:
    settings = publish_world()
    run_tasks(settings)
    today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    assert only_file(core_env / "outbox" / "acme" / "zentrix").name == f"patients_{today}.csv"


def test_gzip_output_is_readable_and_named_gz(core_env: Path) -> None:
    settings = publish_world(rows=500, gzip=True, file_pattern="{dataset}-{run_id}.csv")
    run_id, [_, task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    exported = only_file(core_env / "outbox" / "acme" / "zentrix")
    assert exported.name == f"patients-{run_id}.csv.gz"
    expected = expected_rows(settings, run_id)
    assert read_csv(gzip.decompress(exported.read_bytes()), expected.schema).equals(expected)


def test_an_existing_file_is_never_overwritten(core_env: Path) -> None:
    settings = publish_world(file_pattern="fixed.csv")
    outbox = core_env / "outbox" / "acme" / "zentrix"
    outbox.mkdir(parents=True)
    (outbox / "fixed.csv").write_text("keep me\n")
    _, [_, task] = run_tasks(settings)
    assert (task.outcome.exit_code, task.state) == (2, "failed")
    assert f"{outbox / 'fixed.csv'} already exists" in (task.error or "")
    assert "file_pattern" in (task.error or "")
    assert (outbox / "fixed.csv").read_text() == "keep me\n"
    assert [p.name for p in outbox.iterdir()] == ["fixed.csv"]


def test_a_second_run_on_the_same_day_refuses_instead_of_overwriting(core_env: Path) -> None:
    settings = publish_world()
    run_tasks(settings)
    first = only_file(core_env / "outbox" / "acme" / "zentrix")
    content = first.read_bytes()
    _, [_, again] = run_tasks(settings)
    assert again.outcome.exit_code == 2
    assert "already exists" in again.outcome.message
    assert only_file(core_env / "outbox" / "acme" / "zentrix").read_bytes() == content


def test_an_unknown_placeholder_fails_naming_the_variable(core_env: Path) -> None:
    settings = publish_world(file_pattern="{customer}_%Y.csv")
    _, [_, task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "variable 'file_pattern'='{customer}_%Y.csv' is not valid" in (task.error or "")
    assert not (core_env / "outbox" / "acme" / "zentrix").exists()


def test_a_missing_input_dataset_is_named(core_env: Path) -> None:
    settings = publish_world(input="nothing")
    _, [_, task] = run_tasks(settings)
    assert task.state == "failed"
    assert "'nothing'" in (task.error or "")


@pytest.mark.parametrize(
    ("pattern", "zipped", "expected"),
    [
        ("{dataset}_%Y%m%d.csv", False, "sales_20240309.csv"),
        ("{dataset}_%Y%m%d.csv", True, "sales_20240309.csv.gz"),
        ("{dataset}_%Y%m%d.csv.gz", True, "sales_20240309.csv.gz"),
        ("%Y-%m-%dT%H%M_{run_id}.txt", False, "2024-03-09T0630_17.txt"),
        ("{{literal}}_{dataset}.csv", False, "{literal}_sales.csv"),
    ],
)
def test_file_names(pattern: str, zipped: bool, expected: str) -> None:
    assert file_name(pattern, "sales", 17, WHEN, zipped) == expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("{dataset}/%Y.csv", "plain file name"),
        (".{dataset}.csv", "plain file name"),
        ("", "plain file name"),
        ("{0}.csv", "placeholders {dataset} and {run_id}"),
        ("{dataset.csv", "placeholders {dataset} and {run_id}"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="file_pattern") as caught:
        file_name(pattern, "sales", 17, WHEN, False, "dimensional/publish_to_s3 (3)")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("dimensional/publish_to_s3 (3): ")
