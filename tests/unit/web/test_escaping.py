"""Values from the database are shown escaped everywhere: list, detail, DAG, audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.helpers.session_helper import SessionHelper
from core.models import configuration as cfg
from core.settings import Settings

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _set_description(settings: Settings) -> None:
    with SessionHelper(settings, actor="test") as session:
        session.get(cfg.Pipeline, 1).description = f"{SCRIPT} and 'quotes' \"too\""
        template = session.get(cfg.Transformation, 1).transformation_template
        template.description = SCRIPT
        session.commit()


def test_a_description_is_escaped_on_the_list_and_the_detail_page(
    client: TestClient, as_viewer: str, settings: Settings
) -> None:
    _set_description(settings)
    for path in ("/pipelines", "/pipelines?q=alert", "/pipelines/1", "/audit"):
        html = client.get(path).text
        assert SCRIPT not in html, path
        assert ESCAPED in html, path


def test_the_svg_escapes_what_it_shows(
    client: TestClient, as_viewer: str, settings: Settings
) -> None:
    with SessionHelper(settings, actor="test") as session:
        session.get(cfg.Pipeline, 1).name = "acme_zentrix_x"
        session.commit()
    _set_description(settings)
    with SessionHelper(settings, actor="test") as session:
        session.get(cfg.PipelineStateType, 1).name  # noqa: B018 - loaded
        variable = session.get(cfg.Transformation, 1).transformation_variables[0]
        variable.value = SCRIPT
        session.commit()
    html = client.get("/pipelines/1").text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert "<script" not in svg and "DAG of acme_zentrix_x" in svg
    assert SCRIPT not in html and ESCAPED in html  # the variable's value in the table


def test_an_error_message_is_escaped(client: TestClient, as_viewer: str) -> None:
    html = client.get(f"/audit?table={SCRIPT}").text
    assert SCRIPT not in html and ESCAPED in html
