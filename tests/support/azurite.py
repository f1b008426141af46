"""Azurite for the tests: one in-memory azurite-table per session, a fresh table prefix per test, and a
loopback proxy in front of it that can answer 503 or refuse connections (a Table Storage outage).

Fixtures: `azurite` (session: connection string), `table_prefix` (unique per test), `storage_proxy`
(per test: a FaultyStorageProxy in front of the session's Azurite). `RequestCounter` counts a client's requests.
"""
from __future__ import annotations

import http.client
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import pytest

from warden.local_services import Azurite, connection_string

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_UNAVAILABLE_BODY = (b'{"odata.error":{"code":"ServerBusy","message":{"lang":"en-US",'
                     b'"value":"The server is currently unable to receive requests. Please retry your request."}}}')


class FaultyStorageProxy:
    """An HTTP proxy on 127.0.0.1 in front of Azurite.

    mode "pass" forwards; "unavailable" answers 503 ServerBusy; `down()` closes the listening socket
    (connection refused) and `up()` listens again on the same port. `fail_after(predicate)` passes requests
    until one matching `predicate(method, path)` has gone through, then answers 503 to every later one.
    `requests` lists (method, path, status) of what reached the proxy.
    """

    def __init__(self, upstream_port: int, host: str = "127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.host = host
        self.mode = "pass"
        self.requests: list[tuple[str, str, int]] = []
        self._trip: Callable[[str, str], bool] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def connection_string(self) -> str:
        return connection_string(self.port, self.host)

    def up(self) -> None:
        if self._server is not None:
            return
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = proxy._answer(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = do_HEAD = _handle

            def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
                pass

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def fail_after(self, predicate: Callable[[str, str], bool]) -> None:
        with self._lock:
            self._trip = predicate

    def heal(self) -> None:
        with self._lock:
            self.mode, self._trip = "pass", None
        self.up()

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes):
        with self._lock:
            unavailable = self.mode == "unavailable"
            if not unavailable and self._trip is not None and self._trip(method, path):
                self.mode, self._trip = "unavailable", None  # this request passes, the next ones fail
        if unavailable:
            with self._lock:
                self.requests.append((method, path, 503))
            return 503, [("Content-Type", "application/json"), ("x-ms-error-code", "ServerBusy")], _UNAVAILABLE_BODY
        connection = http.client.HTTPConnection(*self.upstream, timeout=10)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            with self._lock:
                self.requests.append((method, path, response.status))
            return response.status, response.getheaders(), payload
        finally:
            connection.close()

    def close(self) -> None:
        self.down()


class RequestCounter:
    """An azure-core `raw_request_hook`: records (method, url) of every request a Table client sends."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, request) -> None:
        with self._lock:
            self.requests.append((request.http_request.method, request.http_request.url))


@pytest.fixture(scope="session")
def azurite_server():
    with Azurite() as server:
        yield server


@pytest.fixture(scope="session")
def azurite(azurite_server) -> str:
    """The connection string of the session's Azurite (127.0.0.1, in memory)."""
    return azurite_server.connection_string


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix of this test's own (tables are created on first use)."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def storage_proxy(azurite_server):
    proxy = FaultyStorageProxy(azurite_server.port)
    yield proxy
    proxy.close()
