"""The bad input catalogue: every bad input tried, and what must come back.

Each case is data: the input, and the answer it must get (an HTTP status with the
location and words of the message, or an error class with its words). The tests in
``test_bad_input.py`` run them; ``catalogue.py`` renders them as the table of
``docs/reliability.md``, so the document and the tests cannot drift apart.

Three groups:

- ``configuration``: what an editor configures through the API (names, schedules,
  graph orders, templates, variables, notebooks, duplicates);
- ``api``: how a request is sent (malformed or oversized bodies, wrong types,
  injection strings, path traversal, HTML and script payloads);
- ``data``: files read by ``initial_ingest``, and the lake's contracts and tables
  used directly.

Unless a case says it writes, nothing may change: every table of the configuration
database keeps its row count (the audit trail included), the dataset's Delta table
keeps its version and rows, and the raw folder keeps its files byte for byte.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from core.errors import ContractError, ContractNotFoundError, SchemaConflictError
from core.lake import DatasetContract

SCRIPT = "<script>alert('core')</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(&#39;core&#39;)&lt;/script&gt;"
NO_BODY = object()


# --- the API -------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCase:
    """One request and the answer it must get.

    Attributes:
        id: the case's name (the test id and the catalogue's first column).
        group: ``configuration`` or ``api``.
        input: what is sent, in words, for the catalogue.
        method: the HTTP method.
        path: the path; ``{name}`` placeholders are filled from the sample world's ids
            (see ``test_bad_input.path_ids``).
        body: a JSON body, or ``body(world)`` building one from the world's ids.
        content: raw bytes to send instead of a JSON body (or a callable giving them).
        content_type: the Content-Type sent with ``content``.
        role: who sends it (viewer, editor, admin).
        status: the HTTP status that must come back.
        says: words the response must contain (field, value, what was expected).
        loc: the location one of the problems must have (e.g. ``("body", "name")``).
        writes: the request is accepted and writes rows (the catalogue says so).
        check: ``check(response, api)`` for anything more (see ``test_bad_input.Api``).
    """

    id: str
    group: str
    input: str
    method: str
    path: str
    status: int
    says: tuple[str, ...] = ()
    body: Any = NO_BODY
    content: bytes | Callable[[], Any] | None = None
    content_type: str = "application/json"
    role: str = "editor"
    loc: tuple[str | int, ...] | None = None
    writes: bool = False
    check: Callable[[Any, Any], None] | None = None
    note: str = ""

    @property
    def came_back(self) -> str:
        """What came back, for the catalogue: status, where, and the message's words."""
        where = f" at `{'.'.join(map(str, self.loc))}`" if self.loc else ""
        words = "; ".join(f"“{_cell(s)}”" for s in self.says)
        outcome = self.note or ("accepted" if self.writes else "nothing written")
        said = f": {words}" if words else ""
        return f"{self.status}{where}{said} ({outcome})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def new_pipeline(**values: Any) -> Callable[[Any], dict[str, Any]]:
    """A valid new pipeline's body from the world's ids, with ``values`` changed."""

    def body(world: Any) -> dict[str, Any]:
        return {
            "name": "acme_zentrix_claims",
            "pipeline_type_id": world.pipeline_type["sales_data"],
            "brand_id": world.brand["zentrix"],
            **values,
        }

    return body


def new_transformation(template: str = "typed", **variables: Any) -> Callable[[Any], Any]:
    """A transformation of ``template`` in the sample pipeline's ingest state."""

    def body(world: Any) -> dict[str, Any]:
        return {
            "transformation_template_id": world.template[template],
            "pipeline_state_id": world.state[("acme_zentrix_patient_status", "ingest")],
            "variables": variables,
        }

    return body


GOOD_VARIABLES = {"dataset": "claims", "rows": 3, "since": "2024-01-31"}


def _with(**changes: Any) -> dict[str, Any]:
    return {k: v for k, v in {**GOOD_VARIABLES, **changes}.items() if v is not ...}


def _no_match(response: Any, _api: Any) -> None:
    assert response.json()["total"] == 0, response.text


def _tables_intact(response: Any, api: Any) -> None:
    _no_match(response, api)
    assert api.get("/api/pipelines").json()["total"] == 3
    assert api.get("/api/segments").json()["total"] >= 2


def _stored_verbatim(field_name: str, value: str, path: str) -> Callable[[Any, Any], None]:
    """Check the value reads back the same from the API, as JSON (escaped by JSON only)."""

    def check(response: Any, api: Any) -> None:
        row = response.json()
        assert row[field_name] == value
        again = api.get(path.format(id=row["id"]))
        assert again.headers["content-type"].startswith("application/json")
        assert again.json()[field_name] == value
        assert "<script" not in again.headers["content-type"]

    return check


def _shown_escaped(response: Any, api: Any) -> None:
    """The script stored in a description is escaped on the UI's list and detail pages."""
    pipeline = response.json()["id"]
    assert api.get(f"/api/pipelines/{pipeline}").json()["description"] == SCRIPT
    api.sign_in("viewer")
    for page in ("/pipelines", f"/pipelines/{pipeline}", "/pipelines?q=alert"):
        html = api.client.get(page).text
        assert SCRIPT not in html, page
        assert ESCAPED_SCRIPT in html, page


def _label_escaped(response: Any, api: Any) -> None:
    """A script stored as a segment's name is escaped where the UI shows segments."""
    assert response.json()["name"] == SCRIPT
    api.sign_in("viewer")
    html = api.client.get("/audit?table=segments").text
    assert SCRIPT not in html and ESCAPED_SCRIPT in html


def _error_page_escaped(_response: Any, api: Any) -> None:
    api.sign_in("viewer")
    html = api.client.get("/audit", params={"table": SCRIPT}).text
    assert SCRIPT not in html and ESCAPED_SCRIPT in html


def _no_file_served(response: Any, _api: Any) -> None:
    assert "[project]" not in response.text and "root:" not in response.text


def _five_megabytes() -> Any:
    for _ in range(50):
        yield b"x" * 100_000


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


