"""The table of every standard transform's variables: a good value and each kind of bad one.

Each template has where it is placed in the sample configuration (pipeline, state,
graph_order) and a base set of good variables; each variable has a good value and
its bad values, each with a part of the message that must name what is expected.
The same table drives the checks of the spec alone, the API and the UI
(tests/unit/web/test_variable_meaning.py). A variable with no bad values takes any
text (a path checked elsewhere, a column name, a secret's name); a landing source or an
export destination must still lie in its pipeline's root (tests/reliability/test_confinement.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACME = "acme_zentrix_patient_status"
HUB = "bluepeak_orvida_hub_services"
NOT_BOOL = ("maybe", "is not a valid bool")
NOT_INT = ("three", "is not a valid int")
NOT_DATASET = [
    ("Flights 2013", "expected a dataset name"),
    ("bad name with spaces/..", "expected a dataset name"),
]
NOT_FILE_PART = [("*.csv", "expected text matching"), ("a?b", "expected text matching")]
UNKNOWN_INPUT = ("nope", "which no other transformation of this pipeline writes")
RATE = [(1.5, "expected a number from 0 to 1"), (-0.1, "expected a number from 0 to 1")]


@dataclass(frozen=True)
class Case:
    """One template: where it goes, good variables, and per variable (good, [(bad, message)])."""

    template: str
    pipeline: str
    state: str
    base: dict[str, Any]
    variables: dict[str, tuple[Any, list[tuple[Any, str]]]] = field(default_factory=dict)
    graph_order: int = 9


CASES = [
    Case(
        "extract_from_landing",
        HUB,
        "raw",
        {"source": "landing/bluepeak_bio/orvida"},
        {
            "source": ("landing/bluepeak_bio/orvida/enrollments", []),
            "prefix": ("enrollments", NOT_FILE_PART),
            "suffix": (".csv", NOT_FILE_PART),
            "recursive": ("true", [NOT_BOOL]),
        },
    ),
    Case(
        "extract_from_sftp",
        ACME,
        "raw",
        {"secret_name": "acme_sftp"},
        {
            "secret_name": ("other_sftp", []),
            "secret_type": ("SFTP", [("SCP", "expected one of 'SFTP', 'FTP'")]),
            "remote_path": ("/outgoing", []),
            "prefix": ("status", NOT_FILE_PART),
            "suffix": (".csv.gz", NOT_FILE_PART),
            "secret_mode": ("read", []),
            "retries": (5, [(-1, "expected a number from 0 to 20"), NOT_INT]),
            "backoff_seconds": (1.5, [(9999, "expected a number from 0 to 600")]),
        },
    ),
    Case(
        "initial_ingest",
        ACME,
        "ingest",
        {"dataset": "pharmacy_c_status"},
        {
            "dataset": ("pharmacy_c", NOT_DATASET),
            "prefix": ("pharmacy_c", NOT_FILE_PART),
            "suffix": (".csv.gz", NOT_FILE_PART),
            "delimiter": (
                "tab",
                [("||||", "expected one character"), ('"', "expected one character")],
            ),
            "encoding": ("latin-1", [("klingon", "expected a text encoding")]),
            "skip_rows": (2, [(-1, "expected a number from 0 to any"), NOT_INT]),
            "header": ("false", [NOT_BOOL]),
            "cumulate_flag": ("true", [NOT_BOOL]),
            "required_columns": (
                ["PatientID", "StatusCode"],
                [("PatientID", "is not a valid list")],
            ),
        },
    ),
    Case(
        "column_mapping",
        ACME,
        "enrich",
        {"input": "patient_status", "dataset": "status_renamed", "mapping": {"a": "b"}},
        {
            "input": ("status_clean", [UNKNOWN_INPUT, ("Bad Name", "expected a dataset name")]),
            "dataset": ("status_renamed_2", NOT_DATASET),
            "mapping": (
                {"x": "y"},
                [([], "expected a non-empty JSON object"), ({}, "expected a non-empty JSON")],
            ),
            "keep_unmapped": ("true", [NOT_BOOL]),
        },
    ),
    Case(
        "value_mapping",
        ACME,
        "master",
        {"input": "patient_status", "dataset": "status_mapped", "column": "status_code"},
        {
            "input": ("status_clean", [UNKNOWN_INPUT]),
            "dataset": ("status_mapped_2", NOT_DATASET),
            "column": ("status_code", []),
            "mapping": ({"A": "active"}, [({"A": ""}, "expected a non-empty JSON object")]),
            "bridge_dataset": ("status_clean", [("status_clen", "Did you mean 'status_clean'")]),
            "max_rejection_rate": (0.2, RATE),
            "ignore_case": ("true", [NOT_BOOL]),
            "reject_blanks": ("true", [NOT_BOOL]),
        },
    ),
    Case(
        "standardize_dates",
        ACME,
        "enrich",
        {"input": "patient_status", "dataset": "status_days", "columns": {"d": "%Y-%m-%d"}},
        {
            "input": ("status_clean", [UNKNOWN_INPUT]),
            "dataset": ("status_days_2", NOT_DATASET),
            "max_rejection_rate": (0, RATE),
            "columns": (
                {"d": ["%d.%m.%Y", "%Y%m%d"]},
                [
                    ({"d": "yyyy-mm-dd"}, "expected a strptime date format"),
                    ({"d": "%Q"}, "expected a strptime date format"),
                    ({}, "expected a JSON object of column to date format"),
                ],
            ),
        },
    ),
    Case(
        "standardize_numbers",
        ACME,
        "enrich",
        {"input": "patient_status", "dataset": "status_numbers", "columns": {"q": "int"}},
        {
            "input": ("status_clean", [UNKNOWN_INPUT]),
            "dataset": ("status_numbers_2", NOT_DATASET),
            "max_rejection_rate": (1, RATE),
            "columns": (
                {"q": "decimal(18,2)"},
                [
                    ({"q": "double"}, "type 'double' is not valid"),
                    ({"q": "decimal(50,2)"}, "expected decimal(p,s) with 1 <= p <= 38"),
                ],
            ),
            "thousands_separator": (".", [("12", "expected text matching")]),
            "decimal_separator": (",", [(",,", "expected one character")]),
        },
    ),
    Case(
        "sql",
        ACME,
        "enrich",
        {
            "inputs": ["patient_status"],
            "dataset": "status_counts",
            "query": "select count(*) as n from patient_status",
        },
        {
            "inputs": (
                ["patient_status", "status_clean"],
                [
                    (["no_such_dataset"], "which no other transformation of this pipeline"),
                    ("patient_status", "is not a valid list"),
                ],
            ),
            "dataset": ("status_counts_2", NOT_DATASET),
            "query": (
                "with s as (select * from patient_status) select * from s",
                [
                    ("selec carrier from patient_status", "syntax error"),
                    ("select * from flights", "reads table(s) 'flights' that inputs does not"),
                    ("select * from read_csv('/etc/passwd')", "table function(s) read_csv"),
                    ("select 1; select 2", "expected one SELECT statement"),
                ],
            ),
        },
    ),
    Case(
        "publish_to_s3",
        ACME,
        "dimensional",
        {"input": "fill_metrics", "destination": "outbox/acme_pharma/zentrix"},
        {
            "input": ("patient_journeys", [UNKNOWN_INPUT]),
            "destination": ("outbox/acme_pharma/zentrix/metrics", []),
            "file_pattern": (
                "{dataset}_%Y%m%d.csv",
                [("a/b.csv", "expected a plain file name"), ("{nope}.csv", "KeyError")],
            ),
            "gzip": ("true", [NOT_BOOL]),
        },
    ),
    Case(
        "publish_to_sftp",
        ACME,
        "dimensional",
        {"input": "fill_metrics", "secret_name": "acme_out"},
        {
            "input": ("patient_journeys", [UNKNOWN_INPUT]),
            "secret_name": ("other", []),
            "remote_path": ("/incoming", []),
            "file_pattern": ("{dataset}.csv", [(".hidden.csv", "expected a plain file name")]),
            "gzip": ("true", [NOT_BOOL]),
            "secret_mode": ("write", []),
            "retries": (0, [(21, "expected a number from 0 to 20")]),
            "backoff_seconds": (0, [(-1, "expected a number from 0 to 600")]),
        },
    ),
]
# Meaning needs the pipeline (which datasets exist): refused on save, not by the spec alone.
CROSS_MESSAGES = ("which no other transformation", "Did you mean", "reads table(s)")


def bad_values() -> list[tuple[Case, str, Any, str]]:
    """Every (case, variable, bad value, message part) of the table."""
    return [
        (case, name, bad, message)
        for case in CASES
        for name, (_good, bads) in case.variables.items()
        for bad, message in bads
    ]


def good_values() -> list[tuple[Case, str, Any]]:
    """Every (case, variable, good value) of the table."""
    return [(case, name, good) for case in CASES for name, (good, _bads) in case.variables.items()]
