"""A faulty HTTP endpoint in front of another one (moto's server): 500/503 answers and stalls.

The proxy runs in a background thread on a loopback port. It forwards every
request to the upstream server unchanged, except the ones its :class:`Faults`
pick: those are answered with an S3-style error (``503 SlowDown``, ``500
InternalError``) or held for a while before being forwarded, so that the client
times out. Every request is recorded, so tests can count what was retried.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

Match = Callable[[str, str], bool]  # (method, path) -> True when the fault applies

S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}
# Headers that describe one hop, not the message: never forwarded as they are.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "expect"}


def any_request(_method: str, _path: str) -> bool:
    """A Match that picks every request."""
    return True


@dataclass
class Fault:
    """One kind of fault, for the next ``times`` requests that ``match`` picks.

    Attributes:
        times: how many more requests it applies to (a large number: "always").
        status: the error status to answer with (None: forward after ``delay``).
        delay: seconds to hold the request before answering or forwarding.
        match: which requests it applies to.
    """

    times: int
    status: int | None = None
    delay: float = 0.0
    match: Match = any_request


@dataclass
class Faults:
    """The faults still to serve, and a record of every request.

    Attributes:
        pending: faults in the order they are tried.
        log: (method, path, what happened) for every request: ``"ok"``, the error
            status served, or ``"delayed"``.
    """

    pending: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, fault: Fault) -> None:
        """Serve this fault (after any added before it)."""
        with self._lock:
            self.pending.append(fault)

    def clear(self) -> None:
        """Serve no more faults; every request is forwarded from now on."""
        with self._lock:
            self.pending.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to serve to this request (counted), or None."""
        with self._lock:
            for fault in self.pending:
                if fault.times > 0 and fault.match(method, path):
                    fault.times -= 1
                    return fault
        return None

    def record(self, method: str, path: str, outcome: str) -> None:
        """Note what happened to a request."""
        with self._lock:
            self.log.append((method, path, outcome))

    def served(self, outcome: str) -> int:
        """How many requests ended as ``outcome`` ("ok", "503", "delayed", ...)."""
        with self._lock:
            return sum(1 for entry in self.log if entry[2] == outcome)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        return None  # quiet: the Faults' log records every request

    def _forward(self) -> None:
        body = self._read_body()
        fault = self.server.faults.take(self.command, self.path)
        if fault is not None and fault.delay:
            self.server.faults.record(self.command, self.path, "delayed")
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            self.server.faults.record(self.command, self.path, str(fault.status))
            self._answer_error(fault.status)
            return
        status, reason, headers, payload = self._upstream(body)
        if fault is None:
            self.server.faults.record(self.command, self.path, "ok")
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_HEADERS and name.lower() != "content-length":
                self.send_header(name, value)
        length = {k.lower(): v for k, v in headers}.get("content-length")
        if self.command == "HEAD" and length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _upstream(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        host, port = self.server.upstream
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()

    def _answer_error(self, status: int) -> None:
        code, message = S3_ERRORS.get(status, ("ServiceUnavailable", "Try again."))
        payload = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{self.path}</Resource><RequestId>faulty-proxy</RequestId></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def handle_one_request(self) -> None:
        # A client that gave up (timed out) closes its end: that is the point, not an error.
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle_one_request()


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: tuple[str, int], faults: Faults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self.faults = upstream, faults


@contextlib.contextmanager
def faulty_endpoint(upstream_url: str) -> Iterator[tuple[str, Faults]]:
    """Run a faulty proxy in front of ``upstream_url``; yield its URL and its Faults.

    Args:
        upstream_url: the server to forward to, e.g. moto's ``http://127.0.0.1:PORT``.
    """
    parsed = urlparse(upstream_url)
    faults = Faults()
    server = _ProxyServer((parsed.hostname or "127.0.0.1", parsed.port or 80), faults)
    thread = threading.Thread(target=server.serve_forever, name="faulty-proxy", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}", faults
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
