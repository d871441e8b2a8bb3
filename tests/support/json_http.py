"""A small JSON HTTP server on loopback, for tests that play a remote API.

Subclass :class:`JsonHandler` with ``do_GET``/``do_POST`` methods that answer with
:meth:`JsonHandler.send_json`, and run it with :func:`serve`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers in JSON and logs nothing."""

    def send_json(self, body: Any, status: int = 200) -> None:
        """Answer with ``body`` as JSON.

        Args:
            body: anything json.dumps accepts.
            status: the HTTP status.
        """
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port in a thread, stopped on exit.

    Yields:
        The server's base URL (``http://127.0.0.1:PORT``).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
