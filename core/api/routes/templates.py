"""Which transformations are made from a template (the template itself: /api/templates/{id})."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from core.api.deps import SessionDep, Viewer
from core.api.routes.runs import IdPath
from core.api.schemas import json_response
from core.service import template_pages

router = APIRouter(prefix="/api", tags=["templates"])


@router.get("/templates/{template_id}/uses", response_model=list[template_pages.Use])
def template_uses(template_id: IdPath, session: SessionDep, _: Viewer) -> Any:
    """The transformations made from the template: id, pipeline, state. 404 if unknown."""
    return json_response(template_pages.template_detail(session, template_id).uses)
