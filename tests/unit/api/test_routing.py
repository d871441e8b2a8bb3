"""Shared routes make the same application as FastAPI's include_router would."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

import core.api.app as app_module
from core.api import auth, routing
from core.api.app import create_app
from core.settings import Settings


def _include(app: FastAPI, routers: Any) -> None:
    for router in routers:
        app.include_router(router)


def _table(app: FastAPI) -> list[tuple[Any, ...]]:
    rows = []
    for route in app.routes:
        row: tuple[Any, ...] = (type(route).__name__, getattr(route, "path", None))
        if isinstance(route, APIRoute):
            row += (
                sorted(route.methods),
                route.name,
                route.status_code,
                route.response_model,
                route.include_in_schema,
                route.tags,
                [d.call for d in route.dependant.dependencies],
            )
        rows.append(row)
    return rows


def test_an_app_of_shared_routes_is_the_app_include_router_makes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = create_app(settings)
    for module in (routing, app_module, auth):
        monkeypatch.setattr(module, "add_routes", _include)
    copied = create_app(settings)
    assert _table(shared) == _table(copied)
    assert shared.openapi() == copied.openapi()
    assert len(_table(shared)) > 100
