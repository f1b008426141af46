"""A local Application Insights ingestion endpoint: captures the envelopes the real Azure Monitor exporter
posts to `/v2.1/track`, and a guard that fails any connection (or name lookup) beyond loopback.

Fixtures: `ingestion` (session: the endpoint), `monitored` (session: warden.telemetry configured against it),
`loopback_only` (per test: refuses and reports any connection or name lookup beyond loopback).
"""
from __future__ import annotations

import gzip
import ipaddress
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

INSTRUMENTATION_KEY = "00000000-0000-4000-8000-0000000d71f7"


class IngestionEndpoint:
    def __init__(self, host: str = "127.0.0.1"):
        endpoint = self
        self.envelopes: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                items = json.loads(body or b"[]")
                items = items if isinstance(items, list) else [items]
                with endpoint._lock:
                    endpoint.paths.append(self.path)
                    if self.path.split("?")[0].rstrip("/").endswith("/track"):
                        endpoint.envelopes.extend(items)
                    endpoint._lock.notify_all()
                answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={self.url}"

    def messages(self) -> list[dict[str, Any]]:
        """MessageData envelopes (log records) as (properties, message, severityLevel) dicts."""
        with self._lock:
            items = list(self.envelopes)
        out = []
        for envelope in items:
            data = envelope.get("data", {})
            if data.get("baseType") == "MessageData":
                base = data.get("baseData", {})
                out.append({"message": base.get("message"), "severity": base.get("severityLevel"),
                            "properties": base.get("properties", {}), "tags": envelope.get("tags", {})})
        return out

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.envelopes if e.get("data", {}).get("baseType") == base_type]

    def wait_for(self, predicate: Callable[["IngestionEndpoint"], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.2))
        return True

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- nothing leaves loopback --------------------------------------------------------------------------

def _loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class OutsideConnections:
    """Wraps socket connects and name lookups; anything not on loopback is recorded and refused."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> "OutsideConnections":
        guard = self
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        real_getaddrinfo, real_create = socket.getaddrinfo, socket.create_connection
        self._saved = {"connect": real_connect, "connect_ex": real_connect_ex, "getaddrinfo": real_getaddrinfo,
                       "create_connection": real_create}

        def check(what: str, host: Any) -> None:
            if not _loopback(host):
                guard.attempts.append(f"{what} {host}")
                raise OSError(f"test guard: no connection beyond loopback ({what} {host})")

        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                check("connect", address[0])
            return real_connect(sock, address)

        def connect_ex(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                check("connect", address[0])
            return real_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):
            check("resolve", host.decode() if isinstance(host, bytes) else host)
            return real_getaddrinfo(host, *args, **kwargs)

        def create_connection(address, *args, **kwargs):
            check("create_connection", address[0])
            return real_create(address, *args, **kwargs)

        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
        socket.getaddrinfo, socket.create_connection = getaddrinfo, create_connection
        return self

    def __exit__(self, *exc_info) -> None:
        socket.socket.connect, socket.socket.connect_ex = self._saved["connect"], self._saved["connect_ex"]
        socket.getaddrinfo, socket.create_connection = self._saved["getaddrinfo"], self._saved["create_connection"]


@contextmanager
def no_outside_connections() -> Iterator[OutsideConnections]:
    with OutsideConnections() as guard:
        yield guard


# --- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def ingestion():
    endpoint = IngestionEndpoint()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def monitored(ingestion, tmp_path_factory):
    """warden.telemetry configured once for this test process against the local endpoint (OpenTelemetry's
    providers are process-wide). Configuring itself must not reach beyond loopback."""
    from warden import telemetry

    os.environ["OTEL_TRACES_SAMPLER"] = "always_on"  # the default rate-limited sampler drops the first spans
    with no_outside_connections() as guard:
        settings = telemetry.settings_from_env({
            "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
            "DRIFTWARDEN_TELEMETRY_STORAGE_DIR": str(tmp_path_factory.mktemp("telemetry-storage")),
        })
        telemetry.configure(settings)
    assert guard.attempts == [], f"configuring telemetry reached beyond loopback: {guard.attempts}"
    yield ingestion
    telemetry.flush()


@pytest.fixture
def loopback_only():
    """Fails the test if anything in it (exporter threads included) connects or resolves beyond loopback."""
    with no_outside_connections() as guard:
        yield guard
    assert guard.attempts == [], f"reached beyond loopback: {guard.attempts}"
