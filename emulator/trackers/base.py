"""A small threaded HTTP server on 127.0.0.1 (plain http, port 0) that the tracker fakes build on.

Each fake implements `route(request) -> Answer`; the base records every call with the status it answered,
and can be told to answer the next requests with a planned failure (status, headers, body) first.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw.strip() else None


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-serialisable, bytes, or None for no body
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON, raw text when not JSON, None when empty
    status: int


@dataclass
class _Planned:
    answer: Answer
    remaining: int
    when: Callable[[Request], bool]


class TrackerFake:
    """Base of the fakes: lifecycle, call log, planned failures."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._planned: list[_Planned] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, count: int = 1, headers: dict[str, str] | None = None, body: Any = None,
                  when: Callable[[Request], bool] = lambda request: True,
                  content_type: str = "application/json; charset=utf-8") -> None:
        """Answer the next `count` matching requests with this failure, before any contract check."""
        with self._lock:
            self._planned.append(_Planned(Answer(status, body, dict(headers or {}), content_type), count, when))

    def clear_failures(self) -> None:
        with self._lock:
            self._planned = []

    def calls_to(self, method: str, fragment: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and fragment in c.path]

    def route(self, request: Request) -> Answer:
        raise NotImplementedError

    def common_headers(self) -> dict[str, str]:
        return {}

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> "TrackerFake":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                                  {k.lower(): v for k, v in self.headers.items()}, raw)
                answer = fake._answer(request)
                payload = answer.body if isinstance(answer.body, bytes) else (
                    b"" if answer.body is None else json.dumps(answer.body).encode())
                self.send_response(answer.status)
                for name, value in {**fake.common_headers(), **answer.headers}.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            answer = None
            for planned in self._planned:
                if planned.remaining > 0 and planned.when(request):
                    planned.remaining -= 1
                    answer = planned.answer
                    break
            self._planned = [p for p in self._planned if p.remaining > 0]
            if answer is None:
                try:
                    answer = self.route(request)
                except BadJson:
                    answer = self.bad_json()
            try:
                body: Any = request.json()
            except (ValueError, UnicodeDecodeError):
                body = request.raw.decode("utf-8", errors="replace")
            self.calls.append(Call(request.method, request.path, request.query, request.headers, body, answer.status))
            return answer

    def bad_json(self) -> Answer:
        return Answer(400, {"message": "Problems parsing JSON"})


class BadJson(Exception):
    pass


def json_body(request: Request) -> Any:
    try:
        return request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadJson() from None
