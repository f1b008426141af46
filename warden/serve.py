"""`python -m warden serve`: an HTTP endpoint for Event Grid deliveries, for running outside Functions.

- Event Grid schema handshake: a SubscriptionValidationEvent is answered 200 {"validationResponse": code}.
- CloudEvents abuse protection: OPTIONS with WebHook-Request-Origin is answered with WebHook-Allowed-Origin.
- Every request must carry the shared secret (`aeg-sas-key` header, or `?code=` / `?key=`): else 401, recorded.
- Each event of a delivery is handled on its own; one failed event -> 500 so Event Grid redelivers.
"""
from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from warden.events import VALIDATION, DeliveryError, load_delivery
from warden.model import EventRecord, Outcome
from warden.records import Recorder

log = logging.getLogger("driftwarden.serve")
MAX_BODY = 2 * 1024 * 1024


class DeliveryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], key: str, handle_event: Callable[[dict], EventRecord],
                 recorder: Recorder):
        if not key:
            raise ValueError("serve needs a shared secret: set DRIFTWARDEN_SERVE_KEY or pass --key")
        super().__init__(address, _Handler)
        self.key = key
        self.handle_event = handle_event
        self.recorder = recorder

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/api/events"


class _Handler(BaseHTTPRequestHandler):
    server: DeliveryServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:  # the query string may hold the key: log the path only
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def _authorised(self) -> bool:
        query = parse_qs(urlsplit(self.path).query)
        offered = self.headers.get("aeg-sas-key") or (query.get("code") or query.get("key") or [""])[0]
        return bool(offered) and hmac.compare_digest(offered.encode(), self.server.key.encode())

    def _reject(self) -> None:
        self.server.recorder.record(EventRecord(None, None, None, None, None, None, Outcome.INVALID,
                                                f"rejected {self.command} delivery: missing or wrong shared secret"))
        self._send(401, {"error": "missing or wrong shared secret (aeg-sas-key header or code query parameter)"})

    def do_OPTIONS(self) -> None:
        if not self._authorised():
            return self._reject()
        origin = self.headers.get("WebHook-Request-Origin")
        headers = {"WebHook-Allowed-Origin": origin or "*", "WebHook-Allowed-Rate": "120", "Allow": "POST, OPTIONS"}
        self._send(200, None, headers)

    def do_POST(self) -> None:
        if not self._authorised():
            return self._reject()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.server.recorder.record(EventRecord(None, None, None, None, None, None, Outcome.INVALID,
                                                    f"delivery of {length} bytes refused: Event Grid events are at most 1 MB"))
            self._discard(length)
            self.close_connection = True
            return self._send(413, {"error": f"delivery is {length} bytes; Event Grid events are at most 1 MB"})
        body = self.rfile.read(length)
        try:
            events = load_delivery(body)
        except DeliveryError as error:
            self.server.recorder.record(EventRecord(None, None, None, None, None, None, Outcome.INVALID, str(error)))
            return self._send(400, {"error": str(error)})
        for event in events:
            if isinstance(event, dict) and str(event.get("eventType", "")).lower() == VALIDATION.lower():
                code = (event.get("data") or {}).get("validationCode")
                return self._send(200, {"validationResponse": code})
        failed = []
        for event in events:
            try:
                record = self.server.handle_event(event)
            except Exception as error:  # RetryRequested or a bug: this delivery must be redelivered
                failed.append(str(error))
                continue
            if record.outcome is Outcome.FAILED:
                failed.append(record.reason)
        if failed:
            return self._send(500, {"error": "some events failed and will be redelivered", "failed": failed})
        self._send(200, {"handled": len(events)})

    def _discard(self, length: int, limit: int = 64 * 1024 * 1024) -> None:
        """Read (and drop) an oversized body so the client sees our answer instead of a reset connection."""
        remaining = min(length, limit)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, status: int, body: dict | None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
