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

IN_FLIGHT = 64  # above 40 threads + 15 connections
# No request has a deadline of its own: a slow (busy) machine must not fail the test.
# The hang it guards against ends in the pool's 30 s timeout, so those requests come
# back as errors (500), and a hang for good is ended by pytest's timeout. (With a
# per-request deadline, requests given up on kept working in the server's threads
# after the test, slowing every test after it.)


async def burst(app: FastAPI, path: str, headers: dict[str, str]) -> Counter[object]:
    """IN_FLIGHT concurrent GETs of ``path``; their statuses counted."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:

        async def one() -> object:
            return (await client.get(path, headers=headers)).status_code

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
