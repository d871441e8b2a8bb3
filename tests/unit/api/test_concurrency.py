"""Many requests at once: the API answers them all instead of hanging.

A sync route that returned a model had FastAPI validate it again in a threadpool
hop taken after the route, while the request's session still held its pooled
connection; with more requests in flight than worker threads (40) plus pooled
connections (15), every thread waited for a connection that only such a hop would
give back, and the server hung until the pool's 30 s timeout. The routes now send
responses they serialized themselves (core.api.schemas.json_response).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI

IN_FLIGHT = 150  # well above 40 threads + 15 connections


async def burst(app: FastAPI, path: str, headers: dict[str, str]) -> Counter[object]:
    """IN_FLIGHT concurrent GETs of ``path``; their statuses (or errors) counted."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:

        async def one() -> object:
            try:
                response = await asyncio.wait_for(client.get(path, headers=headers), 20)
            except TimeoutError:
                return "timed out"
            return response.status_code

        return Counter(await asyncio.gather(*(one() for _ in range(IN_FLIGHT))))


@pytest.mark.parametrize(
    "path",
    [
        "/api/pipelines",
        "/api/pipelines/1",
        "/api/pipelines/1/plan",
        "/api/companies",
        "/api/templates/1",
        "/api/filters",
        "/api/session",
        "/healthz",
        "/api/runs",
        "/api/audit",
    ],
)
def test_more_requests_than_threads_and_connections_are_all_answered(
    app: FastAPI, viewer: dict[str, str], path: str
) -> None:
    assert asyncio.run(burst(app, path, viewer)) == {200: IN_FLIGHT}
