"""Routers built once per process, their routes shared by every app built from them.

FastAPI's ``include_router`` copies each route for each app, and the copy analyses
the endpoint again: every dependency's signature, a pydantic model per parameter.
For CORE's ~150 routes that is 0.2-0.35 s per app — most of the set-up of each API
and UI test (each builds its own app), and a slower start for every uvicorn worker.
The routers CORE includes take no include-time options (no prefix, dependencies or
tags beyond their own), so the route objects they built are already what
``include_router`` would make, and one app can use them as they are.

The one thing a shared route cannot see is ``app.dependency_overrides`` (a copy made by
``include_router`` points back at its app); CORE uses none.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from fastapi import APIRouter, FastAPI


def add_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Add the routers' routes to the app, in order, without copying them."""
    for router in routers:
        app.router.routes.extend(router.routes)


@cache
def resource_routers() -> tuple[APIRouter, ...]:
    """The CRUD routers of ``resources.resource_routes()``, built once per process."""
    from core.api.routes import resources

    return tuple(resources.build_router(spec) for spec in resources.resource_routes())