CONFIGURATION = [
    ApiCase(
        "pipeline-name-with-spaces",
        "configuration",
        "pipeline name `my pipeline`",
        "POST",
        "/api/pipelines",
        422,
        ("pipeline name 'my pipeline' is not a valid Airflow dag id", "(no spaces)"),
        body=new_pipeline(name="my pipeline"),
        loc=("body", "name"),
    ),
    ApiCase(
        "pipeline-name-unicode",
        "configuration",
        "pipeline name `ventes_é`",
        "POST",
        "/api/pipelines",
        422,
        ("pipeline name 'ventes_é' is not a valid Airflow dag id", "letters, digits"),
        body=new_pipeline(name="ventes_é"),
        loc=("body", "name"),
    ),
    ApiCase(
        "pipeline-name-with-slash",
        "configuration",
        "pipeline name `acme/zentrix`",
        "POST",
        "/api/pipelines",
        422,
        ("pipeline name 'acme/zentrix' is not a valid Airflow dag id",),
        body=new_pipeline(name="acme/zentrix"),
        loc=("body", "name"),
    ),
    ApiCase(
        "pipeline-name-too-long",
        "configuration",
        "pipeline name of 251 characters",
        "POST",
        "/api/pipelines",
        422,
        ("String should have at most 250 characters",),
        body=new_pipeline(name="p" * 251),
        loc=("body", "name"),
    ),
    ApiCase(
        "pipeline-name-empty",
        "configuration",
        'pipeline name `""`',
        "POST",
        "/api/pipelines",
        422,
        ("String should have at least 1 character",),
        body=new_pipeline(name=""),
        loc=("body", "name"),
    ),
    ApiCase(
        "pipeline-name-leading-digit",
        "configuration",
        "pipeline name `1st_claims` (a leading digit: a valid Airflow dag id)",
        "POST",
        "/api/pipelines",
        201,
        body=new_pipeline(name="1st_claims"),
        writes=True,
    ),
    ApiCase(
        "company-name-dot-dot",
        "configuration",
        "company name `../etc` (a lake path part)",
        "POST",
        "/api/companies",
        422,
        ("name '../etc' is not valid in a data-lake path", "did you mean 'etc'"),
        body={"name": "../etc"},
        loc=("body", "name"),
    ),
    ApiCase(
        "brand-name-with-slash",
        "configuration",
        "brand name `zen/trix`",
        "POST",
        "/api/brands",
        422,
        ("brand name 'zen/trix' is not valid in a data-lake path", "did you mean 'zen_trix'"),
        body=lambda w: {"name": "zen/trix", "pharmaceutical_company_id": w.company["acme_pharma"]},
        loc=("body", "name"),
    ),
    ApiCase(
        "company-name-percent-encoded-dots",
        "configuration",
        "company name `%2e%2e` (URL-encoded `..`)",
        "POST",
        "/api/companies",
        422,
        ("name '%2e%2e' is not valid in a data-lake path",),
        body={"name": "%2e%2e"},
        loc=("body", "name"),
    ),
    ApiCase(
        "company-name-nul-byte",
        "configuration",
        "company name with a NUL byte `acme\\x00`",
        "POST",
        "/api/companies",
        422,
        ("must not contain NUL",),
        body={"name": "acme\x00"},
        loc=("body", "name"),
    ),
    ApiCase(
        "brand-name-uppercase",
        "configuration",
        "brand name `Zentrix2`",
        "POST",
        "/api/brands",
        422,
        ("'Zentrix2' is not valid in a data-lake path", "lower-case", "did you mean 'zentrix2'"),
        body=lambda w: {"name": "Zentrix2", "pharmaceutical_company_id": w.company["acme_pharma"]},
        loc=("body", "name"),
    ),
    ApiCase(
        "state-type-name-dot-dot",
        "configuration",
        "state type name `../raw`",
        "POST",
        "/api/state-types",
        422,
        ("'../raw' is not valid in a data-lake path",),
        body={"name": "../raw"},
        loc=("body", "name"),
    ),
    ApiCase(
        "template-name-with-spaces",
        "configuration",
        "template name `My Template`",
        "POST",
        "/api/templates",
        422,
        ("'My Template' is not valid in a data-lake path", "did you mean 'my_template'"),
        body={"name": "My Template"},
        loc=("body", "name"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "label-with-padding",
        "configuration",
        "segment name ` Oncology ` (leading and trailing spaces)",
        "POST",
        "/api/segments",
        422,
        ("segment name ' Oncology ' is not valid", "without leading or trailing spaces"),
        body={"name": " Oncology "},
        loc=("body", "name"),
    ),
    ApiCase(
        "cron-three-fields",
        "configuration",
        "run_frequency `* * *`",
        "POST",
        "/api/pipelines",
        422,
        ("run_frequency '* * *' is not a schedule", "five-field cron expression"),
        body=new_pipeline(run_frequency="* * *"),
        loc=("body", "run_frequency"),
    ),
    ApiCase(
        "cron-minute-61",
        "configuration",
        "run_frequency `61 * * * *`",
        "POST",
        "/api/pipelines",
        422,
        ("run_frequency '61 * * * *' is not a schedule",),
        body=new_pipeline(run_frequency="61 * * * *"),
        loc=("body", "run_frequency"),
    ),
    ApiCase(
        "cron-seconds-field",
        "configuration",
        "run_frequency `* * * * * *` (six fields: every second)",
        "POST",
        "/api/pipelines",
        422,
        ("run_frequency '* * * * * *' is not a schedule", "(minute hour day month weekday)"),
        body=new_pipeline(run_frequency="* * * * * *"),
        loc=("body", "run_frequency"),
    ),
    ApiCase(
        "cron-words",
        "configuration",
        "run_frequency `every day`",
        "POST",
        "/api/pipelines",
        422,
        ("run_frequency 'every day' is not a schedule", "none, hourly, daily"),
        body=new_pipeline(run_frequency="every day"),
        loc=("body", "run_frequency"),
    ),
    ApiCase(
        "graph-order-negative",
        "configuration",
        "graph_order `-1`",
        "POST",
        "/api/state-types",
        422,
        ("greater than or equal to 0",),
        body={"name": "archive", "graph_order": -1},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "graph-order-huge",
        "configuration",
        "graph_order `10**12`",
        "POST",
        "/api/state-types",
        422,
        ("less than or equal to 1000000",),
        body={"name": "archive", "graph_order": 10**12},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "graph-order-float",
        "configuration",
        "graph_order `1.5`",
        "POST",
        "/api/state-types",
        422,
        ("valid integer, got a number with a fractional part",),
        body={"name": "archive", "graph_order": 1.5},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "graph-order-string",
        "configuration",
        'graph_order `"three"`',
        "POST",
        "/api/state-types",
        422,
        ("unable to parse string as an integer",),
        body={"name": "archive", "graph_order": "three"},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "graph-order-boolean",
        "configuration",
        "graph_order `true`",
        "POST",
        "/api/state-types",
        422,
        ("expected a whole number, not true",),
        body={"name": "archive", "graph_order": True},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "graph-order-null",
        "configuration",
        "graph_order `null`",
        "POST",
        "/api/state-types",
        422,
        ("Input should be a valid integer",),
        body={"name": "archive", "graph_order": None},
        loc=("body", "graph_order"),
    ),
    ApiCase(
        "arrangement-negative-order",
        "configuration",
        "an arrangement placing a transformation at graph_order `-5`",
        "PUT",
        "/api/pipelines/{pipeline}/arrangement",
        422,
        ("greater than or equal to 0",),
        body=lambda w: {
            "placements": [
                {
                    "transformation_id": w.transformations["acme_zentrix_patient_status"][1],
                    "pipeline_state_id": w.state[("acme_zentrix_patient_status", "ingest")],
                    "graph_order": -5,
                }
            ]
        },
        loc=("body", "placements", 0, "graph_order"),
    ),
    ApiCase(
        "arrangement-foreign-state",
        "configuration",
        "an arrangement moving a transformation into another pipeline's state",
        "PUT",
        "/api/pipelines/{pipeline}/arrangement",
        422,
        ("is not part of 'acme_zentrix_patient_status'",),
        body=lambda w: {
            "placements": [
                {
                    "transformation_id": w.transformations["acme_zentrix_patient_status"][1],
                    "pipeline_state_id": w.state[("bluepeak_orvida_hub_services", "ingest")],
                    "graph_order": 1,
                }
            ]
        },
        loc=("body", "placements", "0", "pipeline_state_id"),
    ),
    ApiCase(
        "unknown-template-id",
        "configuration",
        "a transformation of template id `999999`",
        "POST",
        "/api/transformations",
        422,
        ("no transformation_templates row has id 999999",),
        body=lambda w: {
            "transformation_template_id": 999_999,
            "pipeline_state_id": w.state[("acme_zentrix_patient_status", "ingest")],
        },
        loc=("body", "transformation_template_id"),
    ),
    ApiCase(
        "unknown-company-reference",
        "configuration",
        "a brand of company id `999999`",
        "POST",
        "/api/brands",
        422,
        ("no pharmaceutical_companies row has id 999999",),
        body={"name": "novex", "pharmaceutical_company_id": 999_999},
        loc=("body", "pharmaceutical_company_id"),
    ),
    ApiCase(
        "template-in-the-wrong-state",
        "configuration",
        "`initial_ingest` (an ingest template) placed in the raw state",
        "POST",
        "/api/transformations",
        422,
        ("template 'initial_ingest' belongs in the 'ingest' state", "placed in 'raw'"),
        body=lambda w: {
            "transformation_template_id": w.template["initial_ingest"],
            "pipeline_state_id": w.state[("acme_zentrix_patient_status", "raw")],
            "variables": {"dataset": "x"},
        },
        loc=("body", "pipeline_state_id"),
    ),
    ApiCase(
        "variable-missing",
        "configuration",
        "variables without the required `rows` (int)",
        "POST",
        "/api/transformations",
        422,
        ("required variable 'rows' (int) has no value and no default",),
        body=new_transformation(**_with(rows=...)),
        loc=("body", "variables", "rows"),
    ),
    ApiCase(
        "variable-undeclared",
        "configuration",
        "variables with `rowz`, which the template does not declare",
        "POST",
        "/api/transformations",
        422,
        ("variable 'rowz'='1' is not declared by its template", "Did you mean 'rows'?"),
        body=new_transformation(**_with(rowz=1)),
        loc=("body", "variables", "rowz"),
    ),
    ApiCase(
        "variable-int-not-a-number",
        "configuration",
        'int variable `rows` = `"three"`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'rows'='three' is not a valid int", "expected a whole number such as 3"),
        body=new_transformation(**_with(rows="three")),
        loc=("body", "variables", "rows"),
    ),
    ApiCase(
        "variable-float-for-int",
        "configuration",
        "int variable `rows` = `3.5`",
        "POST",
        "/api/transformations",
        422,
        ("variable 'rows'='3.5' is not a valid int",),
        body=new_transformation(**_with(rows=3.5)),
        loc=("body", "variables", "rows"),
    ),
    ApiCase(
        "variable-json-not-parseable",
        "configuration",
        'json variable `options` = `"{not json"`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'options'='{not json' is not a valid json", "expected JSON"),
        body=new_transformation(**_with(options="{not json")),
        loc=("body", "variables", "options"),
    ),
    ApiCase(
        "variable-list-for-string",
        "configuration",
        'string variable `dataset` = `["a", "b"]`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'dataset' is a string, but a JSON list was sent; expected text",),
        body=new_transformation(**_with(dataset=["a", "b"])),
        loc=("body", "variables", "dataset"),
    ),
    ApiCase(
        "variable-object-for-string",
        "configuration",
        'string variable `dataset` = `{"a": 1}`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'dataset' is a string, but a JSON object was sent",),
        body=new_transformation(**_with(dataset={"a": 1})),
        loc=("body", "variables", "dataset"),
    ),
    ApiCase(
        "variable-null-for-required",
        "configuration",
        "required int variable `rows` = `null`",
        "POST",
        "/api/transformations",
        422,
        ("required variable 'rows' (int) has no value and no default",),
        body=new_transformation(**_with(rows=None)),
        loc=("body", "variables", "rows"),
    ),
    ApiCase(
        "variable-bad-date",
        "configuration",
        'date variable `since` = `"31/01/2024"`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'since'='31/01/2024' is not a valid date", "ISO date such as 2024-01-31"),
        body=new_transformation(**_with(since="31/01/2024")),
        loc=("body", "variables", "since"),
    ),
    ApiCase(
        "variable-list-not-json",
        "configuration",
        'list variable `columns` = `"a,b"`',
        "POST",
        "/api/transformations",
        422,
        ("variable 'columns'='a,b' is not a valid list", "expected a JSON list"),
        body=new_transformation(**_with(columns="a,b")),
        loc=("body", "variables", "columns"),
    ),
    ApiCase(
        "variables-not-an-object",
        "configuration",
        'variables = `["a"]`',
        "POST",
        "/api/transformations",
        422,
        ("Input should be a valid dictionary",),
        body=lambda w: {**new_transformation()(w), "variables": ["a"]},
        loc=("body", "variables"),
    ),
    ApiCase(
        "variable-empty-name",
        "configuration",
        'a variable named `""`',
        "POST",
        "/api/transformations",
        422,
        ("variable names [''] are not valid: expected 1 to 100 characters",),
        body=new_transformation(**_with(**{"": "x"})),
        loc=("body", "variables"),
    ),
    ApiCase(
        "variable-spec-unknown-type",
        "configuration",
        'a template declaring a variable of type `"integer"`',
        "POST",
        "/api/templates",
        422,
        ("variable 'x' has an invalid spec", "'string', 'int', 'float'"),
        body={"name": "spec_test", "variable_structures": {"x": {"type": "integer"}}},
        loc=("body", "variable_structures"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "variable-spec-bad-default",
        "configuration",
        'a template declaring an int variable whose default is `"abc"`',
        "POST",
        "/api/templates",
        422,
        ("variable 'x' has an invalid spec", "expected a whole number such as 3"),
        body={"name": "spec_test", "variable_structures": {"x": {"type": "int", "default": "abc"}}},
        loc=("body", "variable_structures"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "notebook-parameter-missing",
        "configuration",
        "notebook template `report` declaring `threshold`, which its parameters cell lacks",
        "POST",
        "/api/templates",
        422,
        (
            "variable 'threshold' is configured but the parameters cell does not assign it",
            "add `threshold = <example value>`",
        ),
        body={
            "name": "report",
            "kind": "notebook",
            "variable_structures": {"dataset": {"type": "string"}, "threshold": {"type": "float"}},
        },
        loc=("body", "variable_structures", "threshold"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "notebook-file-missing",
        "configuration",
        "notebook template `ghost`, which has no notebook file",
        "POST",
        "/api/templates",
        422,
        ("notebook template 'ghost'", "ghost.ipynb does not exist"),
        body={"name": "ghost", "kind": "notebook"},
        loc=("body", "name"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "duplicate-company-name",
        "configuration",
        "a second company named `acme_pharma`",
        "POST",
        "/api/companies",
        422,
        ("another pharmaceutical company already has this name",),
        body={"name": "acme_pharma"},
        loc=("body", "name"),
    ),
    ApiCase(
        "duplicate-pipeline-name",
        "configuration",
        "a second pipeline named `acme_zentrix_patient_status`",
        "POST",
        "/api/pipelines",
        422,
        ("another pipeline already has this name",),
        body=new_pipeline(name="acme_zentrix_patient_status"),
        loc=("body", "name"),
    ),
    ApiCase(
        "duplicate-brand-in-company",
        "configuration",
        "a second brand `zentrix` in `acme_pharma`",
        "POST",
        "/api/brands",
        422,
        ("another brand already has this name",),
        body=lambda w: {"name": "zentrix", "pharmaceutical_company_id": w.company["acme_pharma"]},
        loc=("body", "name"),
    ),
    ApiCase(
        "duplicate-state-in-pipeline",
        "configuration",
        "a second `ingest` state in one pipeline",
        "POST",
        "/api/pipeline-states",
        422,
        ("another pipeline state already has this pipeline_state_type_id",),
        body=lambda w: {
            "pipeline_id": w.pipeline["acme_zentrix_patient_status"],
            "pipeline_state_type_id": w.state_type["ingest"],
        },
        loc=("body", "pipeline_state_type_id"),
    ),
    ApiCase(
        "stale-version",
        "configuration",
        "an update of a pipeline naming version `0` (it is at 1 or more)",
        "PATCH",
        "/api/pipelines/{pipeline}",
        409,
        ("changed since you read it", "reload it and apply your change again"),
        body={"description": "lost update?", "version": 0},
    ),
    ApiCase(
        "missing-version",
        "configuration",
        "an update of a pipeline that does not name the version it was made from",
        "PATCH",
        "/api/pipelines/{pipeline}",
        428,
        ("must name the version it was made from", "send `version`"),
        body={"description": "lost update?"},
    ),
]


API = [
    ApiCase(
        "malformed-json",
        "api",
        'body `{"name": ` (cut off)',
        "POST",
        "/api/companies",
        422,
        ("JSON decode error", "Expecting value"),
        content=b'{"name": ',
        loc=("body", 9),
    ),
    ApiCase(
        "json-array-body",
        "api",
        'body `[{"name": "a"}]` (an array, not an object)',
        "POST",
        "/api/companies",
        422,
        ("Input should be a valid dictionary or object",),
        body=[{"name": "a"}],
        loc=("body",),
    ),
    ApiCase(
        "json-string-body",
        "api",
        'body `"acme"` (a string)',
        "POST",
        "/api/companies",
        422,
        ("Input should be a valid dictionary or object",),
        body="acme",
        loc=("body",),
    ),
    ApiCase(
        "empty-body",
        "api",
        "an empty body",
        "POST",
        "/api/companies",
        422,
        ("Field required",),
        content=b"",
        loc=("body",),
    ),
    ApiCase(
        "form-body-on-json-route",
        "api",
        "`name=acme` sent as application/x-www-form-urlencoded",
        "POST",
        "/api/companies",
        422,
        ("Input should be a valid dictionary or object",),
        content=b"name=acme",
        content_type="application/x-www-form-urlencoded",
        loc=("body",),
    ),
    ApiCase(
        "oversized-body",
        "api",
        "a pipeline with a 5 MB description (Content-Length 5 MB)",
        "POST",
        "/api/pipelines",
        413,
        ("the request body is too large", "expected at most 2097152 bytes"),
        body=new_pipeline(description="x" * 5_000_000),
    ),
    ApiCase(
        "oversized-chunked-body",
        "api",
        "a 5 MB body streamed in chunks (no Content-Length)",
        "POST",
        "/api/companies",
        413,
        ("the request body is too large", "more than 2097152 bytes sent"),
        content=_five_megabytes,
    ),
    ApiCase(
        "oversized-form-on-a-page",
        "api",
        "a 5 MB form posted to the UI's /pipelines/new",
        "POST",
        "/pipelines/new",
        413,
        ("the request body is too large",),
        content=b"name=" + b"x" * 5_000_000,
        content_type="application/x-www-form-urlencoded",
    ),
    ApiCase(
        "deeply-nested-json",
        "api",
        "100,000 nested arrays `[[[…]]]`",
        "POST",
        "/api/companies",
        400,
        ("the request body cannot be read as JSON: it is nested too deeply",),
        content=_nested(100_000),
    ),
    ApiCase(
        "number-of-5000-digits",
        "api",
        "graph_order with 5,001 digits",
        "POST",
        "/api/state-types",
        400,
        ("cannot be read as JSON: it holds a number of more than 4300 digits",),
        content=b'{"name": "archive", "graph_order": 1' + b"0" * 5000 + b"}",
    ),
    ApiCase(
        "body-not-utf8",
        "api",
        'body `{"name": "\\xff\\xfe"}` (not UTF-8)',
        "POST",
        "/api/companies",
        400,
        ("cannot be read as JSON", "can't decode byte 0xff"),
        content=b'{"name": "\xff\xfe"}',
    ),
    ApiCase(
        "string-for-int-reference",
        "api",
        'pharmaceutical_company_id `"one"`',
        "POST",
        "/api/brands",
        422,
        ("unable to parse string as an integer",),
        body={"name": "novex", "pharmaceutical_company_id": "one"},
        loc=("body", "pharmaceutical_company_id"),
    ),
    ApiCase(
        "boolean-for-int-reference",
        "api",
        "pharmaceutical_company_id `true`",
        "POST",
        "/api/brands",
        422,
        ("expected a whole number, not true",),
        body={"name": "novex", "pharmaceutical_company_id": True},
        loc=("body", "pharmaceutical_company_id"),
    ),
    ApiCase(
        "null-for-required-name",
        "api",
        "name `null`",
        "POST",
        "/api/companies",
        422,
        ("Input should be a valid string",),
        body={"name": None},
        loc=("body", "name"),
    ),
    ApiCase(
        "unknown-field",
        "api",
        'an extra field `"is_admin": true`',
        "POST",
        "/api/companies",
        422,
        ("Extra inputs are not permitted",),
        body={"name": "ceres", "is_admin": True},
        loc=("body", "is_admin"),
    ),
    ApiCase(
        "nan-literal",
        "api",
        "a variable `NaN` (a JSON extension Python accepts)",
        "POST",
        "/api/transformations",
        422,
        ("must be a finite number, not nan",),
        content=b'{"transformation_template_id": 1, "pipeline_state_id": 1, '
        b'"variables": {"rows": NaN}}',
        loc=("body", "variables"),
    ),
    ApiCase(
        "id-beyond-int32",
        "api",
        "GET /api/companies/99999999999999999999",
        "GET",
        "/api/companies/99999999999999999999",
        422,
        ("less than or equal to 2147483647",),
        loc=("path", "row_id"),
    ),
    ApiCase(
        "negative-id",
        "api",
        "GET /api/companies/-1",
        "GET",
        "/api/companies/-1",
        422,
        ("greater than or equal to 1",),
        loc=("path", "row_id"),
    ),
    ApiCase(
        "limit-too-large",
        "api",
        "GET /api/companies?limit=100000",
        "GET",
        "/api/companies?limit=100000",
        422,
        ("less than or equal to 500",),
        loc=("query", "limit"),
    ),
    ApiCase(
        "sql-injection-in-search",
        "api",
        "q = `' OR 1=1 --`",
        "GET",
        "/api/companies?q=%27%20OR%201%3D1%20--",
        200,
        ('"total":0',),
        check=_no_match,
        note="no match, nothing written",
    ),
    ApiCase(
        "sql-injection-drop-table-in-search",
        "api",
        "pipeline search q = `%'; DROP TABLE pipelines; --`",
        "GET",
        "/api/pipelines?q=%25%27%3B%20DROP%20TABLE%20pipelines%3B%20--",
        200,
        ('"total":0',),
        check=_tables_intact,
        note="no match; the pipelines table intact",
    ),
    ApiCase(
        "sql-injection-in-sort",
        "api",
        "sort = `name;DROP TABLE companies`",
        "GET",
        "/api/companies?sort=name%3BDROP%20TABLE%20companies",
        422,
        ("expected one of id, name, display_name, updated_at",),
        loc=("query", "sort"),
    ),
    ApiCase(
        "sql-injection-in-int-filter",
        "api",
        "pharmaceutical_company_id = `1 OR 1=1`",
        "GET",
        "/api/brands?pharmaceutical_company_id=1%20OR%201%3D1",
        422,
        ("expected a whole number up to 2147483647",),
        loc=("query", "pharmaceutical_company_id"),
    ),
    ApiCase(
        "sql-injection-in-text-filter",
        "api",
        "role = `admin' OR '1'='1` (as an admin)",
        "GET",
        "/api/users?role=admin%27%20OR%20%271%27%3D%271",
        200,
        ('"total":0',),
        role="admin",
        check=_no_match,
        note="no match, nothing written",
    ),
    ApiCase(
        "sql-injection-in-audit-table",
        "api",
        "audit table = `pipelines' OR 1=1 --`",
        "GET",
        "/api/audit?table=pipelines%27%20OR%201%3D1%20--",
        422,
        ("is not an audited table", "Did you mean 'pipelines'?"),
        loc=("query", "table"),
    ),
    ApiCase(
        "sql-injection-in-name",
        "api",
        "segment name `x'); DROP TABLE segments; --`",
        "POST",
        "/api/segments",
        201,
        body={"name": "x'); DROP TABLE segments; --"},
        writes=True,
        check=_stored_verbatim("name", "x'); DROP TABLE segments; --", "/api/segments/{id}"),
        note="stored and returned verbatim, as text",
    ),
    ApiCase(
        "like-wildcard-in-search",
        "api",
        "pipeline search q = `acme%zentrix` (`%` is text, not a wildcard)",
        "GET",
        "/api/pipelines?q=acme%25zentrix",
        200,
        ('"total":0',),
        check=_no_match,
        note="no match, nothing written",
    ),
    ApiCase(
        "like-underscore-in-search",
        "api",
        "pipeline search q = `patient_statu_` (`_` is text, not any one character)",
        "GET",
        "/api/pipelines?q=patient_statu_",
        200,
        ('"total":0',),
        check=_no_match,
        note="no match, nothing written",
    ),
    ApiCase(
        "path-traversal-in-dataset-id",
        "api",
        "GET /api/datasets/..%2F..%2Fetc%2Fpasswd/preview",
        "GET",
        "/api/datasets/..%2F..%2Fetc%2Fpasswd/preview",
        404,
        ("Not Found",),
        check=_no_file_served,
        note="no file served",
    ),
    ApiCase(
        "path-traversal-dotdot-segments",
        "api",
        "GET /api/datasets/1/../../../pyproject.toml",
        "GET",
        "/api/datasets/1/../../../pyproject.toml",
        404,
        check=_no_file_served,
        note="no file served",
    ),
    ApiCase(
        "path-traversal-in-static",
        "api",
        "GET /static/..%2F..%2F..%2Fpyproject.toml",
        "GET",
        "/static/..%2F..%2F..%2Fpyproject.toml",
        404,
        ("Not Found",),
        check=_no_file_served,
        note="no file served",
    ),
    ApiCase(
        "path-traversal-in-notebook",
        "api",
        "GET /api/runs/1/tasks/..%2F..%2Fconfiguration.db/notebook",
        "GET",
        "/api/runs/1/tasks/..%2F..%2Fconfiguration.db/notebook",
        404,
        ("Not Found",),
        check=_no_file_served,
        note="no file served",
    ),
    ApiCase(
        "dot-dot-as-an-id",
        "api",
        "GET /api/runs/1/tasks/../notebook sent unnormalised (`..` as the task id)",
        "GET",
        "/api/runs/1/tasks/%2E%2E/notebook",
        422,
        ("unable to parse string as an integer",),
        loc=("path", "transformation_id"),
    ),
    ApiCase(
        "path-traversal-in-run-id",
        "api",
        "GET /api/datasets/1/preview?run_id=../1",
        "GET",
        "/api/datasets/1/preview?run_id=../1",
        422,
        ("unable to parse string as an integer",),
        loc=("query", "run_id"),
    ),
    ApiCase(
        "script-in-description",
        "api",
        f"pipeline description `{SCRIPT}`",
        "POST",
        "/api/pipelines",
        201,
        body=new_pipeline(description=SCRIPT),
        writes=True,
        check=_shown_escaped,
        note="stored verbatim, returned as JSON; escaped on /pipelines and /pipelines/{id}",
    ),
    ApiCase(
        "script-in-a-label",
        "api",
        f"segment name `{SCRIPT}`",
        "POST",
        "/api/segments",
        201,
        body={"name": SCRIPT},
        writes=True,
        check=_label_escaped,
        note="stored verbatim, returned as JSON; escaped on the audit page",
    ),
    ApiCase(
        "script-in-a-refused-value",
        "api",
        f"audit table = `{SCRIPT}` (echoed in the error)",
        "GET",
        "/api/audit?table=%3Cscript%3Ealert(%27core%27)%3C%2Fscript%3E",
        422,
        ("is not an audited table",),
        loc=("query", "table"),
        check=_error_page_escaped,
        note="nothing written; escaped on the UI's error page",
    ),
    ApiCase(
        "right-to-left-override",
        "api",
        "segment name `\\u202eevil` (a bidi control)",
        "POST",
        "/api/segments",
        201,
        body={"name": "\u202eevil"},
        writes=True,
        check=_stored_verbatim("name", "\u202eevil", "/api/segments/{id}"),
        note="stored and returned verbatim: a label may hold any text",
    ),
    ApiCase(
        "xml-body",
        "api",
        "an XML body sent as application/xml",
        "POST",
        "/api/companies",
        422,
        ("Input should be a valid dictionary or object",),
        content=b"<company><name>acme</name></company>",
        content_type="application/xml",
        loc=("body",),
    ),
]


# --- data --------------------------------------------------------------------------

GOOD_FILE = b"id,name\n1,ann\n"
GOOD_ROWS = 1


@dataclass(frozen=True)
class IngestCase:
    """A raw file read by ``initial_ingest`` and what the task run must record.

    The pipeline first ingests a good file (``a_good.csv``, one row: the table's
    first version); then, in a new run, the case's files are stored next to it and
    the ingest (``cumulate_flag``: every file) runs again.

    Attributes:
        files: raw file name -> bytes (stored as is), or a callable giving them.
        variables: the transformation's variables changed before the second run.
        outcome: ``failed`` or ``success``.
        exit_code: the worker's exit code (1: the data, 2: the configuration).
        says: words the task run's error must contain.
        rows: for a success, the rows the case's files add to the good file's.
        warns: words a logged warning must contain.
    """

    id: str
    input: str
    files: dict[str, bytes] | Callable[[], dict[str, bytes]]
    outcome: str = "failed"
    says: tuple[str, ...] = ()
    exit_code: int = 1
    variables: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    warns: str | None = None
    group: str = "data"

    @property
    def came_back(self) -> str:
        """What came back, for the catalogue."""
        if self.outcome == "success":
            warned = f", warning “{_cell(self.warns)}”" if self.warns else ""
            return f"task succeeds: {self.rows} row(s) from the file{warned}"
        words = "; ".join(f"“{_cell(s)}”" for s in self.says)
        return (
            f"task fails (exit {self.exit_code}): {words} "
            "(table version and rows unchanged, raw files untouched)"
        )


def _big_field() -> dict[str, bytes]:
    return {"big.csv": b"id,name\n2," + b"x" * (10 << 20) + b"\n"}


def _truncated_gzip() -> dict[str, bytes]:
    data = b"id,name\n" + b"".join(b"%d,name %d\n" % (i, i * 7919) for i in range(20_000))
    packed = gzip.compress(data)
    return {"cut.csv.gz": packed[: len(packed) // 2]}


def _binary() -> dict[str, bytes]:
    return {"photo.csv": bytes(range(256)) * 64}


INGEST = [
    IngestCase(
        "csv-unbalanced-quote",
        '`2,"bo` then more rows: a quote never closed',
        {"b.csv": b'id,name\n2,"bo\n3,cy\n4,di\n'},
        says=("raw file 'b.csv' line 2: a quoted value opens there and is never closed",),
    ),
    IngestCase(
        "csv-unbalanced-quote-in-header",
        'header `id,"name` with its quote never closed',
        {"b.csv": b'id,"name\n2,bo\n'},
        says=("raw file 'b.csv' line 1: a quoted value opens there and is never closed",),
    ),
    IngestCase(
        "csv-row-too-short",
        "a row with 1 field under a header of 2",
        {"b.csv": b"id,name\n2,bo\n3\n"},
        says=("raw file 'b.csv' line 3: expected 2 fields separated by ','", "found 1: '3'"),
    ),
    IngestCase(
        "csv-row-too-long",
        "a row with 3 fields under a header of 2",
        {"b.csv": b"id,name\n2,bo,extra\n"},
        says=("raw file 'b.csv' line 2: expected 2 fields", "found 3: '2,bo,extra'"),
    ),
    IngestCase(
        "latin-1-read-as-utf-8",
        "`Zürich` in latin-1 bytes, encoding utf-8",
        {"b.csv": "id,name\n2,Zürich\n".encode("latin-1")},
        says=("raw file 'b.csv' is not valid 'utf-8' text", "set the encoding variable"),
    ),
    IngestCase(
        "utf-16-read-as-utf-8",
        "a UTF-16 file with its byte-order mark, encoding utf-8",
        {"b.csv": "id,name\n2,bo\n".encode("utf-16")},
        says=(
            "raw file 'b.csv' starts with a utf-16 byte-order mark",
            "set the encoding variable to 'utf-16'",
        ),
    ),
    IngestCase(
        "utf-8-with-byte-order-mark",
        "a UTF-8 file starting with a byte-order mark",
        {"b.csv": b"\xef\xbb\xbfid,name\n2,bo\n"},
        outcome="success",
        rows=1,
    ),
    IngestCase(
        "binary-garbage",
        "16 KiB of bytes 0-255 named `photo.csv`",
        _binary,
        says=("raw file 'photo.csv' line 1: byte 0 is NUL (0x00)", "the file looks binary"),
    ),
    IngestCase(
        "nul-inside-a-value",
        "a value holding a NUL byte",
        {"b.csv": b"id,name\n2,b\x00o\n"},
        says=("raw file 'b.csv' line 2: byte 11 is NUL (0x00)",),
    ),
    IngestCase(
        "truncated-gzip",
        "a .csv.gz cut in half",
        _truncated_gzip,
        says=("raw file 'cut.csv.gz' cannot be read as delimited text",),
        variables={"suffix": ".gz"},
    ),
    IngestCase(
        "empty-file",
        "a file of 0 bytes",
        {"b.csv": b""},
        outcome="success",
        rows=0,
        warns="raw file 'b.csv' has no rows to read; skipped",
    ),
    IngestCase(
        "header-only",
        "a header and no rows",
        {"b.csv": b"id,name\n"},
        outcome="success",
        rows=0,
    ),
    IngestCase(
        "blank-lines-only",
        "a file of three line breaks",
        {"b.csv": b"\n\n\n"},
        outcome="success",
        rows=0,
        warns="raw file 'b.csv' has no rows to read; skipped",
    ),
    IngestCase(
        "ten-megabyte-field",
        "one 10 MB value on one line",
        _big_field,
        outcome="success",
        rows=1,
    ),
    IngestCase(
        "reserved-metadata-column",
        "a header naming `__metadata_run_id`",
        {"b.csv": b"id,__metadata_run_id\n2,999\n"},
        says=(
            "raw file 'b.csv': the header names column(s) '__metadata_run_id'",
            "reserved for CORE's own columns",
        ),
    ),
    IngestCase(
        "reserved-source-file-column",
        "a header naming `__metadata_source_file`",
        {"b.csv": b"id,__metadata_source_file\n2,evil.csv\n"},
        says=("the header names column(s) '__metadata_source_file'", "are reserved"),
    ),
    IngestCase(
        "duplicate-column-names",
        "header `id,id`",
        {"b.csv": b"id,id\n2,3\n"},
        says=("raw file 'b.csv': the header names column(s) 'id' more than once",),
    ),
    IngestCase(
        "unknown-encoding",
        "encoding variable `klingon`",
        {"b.csv": b"id,name\n2,bo\n"},
        variables={"encoding": "klingon"},
        exit_code=2,
        says=("variable 'encoding'='klingon' is not valid", "expected a text encoding"),
    ),
    IngestCase(
        "two-character-delimiter",
        "delimiter variable `;;`",
        {"b.csv": b"id;;name\n2;;bo\n"},
        variables={"delimiter": ";;"},
        exit_code=2,
        says=("variable 'delimiter'=';;' is not valid", "expected one character"),
    ),
    IngestCase(
        "dataset-name-traversal",
        "dataset variable `../evil` (set in the database, past the API)",
        {"b.csv": b"id,name\n2,bo\n"},
        variables={"dataset": "../evil"},
        exit_code=2,
        says=("variable 'dataset'='../evil' is not valid", "expected a dataset name"),
    ),
    # --- integ (issue 17, item 2): a drifting file, checked per file read in this run ---
    IngestCase(
        "drifting-renamed-header",
        "required_columns `id, name`; a later file's header says `Name`",
        {"b.csv": b"id,Name\n2,bo\n"},
        variables={"required_columns": ["id", "name"]},
        says=("raw file 'b.csv' lacks required column(s) 'name'", "its columns are 'id', 'Name'"),
    ),
    IngestCase(
        "drifting-wrong-delimiter",
        "required_columns `id, name`; a later file delimited by `;`",
        {"b.csv": b"id;name\n2;bo\n"},
        variables={"required_columns": ["id", "name"]},
        says=(
            "raw file 'b.csv' lacks required column(s) 'id', 'name'",
            "its columns are 'id;name' (read with delimiter ',')",
        ),
    ),
    IngestCase(
        "drifting-missing-column",
        "required_columns `id, name`; a later file without `name`",
        {"b.csv": b"id\n2\n"},
        variables={"required_columns": ["id", "name"]},
        says=("raw file 'b.csv' lacks required column(s) 'name'; its columns are 'id'",),
    ),
]


@dataclass(frozen=True)
class LakeCase:
    """A call on the lake's contracts or tables and the error it must raise.

    ``call(lake)`` gets a :class:`test_bad_input.Lake`: its ``table`` (dataset
    ``sales`` of acme/zentrix in ingest, run 1 published: ``id`` int64, ``name``
    string, 2 rows) and its ``raw`` folder (one file) must be as they were after.
    """

    id: str
    input: str
    call: Callable[[Any], Any]
    error: type[Exception]
    says: tuple[str, ...]
    group: str = "data"

    @property
    def came_back(self) -> str:
        """What came back, for the catalogue."""
        words = "; ".join(f"“{_cell(s)}”" for s in self.says)
        return f"{self.error.__name__}: {words} (nothing written)"


def _dataset(name: str) -> Callable[[Any], Any]:
    return lambda lake: DatasetContract("acme", "zentrix", "ingest", name, settings=lake.settings)


def _publish(table: pa.Table, run_id: Any = 2, **options: Any) -> Callable[[Any], Any]:
    return lambda lake: lake.table.publish(table, run_id, **options)


LAKE = [
    LakeCase(
        "contract-dataset-dot-dot",
        "DatasetContract dataset `..`",
        _dataset(".."),
        ContractError,
        ("contract dataset '..' is not valid in a data-lake path",),
    ),
    LakeCase(
        "contract-dataset-slash",
        "DatasetContract dataset `/`",
        _dataset("/"),
        ContractError,
        ("contract dataset '/' is not valid in a data-lake path",),
    ),
    LakeCase(
        "contract-dataset-embedded-dot-dot",
        "DatasetContract dataset `a/../b`",
        _dataset("a/../b"),
        ContractError,
        ("contract dataset 'a/../b' is not valid", "did you mean 'a_b'"),
    ),
    LakeCase(
        "contract-dataset-nul",
        "DatasetContract dataset `a\\x00b`",
        _dataset("a\x00b"),
        ContractError,
        ("contract dataset 'a\\x00b' is not valid in a data-lake path",),
    ),
    LakeCase(
        "contract-company-traversal",
        "DatasetContract company `../../etc`",
        lambda lake: DatasetContract("../../etc", "zentrix", "ingest", "x", settings=lake.settings),
        ContractError,
        ("contract parent (company) '../../etc' is not valid in a data-lake path",),
    ),
    LakeCase(
        "contract-brand-uppercase",
        "DatasetContract brand `Zentrix`",
        lambda lake: DatasetContract("acme", "Zentrix", "ingest", "x", settings=lake.settings),
        ContractError,
        ("contract child (brand) 'Zentrix' is not valid", "did you mean 'zentrix'"),
    ),
    LakeCase(
        "contract-unknown-state",
        "DatasetContract state `staging`",
        lambda lake: DatasetContract("acme", "zentrix", "staging", "x", settings=lake.settings),
        ContractError,
        ("contract state 'staging' is not a lake state", "raw, ingest, master"),
    ),
    LakeCase(
        "contract-protected-branch",
        "DatasetContract branch `master` in dev",
        lambda lake: DatasetContract(
            "acme", "zentrix", "ingest", "x", branch="master", settings=lake.settings
        ),
        ContractError,
        ("contract branch 'master' is protected", "environment is 'dev'"),
    ),
    LakeCase(
        "raw-file-name-traversal",
        "RawContract.put_file name `../x.csv`",
        lambda lake: lake.raw.put_file(b"id\n1\n", "../x.csv"),
        ContractError,
        ("raw file name '../x.csv' is not valid", "no empty, '.' or '..' parts"),
    ),
    LakeCase(
        "raw-file-name-absolute",
        "RawContract.put_file name `/etc/passwd`",
        lambda lake: lake.raw.put_file(b"root\n", "/etc/passwd"),
        ContractError,
        ("raw file name '/etc/passwd' is not valid",),
    ),
    LakeCase(
        "raw-file-name-nested-traversal",
        "RawContract.get_file name `a/../../b.csv`",
        lambda lake: lake.raw.get_file("a/../../b.csv", lake.scratch),
        ContractError,
        ("raw file name 'a/../../b.csv' is not valid",),
    ),
    LakeCase(
        "publish-type-change",
        "publish `id` as strings into a table where it is int64",
        _publish(pa.table({"id": ["x"], "name": ["a"]})),
        SchemaConflictError,
        ("column 'id' is int64 in the table but string", "nothing was written"),
    ),
    LakeCase(
        "publish-duplicate-columns",
        "publish a table with two columns named `id`",
        _publish(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["id", "id"])),
        ContractError,
        ("has column(s) 'id' more than once", "nothing was written"),
    ),
    LakeCase(
        "publish-empty-column-name",
        'publish a table with a column named `""`',
        _publish(pa.table({"id": [3], "": ["x"]})),
        ContractError,
        ("column 2 of the data to publish has an empty name", "nothing was written"),
    ),
    LakeCase(
        "publish-run-id-as-text",
        'publish with run_id `"2"`',
        _publish(pa.table({"id": [3]}), run_id="2"),
        ContractError,
        ("run_id '2' is not valid: expected a RunEvent id",),
    ),
    LakeCase(
        "publish-partition-traversal",
        "publish partitioned by `../x`",
        _publish(pa.table({"id": [3]}), partitions=["../x"]),
        ContractError,
        ("partition column '../x' is not a data column",),
    ),
    LakeCase(
        "publish-not-a-table",
        "publish a Python list",
        _publish([1, 2]),  # type: ignore[arg-type]
        ContractError,
        ("publish data is a list: expected a pandas DataFrame or a pyarrow Table",),
    ),
    LakeCase(
        "fetch-unknown-column",
        'fetch with filter `("nope", "=", 1)`',
        lambda lake: lake.table.fetch_arrow(filters=[("nope", "=", 1)]),
        ContractError,
        ("no column 'nope' in the table: expected one of id, name",),
    ),
    LakeCase(
        "fetch-negative-version",
        "fetch version `-1`",
        lambda lake: lake.table.fetch_arrow(version=-1),
        ContractError,
        ("version -1 is not valid: expected a table version",),
    ),
    LakeCase(
        "fetch-future-version",
        "fetch version `1000`",
        lambda lake: lake.table.fetch_arrow(version=1000),
        ContractNotFoundError,
        ("has no version 1000: expected 0 to 0",),
    ),
]

# --- confinement (issue 17): locations outside the configured roots (core/roots.py) -----


def _placed(template: str, pipeline: str, state: str, **variables: Any) -> Callable[[Any], Any]:
    """A new transformation of a standard transfer template with these variables."""

    def body(world: Any) -> dict[str, Any]:
        return {
            "transformation_template_id": world.template[template],
            "pipeline_state_id": world.state[(pipeline, state)],
            "variables": variables,
        }

    return body


def _confined(case_id: str, what: str, template: str, variable: str, value: str) -> ApiCase:
    where = {
        "extract_from_landing": ("acme_zentrix_patient_status", "raw"),
        "publish_to_s3": ("acme_zentrix_patient_status", "dimensional"),
        "extract_from_sftp": ("bluepeak_orvida_hub_services", "raw"),
    }[template]
    required = {
        "extract_from_landing": {},
        "publish_to_s3": {"input": "fill_metrics"},
        "extract_from_sftp": {"secret_name": "orvida_hub"},
    }[template]
    return ApiCase(
        case_id,
        "configuration",
        f"{template} `{variable}` = `{value}` ({what})",
        "POST",
        "/api/transformations",
        422,
        (f"variable {variable!r}={value!r} is refused",),
        body=_placed(template, *where, **required, **{variable: value}),
        loc=("body", "variables", variable),
    )


CONFIGURATION += [
    _confined("landing-core-home", "CORE_HOME itself", "extract_from_landing", "source", "."),
    _confined("landing-dot-dot", "climbing out", "extract_from_landing", "source", "../.."),
    _confined(
        "landing-dot-dot-inside",
        "climbing out of the own landing",
        "extract_from_landing",
        "source",
        "landing/acme_pharma/zentrix/../../../",
    ),
    _confined("landing-absolute", "an absolute path", "extract_from_landing", "source", "/etc"),
    _confined(
        "landing-secrets-file",
        "the secrets file",
        "extract_from_landing",
        "source",
        "secrets.toml",
    ),
    _confined(
        "landing-other-pipeline",
        "another pipeline's landing",
        "extract_from_landing",
        "source",
        "landing/bluepeak_bio/orvida",
    ),
    _confined(
        "landing-other-bucket",
        "a bucket that is no root",
        "extract_from_landing",
        "source",
        "s3://elsewhere/landing/acme_pharma/zentrix",
    ),
    _confined("export-core-home", "CORE_HOME itself", "publish_to_s3", "destination", "."),
    _confined("export-the-lake", "the lake", "publish_to_s3", "destination", "lake/dev"),
    _confined(
        "export-other-pipeline",
        "another pipeline's outbox",
        "publish_to_s3",
        "destination",
        "outbox/bluepeak_bio/orvida",
    ),
    _confined(
        "sftp-dot-dot", "climbing out", "extract_from_sftp", "remote_path", "/outgoing/../../etc"
    ),
]
# --- issue 17 (helper "sec"): names as full matches, hostile JSON, changes that would
# rewrite history or break every pipeline using a row. Paths name ids from
# ``test_bad_input.path_ids``.


def _another_pipelines_ingest(world: Any) -> dict[str, Any]:
    state = next(
        state
        for (pipeline, kind), state in sorted(world.state.items())
        if pipeline != "acme_zentrix_patient_status" and kind == "ingest"
    )
    return {"pipeline_state_id": state, "version": 1}  # the sample world's first version


SEC_CONFIGURATION = [
    ApiCase(
        "pipeline-name-trailing-newline",
        "configuration",
        "pipeline name `acme_zentrix_claims\\n` (a final line break)",
        "POST",
        "/api/pipelines",
        422,
        ("is not a valid Airflow dag id",),
        body=new_pipeline(name="acme_zentrix_claims\n"),
        loc=("body", "name"),
    ),
    ApiCase(
        "state-type-name-trailing-newline",
        "configuration",
        "state type name `curated\\n`",
        "POST",
        "/api/state-types",
        422,
        ("is not valid in a data-lake path",),
        body={"name": "curated\n", "graph_order": 8},
        loc=("body", "name"),
        role="admin",
    ),
    ApiCase(
        "cron-never-fires",
        "configuration",
        "run_frequency `0 0 31 2 *` (31 February)",
        "POST",
        "/api/pipelines",
        422,
        ("never fires (no such date, e.g. 31 February)",),
        body=new_pipeline(run_frequency="0 0 31 2 *"),
        loc=("body", "run_frequency"),
    ),
    ApiCase(
        "delete-pipeline-state-in-use",
        "configuration",
        "DELETE a pipeline state that has transformations",
        "DELETE",
        "/api/pipeline-states/{ingest_state}",
        409,
        ("cannot be deleted while it has transformations", "(initial_ingest)"),
    ),
    ApiCase(
        "rename-built-in-state-type",
        "configuration",
        "PATCH state type raw `{name: landing}`",
        "PATCH",
        "/api/state-types/{raw_type}",
        422,
        ("pipeline state type 'raw' is built in",),
        body={"name": "landing"},
        loc=("body", "name"),
        role="admin",
    ),
    ApiCase(
        "reorder-built-in-state-type",
        "configuration",
        "PATCH state type raw `{graph_order: 9}`",
        "PATCH",
        "/api/state-types/{raw_type}",
        422,
        ("pipeline state type 'raw' is built in",),
        body={"graph_order": 9},
        loc=("body", "graph_order"),
        role="admin",
    ),
    ApiCase(
        "rename-template-in-use",
        "configuration",
        "PATCH template initial_ingest `{name: first_ingest}`",
        "PATCH",
        "/api/templates/{ingest_template}",
        422,
        ("is used by transformation", "renaming it would break them"),
        body={"name": "first_ingest"},
        loc=("body", "name"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "template-structures-null-in-use",
        "configuration",
        "PATCH template initial_ingest `{variable_structures: null}`",
        "PATCH",
        "/api/templates/{ingest_template}",
        422,
        ("these variables would no longer fit", "(initial_ingest)"),
        body={"variable_structures": None},
        loc=("body", "variable_structures"),
        role="admin",  # templates are written by administrators
    ),
    ApiCase(
        "move-transformation-to-another-pipeline",
        "configuration",
        "PATCH a transformation's pipeline_state_id to another pipeline's state",
        "PATCH",
        "/api/transformations/{transformation}",
        422,
        ("cannot be moved into pipeline",),
        body=_another_pipelines_ingest,
        loc=("body", "pipeline_state_id"),
    ),
    ApiCase(
        "raw-state-ordered-last",
        "configuration",
        "PATCH the raw pipeline state `{graph_order: 50}`",
        "PATCH",
        "/api/pipeline-states/{raw_state}",
        422,
        ("the raw state must come before every other state",),
        body={"graph_order": 50},
        loc=("body", "graph_order"),
    ),
]
SEC_API = [
    ApiCase(
        "lone-surrogate-in-name",
        "api",
        "pipeline name `x\\ud800y` (a lone surrogate, valid JSON)",
        "POST",
        "/api/pipelines",
        422,
        ("unable to parse raw data as a unicode string",),
        content=b'{"name": "x\\ud800y", "pipeline_type_id": 1, "brand_id": 1}',
        loc=("body", "name"),
    ),
    ApiCase(
        "json-nested-600",
        "api",
        "variable_structures nested 600 deep",
        "POST",
        "/api/templates",
        422,
        ("must not be nested more than 64 levels deep",),
        content=b'{"name": "deep", "variable_structures": {"a": ' + _nested(600) + b"}}",
        loc=("body", "variable_structures"),
        role="admin",  # templates are written by administrators
    ),
]
CONFIGURATION += SEC_CONFIGURATION
API += SEC_API

CASES: list[Any] = [*CONFIGURATION, *API, *INGEST, *LAKE]
GROUPS = {
    "configuration": "Configuration (through the API)",
    "api": "API requests",
    "data": "Data (files, contracts, tables)",
}


def case_ids(cases: list[Any]) -> list[str]:
    """The test ids of some cases."""
    return [case.id for case in cases]


def unique_ids() -> bool:
    """Whether no two cases share an id."""
    ids = case_ids(CASES)
    return len(ids) == len(set(ids))


# --- cfgval (issue 12): variables checked by their meaning, and across the pipeline ----
_SQL_OK = {"inputs": ["pharmacy_a_status"], "dataset": "status_sql"}
MEANING = [
    ApiCase(
        "dataset-name-with-a-space",
        "configuration",
        "`initial_ingest` dataset `Flights 2013`",
        "POST",
        "/api/transformations",
        422,
        ("variable 'dataset'='Flights 2013' is not valid", "expected a dataset name"),
        body=new_transformation("initial_ingest", dataset="Flights 2013"),
        loc=("body", "variables", "dataset"),
    ),
    ApiCase(
        "dataset-name-a-path",
        "configuration",
        "`initial_ingest` dataset `bad name with spaces/..`",
        "POST",
        "/api/transformations",
        422,
        ("variable 'dataset'='bad name with spaces/..' is not valid",),
        body=new_transformation("initial_ingest", dataset="bad name with spaces/.."),
        loc=("body", "variables", "dataset"),
    ),
    ApiCase(
        "four-character-delimiter",
        "configuration",
        "`initial_ingest` delimiter `||||`",
        "POST",
        "/api/transformations",
        422,
        ("variable 'delimiter'='||||' is not valid", "expected one character"),
        body=new_transformation("initial_ingest", dataset="status_c", delimiter="||||"),
        loc=("body", "variables", "delimiter"),
    ),
    ApiCase(
        "sql-that-does-not-parse",
        "configuration",
        "`sql` query `selec carrier from pharmacy_a_status`",
        "POST",
        "/api/transformations",
        422,
        ("variable 'query'", "syntax error"),
        body=new_transformation("sql", **_SQL_OK, query="selec carrier from pharmacy_a_status"),
        loc=("body", "variables", "query"),
    ),
    ApiCase(
        "sql-input-no-transformation-writes",
        "configuration",
        '`sql` inputs `["no_such_dataset"]`',
        "POST",
        "/api/transformations",
        422,
        ("reads dataset 'no_such_dataset', which no other transformation",),
        body=new_transformation(
            "sql",
            inputs=["no_such_dataset"],
            dataset="status_sql",
            query="select * from no_such_dataset",
        ),
        loc=("body", "variables", "inputs"),
    ),
    ApiCase(
        "second-writer-of-a-dataset",
        "configuration",
        "`initial_ingest` dataset `pharmacy_a_status`, which another transformation writes",
        "POST",
        "/api/transformations",
        422,
        ("writes dataset 'pharmacy_a_status'", "(initial_ingest) in state 'ingest' writes too"),
        body=new_transformation("initial_ingest", dataset="pharmacy_a_status"),
        loc=("body", "variables", "dataset"),
    ),
]
CONFIGURATION.extend(MEANING)
CASES.extend(MEANING)
