import pytest

from core.errors import InvalidNameError
from core.names import (
    validate_dag_id,
    validate_label,
    validate_path_part,
    validate_run_frequency,
)


@pytest.mark.parametrize("name", ["acme_zentrix", "Acme.Zentrix-2", "a"])
def test_valid_dag_ids(name: str) -> None:
    assert validate_dag_id(name, "pipeline name") == name


@pytest.mark.parametrize("name", ["", "has space", "slash/ed", "x" * 251, "tab\t", None, 3])
def test_invalid_dag_ids_name_the_field_and_value(name: object) -> None:
    with pytest.raises(InvalidNameError, match="pipeline name"):
        validate_dag_id(name, "pipeline name")


@pytest.mark.parametrize("name", ["acme_pharma", "zentrix", "a1-b2"])
def test_valid_path_parts(name: str) -> None:
    assert validate_path_part(name, "brand name") == name


@pytest.mark.parametrize("name", ["Acme", "..", "a/b", " a", "a b", "_a", "é", "a.b", "x" * 101])
def test_invalid_path_parts(name: str) -> None:
    with pytest.raises(InvalidNameError, match=r"brand name .* is not valid in a data-lake path"):
        validate_path_part(name, "brand name")


def test_path_part_error_suggests_a_fix() -> None:
    with pytest.raises(InvalidNameError, match="did you mean 'acme_pharma'"):
        validate_path_part("Acme Pharma", "company name")


@pytest.mark.parametrize("value", ["none", "daily", "hourly", "0 6 * * 1-5", "*/15 * * * *"])
def test_valid_run_frequencies(value: str) -> None:
    assert validate_run_frequency(value) == value


@pytest.mark.parametrize("value", ["sometimes", "61 * * * *", "* * *"])
def test_invalid_run_frequencies(value: str) -> None:
    with pytest.raises(InvalidNameError, match="expected one of none, hourly"):
        validate_run_frequency(value)


def test_labels_refuse_padding() -> None:
    assert validate_label("Specialty", "segment") == "Specialty"
    with pytest.raises(InvalidNameError, match="without leading or trailing spaces"):
        validate_label(" Specialty", "segment")


# --- issue 17 item 5: names mean what they say (full matches) --------------------------


@pytest.mark.parametrize("name", ["acme\n", "acme\r\n", "\nacme"])
def test_a_line_break_is_no_part_of_a_dag_id(name: str) -> None:
    with pytest.raises(InvalidNameError, match="is not a valid Airflow dag id"):
        validate_dag_id(name, "pipeline name")


@pytest.mark.parametrize("name", ["zentrix\n", "zentrix\r\n"])
def test_a_line_break_is_no_part_of_a_lake_path(name: str) -> None:
    with pytest.raises(InvalidNameError, match="is not valid in a data-lake path"):
        validate_path_part(name, "brand name")


@pytest.mark.parametrize("value", ["0 6 * * 1\n", " 0 6 * * 1"])
def test_a_schedule_with_a_line_break_or_padding_is_refused(value: str) -> None:
    with pytest.raises(InvalidNameError, match="is not a schedule"):
        validate_run_frequency(value)


@pytest.mark.parametrize("value", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_a_cron_that_never_fires_is_refused(value: str) -> None:
    with pytest.raises(InvalidNameError, match=r"never fires .*31 February"):
        validate_run_frequency(value)


@pytest.mark.parametrize("value", ["0 0 29 2 *", "0 0 31 2 1", "0 0 31 * *"])
def test_a_cron_that_fires_rarely_is_kept(value: str) -> None:
    assert validate_run_frequency(value) == value
