"""WebhookReceiver: a local plain-HTTP endpoint standing in for a Teams / Logic Apps webhook."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from emulator.wire import HeaderMap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: HeaderMap
    body: Any  # parsed JSON, or the raw text when it was not JSON
    raw: bytes
    status: int  # what the receiver answered


@dataclass
class _PlannedFailure:
    status: int
    remaining: int
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = raw.decode("utf-8", errors="replace")
        status, headers, payload = self.server.receiver._answer()
        self.server.receiver._record(ReceivedRequest(
            method=self.command, path=self.path, headers=HeaderMap(self.headers.items()),
            body=body, raw=raw, status=status,
        ))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _Handler)


class WebhookReceiver:
    """Captures every POSTed body and its headers in `.received`; answers 200 "1" like a Teams webhook.

    `fail_next(status, times, headers)` answers the next requests with an error instead.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, path: str = "/webhook") -> None:
        self.host = host
        self.port = port
        self.path = path
        self._lock = threading.Condition()
        self._received: list[ReceivedRequest] = []
        self._failures: list[_PlannedFailure] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> WebhookReceiver:
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
            self.url = f"http://{self.host}:{self.port}{self.path}"
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="webhook-receiver", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._thread is not None:
                self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(self, status: int = 500, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests with `status` (e.g. 429 with {"Retry-After": "1"})."""
        with self._lock:
            self._failures.append(_PlannedFailure(status, times, dict(headers or {})))

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every request, failed ones included (see `.status`)."""
        with self._lock:
            return list(self._received)

    @property
    def delivered(self) -> list[ReceivedRequest]:
        """Requests the receiver accepted (2xx)."""
        return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` requests were accepted (2xx)."""
        with self._lock:
            return self._lock.wait_for(
                lambda: sum(1 for r in self._received if 200 <= r.status < 300) >= count, timeout
            )

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._failures.clear()

    def _answer(self) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            while self._failures and self._failures[0].remaining <= 0:
                self._failures.pop(0)
            if self._failures:
                failure = self._failures[0]
                failure.remaining -= 1
                return failure.status, failure.headers, b"error"
        return 200, {}, b"1"

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._received.append(request)
            self._lock.notify_all()
