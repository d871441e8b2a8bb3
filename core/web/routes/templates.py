"""Templates: every template with its variables, and the transformations made from it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.api.deps import SessionDep, Viewer
from core.service import template_pages
from core.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/templates")
def templates_page(request: Request, session: SessionDep, _user: Viewer) -> Response:
    """Every template: kind, state, variables (type, required, default), uses."""
    rows = template_pages.list_templates(session)
    return render(request, "templates/list.html", {"templates": rows})


@router.get("/templates/{template_id}")
def template_page(
    request: Request, template_id: int, session: SessionDep, _user: Viewer
) -> Response:
    """One template: its variables and every transformation made from it."""
    row = template_pages.template_detail(session, template_id)
    return render(request, "templates/detail.html", {"template": row})
