"""extract_from_landing on a local landing directory, run through the real runtime."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.unit.transforms.library.transfer_world import make_world, raw, run_tasks


def landing_world(**variables: object):
    variables = {"source": "landing/acme/zentrix", **variables}
    return make_world(
        [
            {
                "state": "raw",
                "transformations": [{"template": "extract_from_landing", "variables": variables}],
            }
        ]
    )


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def landing(core_env: Path) -> Path:
    folder = core_env / "landing" / "acme" / "zentrix"
    write(folder / "pharmacy_a_1.csv", "id\n1\n")
    write(folder / "pharmacy_a_2.csv", "id\n2\n")
    write(folder / "pharmacy_b_1.csv", "id\n3\n")
    write(folder / "readme.txt", "not data")
    write(folder / ".pharmacy_a_3.csv", "an upload in progress")
    write(folder / "archive" / "pharmacy_a_0.csv", "id\n0\n")
    return folder


def test_new_files_are_copied_with_their_source_time_and_counted(landing: Path) -> None:
    settings = landing_world(suffix=".csv")
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded, task.outcome.message
    assert (task.state, task.rows_out) == ("success", 3)
    counts = {k: task.references[k] for k in ("files_seen", "files_copied", "files_skipped")}
    assert counts == {"files_seen": 3, "files_copied": 3, "files_skipped": 0}
    assert task.references["source"] == str(landing)
    stored = {f.name: f for f in raw(settings).list_files()}
    assert sorted(stored) == ["pharmacy_a_1.csv", "pharmacy_a_2.csv", "pharmacy_b_1.csv"]
    source = landing / "pharmacy_a_1.csv"
    assert stored["pharmacy_a_1.csv"].source_path == str(source)
    mtime = dt.datetime.fromtimestamp(source.stat().st_mtime, dt.UTC)
    assert abs(stored["pharmacy_a_1.csv"].source_modified_time - mtime) < dt.timedelta(seconds=1)
    copy = raw(settings).get_file("pharmacy_b_1.csv", landing.parent)
    assert copy.read_text() == "id\n3\n"


def test_unchanged_files_are_skipped_and_changed_ones_copied_again(landing: Path) -> None:
    settings = landing_world(suffix=".csv")
    run_tasks(settings)
    _, [again] = run_tasks(settings)
    assert (again.rows_out, again.references["files_skipped"]) == (0, 3)
    changed = landing / "pharmacy_a_2.csv"
    write(changed, "id\n22\n", mtime=changed.stat().st_mtime + 60)
    _, [third] = run_tasks(settings)
    assert (third.references["files_copied"], third.references["files_skipped"]) == (1, 2)
    assert raw(settings).get_file("pharmacy_a_2.csv", landing.parent).read_text() == "id\n22\n"


def test_an_older_source_file_does_not_replace_the_stored_copy(landing: Path) -> None:
    settings = landing_world(suffix=".csv")
    run_tasks(settings)
    older = landing / "pharmacy_a_1.csv"
    write(older, "id\nold\n", mtime=older.stat().st_mtime - 3600)
    _, [task] = run_tasks(settings)
    assert task.rows_out == 0
    assert raw(settings).get_file("pharmacy_a_1.csv", landing.parent).read_text() == "id\n1\n"


def test_prefix_and_suffix_select_files(landing: Path) -> None:
    settings = landing_world(prefix="pharmacy_a", suffix=".csv")
    _, [task] = run_tasks(settings)
    assert task.rows_out == 2
    assert [f.name for f in raw(settings).list_files()] == ["pharmacy_a_1.csv", "pharmacy_a_2.csv"]


def test_no_filter_copies_every_visible_file_and_recursive_keeps_relative_names(
    landing: Path,
) -> None:
    settings = landing_world(recursive=True)
    _, [task] = run_tasks(settings)
    assert task.references["files_seen"] == 5
    names = [f.name for f in raw(settings).list_files()]
    assert "archive/pharmacy_a_0.csv" in names and "readme.txt" in names
    assert not any(name.startswith(".") for name in names)


def test_an_absolute_source_in_a_configured_root_is_used_as_it_is(
    landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORE_LANDING_ROOTS", str(tmp_path / "elsewhere"))
    source = write(tmp_path / "elsewhere" / "acme" / "zentrix" / "x.csv", "x\n").parent
    settings = landing_world(source=str(source))
    _, [task] = run_tasks(settings)
    assert task.rows_out == 1
    assert [f.name for f in raw(settings).list_files()] == ["x.csv"]


def test_a_missing_source_is_a_configuration_error_naming_path_and_variable(
    core_env: Path,
) -> None:
    settings = landing_world(source="landing/acme/zentrix/nowhere")
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert task.state == "failed"
    message = task.error or ""
    assert "variable 'source'='landing/acme/zentrix/nowhere'" in message
    assert str(core_env / "landing" / "acme" / "zentrix" / "nowhere") in message
    assert "relative to CORE_HOME" in message


def test_an_empty_directory_copies_nothing(core_env: Path) -> None:
    (core_env / "landing" / "acme" / "zentrix").mkdir(parents=True)
    settings = landing_world()
    _, [task] = run_tasks(settings)
    assert task.outcome.succeeded
    assert (task.rows_out, task.references["files_seen"]) == (0, 0)


def test_outside_the_raw_state_it_refuses_to_run(landing: Path) -> None:
    variables = {"source": "landing/acme/zentrix"}
    transformation = {"template": "extract_from_landing", "variables": variables}
    settings = make_world([{"state": "ingest", "transformations": [transformation]}])
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "must run in the raw state, not 'ingest'" in (task.error or "")


def test_a_location_with_an_unknown_scheme_is_refused(core_env: Path) -> None:
    settings = landing_world(source="ftp://x/y")
    _, [task] = run_tasks(settings)
    assert task.outcome.exit_code == 2
    assert "variable 'source'='ftp://x/y' is not a location" in (task.error or "")
    assert "s3://" in (task.error or "")
