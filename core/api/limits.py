"""A limit on the size of request bodies, enforced before a body is read whole.

No request CORE serves needs more than a few hundred kilobytes (the largest are an
arrangement of 10,000 placements and a template's variable schema), so a larger body
is refused with a 413 that says the limit, before it is parsed or held in memory:
at once when its Content-Length says so, or as soon as a streamed (chunked) body
passes the limit.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest request body accepted, in bytes.
MAX_BODY_BYTES = 2 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """A streamed body passed the limit (raised from ``receive`` inside the app).

    An HTTPException, so that the app's handlers answer it (JSON for the API, an error
    page for the UI) wherever the body is being read.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(limit))


def too_large_message(limit: int, size: int | None = None) -> str:
    """The sentence a refused request gets, naming the limit (and the size, when known)."""
    sent = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return (
        f"the request body is too large: {sent} sent, expected at most {limit} bytes "
        f"({limit / 1024 / 1024:g} MiB); send less (descriptions are at most 10,000 "
        "characters, lists at most their documented lengths)"
    )


class BodySizeLimit:
    """ASGI middleware refusing HTTP requests whose body exceeds ``max_bytes`` with a 413.

    Args:
        app: the application to protect.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse at once by Content-Length; otherwise count the body as it is received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, too_large_message(self.max_bytes, declared))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:  # the app answered before reading it all: nothing more can be said
                raise
            await _refuse(send, too_large_message(self.max_bytes))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, message: str) -> None:
    body: Any = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
