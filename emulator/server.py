"""ArmEmulator: the HTTPS server on 127.0.0.1 and the test-facing control API."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme

from emulator import estate, samples
from emulator.arm import ArmService
from emulator.credential import DEFAULT_TENANT_ID
from emulator.events import EventBus, EventCallback
from emulator.faults import Fault
from emulator.graph import ResourceGraph
from emulator.ids import id_key, parse_resource_id
from emulator.lro import LRO_MODES, Operation
from emulator.state import ResourceStore, new_etag, with_identity
from emulator.wire import ArmError, HeaderMap, Request, Response

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator saw it, with the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: HeaderMap
    body: Any  # parsed JSON, the raw text if it was not JSON, None when empty
    status: int
    url: str = ""
    at: float = field(default_factory=time.time)


def _parse_for_record(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", errors="replace")


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: ArmEmulator) -> None:
        self.context = context
        self.emulator = emulator
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the per-connection thread, so one slow or failing client
        # cannot stall the accept loop.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            _Handler(tls, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    disable_nagle_algorithm = True  # otherwise each HTTPS response waits ~40 ms for delayed ACKs
    timeout = 120  # idle keep-alive connections release their thread eventually
    server: _TlsServer

    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_PATCH = do_POST = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        raw = self._read_body()
        split = urlsplit(self.path)
        base = f"https://{self.headers.get('Host') or self.server.emulator.base_url.split('//', 1)[1]}"
        req = Request(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=HeaderMap(self.headers.items()),
            raw_body=raw,
            client_ip=self.client_address[0],
            base_url=base,
            url=base + self.path,
        )
        emulator = self.server.emulator
        response, events = emulator._dispatch(req)
        try:
            emulator._record(req, response, events)
            self._send(response)
        finally:
            emulator._bus.dispatch(events)  # subscribers run only after the caller got its answer

    def _send(self, response: Response) -> None:
        payload = b"" if self.command == "HEAD" else response.encoded_body()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class ArmEmulator:
    """A local Azure Resource Manager + subscription Event Grid topic, over HTTPS on 127.0.0.1.

    Use as a context manager or call start()/stop(). Real azure-mgmt clients work against it:
    `Client(EmulatorCredential(), sub, **emu.client_kwargs())`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        lro_mode: str = "sync",
        async_polls: int = 2,
        async_complete_after: float | None = None,
        page_size: int = 100,
        tenant_id: str = DEFAULT_TENANT_ID,
    ) -> None:
        self.host = host
        self.port = port
        self.tenant_id = tenant_id
        self._store = ResourceStore()
        self._bus = EventBus()
        self._service = ArmService(self._store, self._bus, tenant_id)
        self.lro_mode = lro_mode
        self.async_polls = async_polls
        self.async_complete_after = async_complete_after
        self.page_size = page_size
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._cert_dir: Path | None = None
        self.ca_pem_path = ""
        self.base_url = ""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> ArmEmulator:
        if self._server is not None:
            return self
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._cert_dir = Path(tempfile.mkdtemp(prefix="driftwarden-emulator-"))
        ca_path = self._cert_dir / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_pem_path = str(ca_path)
        self._server = _TlsServer((self.host, self.port), context, self)
        self.port = self._server.server_address[1]
        self.base_url = f"https://{self.host}:{self.port}"
        self._bus.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="arm-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._service.ops.cancel_timers()
        self._bus.stop()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None
        if self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = None

    def __enter__(self) -> ArmEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that point an azure-mgmt client at this emulator."""
        return {"base_url": self.base_url, "connection_verify": self.ca_pem_path}

    # ----------------------------------------------------------------- behaviour knobs
    @property
    def lro_mode(self) -> str:
        return self._service.lro_mode

    @lro_mode.setter
    def lro_mode(self, mode: str) -> None:
        if mode not in LRO_MODES:
            raise ValueError(f"lro mode must be one of {LRO_MODES}, not {mode!r}")
        self._service.lro_mode = mode

    @property
    def async_polls(self) -> int:
        """Status GETs answered InProgress before an async operation completes by itself."""
        return self._service.async_polls

    @async_polls.setter
    def async_polls(self, value: int) -> None:
        self._service.async_polls = value

    @property
    def async_complete_after(self) -> float | None:
        """Seconds after which an async operation completes without being polled (None: never)."""
        return self._service.async_complete_after

    @async_complete_after.setter
    def async_complete_after(self, value: float | None) -> None:
        self._service.async_complete_after = value

    @property
    def page_size(self) -> int:
        """Items per page of an ARM collection GET (the rest follows through nextLink)."""
        return self._service.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self._service.page_size = value

    @property
    def graph_int_booleans(self) -> bool:
        """Render booleans in Resource Graph `properties` as 1/0."""
        return self._service.graph.int_booleans

    @graph_int_booleans.setter
    def graph_int_booleans(self, value: bool) -> None:
        self._service.graph.int_booleans = value

    @property
    def graph(self) -> ResourceGraph:
        """The Resource Graph stand-in (quota_per_window, enforce_quota, freeze(), thaw())."""
        return self._service.graph

    def set_lro(self, resource_id: str | None, mode: str) -> None:
        """Set the LRO mode ("sync" | "async" | "async-fail") globally (None) or for one resource."""
        if mode not in LRO_MODES:
            raise ValueError(f"lro mode must be one of {LRO_MODES}, not {mode!r}")
        if resource_id is None:
            self._service.lro_mode = mode
        else:
            self._service.lro_overrides[id_key(resource_id)] = mode

    def complete_operations(self) -> int:
        """Complete every pending async operation now; returns how many were completed."""
        pending = self._service.ops.pending()
        for op in pending:
            self._service.complete(op)
        return len(pending)

    @property
    def pending_operations(self) -> list[Operation]:
        return self._service.ops.pending()

    # ----------------------------------------------------------------- faults
    def inject_fault(
        self,
        method: str | None = None,
        path_contains: str = "",
        status: int | None = 500,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        error_code: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests (None: all) with status, after `delay` seconds.

        `status=None` with a delay only slows matching requests down. Returns a handle with
        `.hits`, `.remaining` and `.cancel()`.
        """
        return self._service.faults.add(Fault(
            method=method, path_contains=path_contains, status=status, headers=dict(headers or {}),
            remaining=times, delay=delay, error_code=error_code, message=message,
        ))

    def clear_faults(self) -> None:
        self._service.faults.clear()

    # ----------------------------------------------------------------- state
    def put_resource(self, resource_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Seed a resource without events: id/name/type come from the id, a fresh etag is set."""
        path = parse_resource_id(resource_id)
        stored = with_identity(copy.deepcopy(body), path)
        stored["etag"] = new_etag()
        return copy.deepcopy(self._store.store(resource_id, stored).body)

    def get_resource(self, resource_id: str) -> dict[str, Any] | None:
        return self._store.get(resource_id)

    def delete_resource(self, resource_id: str) -> bool:
        """Remove a resource (and its children) without events; False if it did not exist."""
        self._service.keys.forget(resource_id)
        return self._store.remove(resource_id)

    def list_resources(self, resource_type: str | None = None) -> list[dict[str, Any]]:
        wanted = resource_type.lower() if resource_type else None
        return [copy.deepcopy(e.body) for e in self._store.entries() if wanted is None or e.type_key == wanted]

    def seed_from_samples(self, subscription_id: str, resource_group: str) -> dict[str, str]:
        """Seed every ARM sample GET body under a realistic id; returns {sample file: resource id}."""
        seeded = samples.sample_resources(subscription_id, resource_group)
        for resource_id, body in seeded.values():
            self.put_resource(resource_id, body)
        return {name: rid for name, (rid, _) in seeded.items()}

    def generate_estate(
        self, n: int, drift_rate: float = 0.2, subscription_id: str = estate.DEFAULT_SUBSCRIPTION, seed: int = 0
    ) -> dict[str, Any]:
        """Add n generated AI resources, about drift_rate of them drifted; returns a summary."""
        resources, summary = estate.build_estate(n, drift_rate, subscription_id, seed)
        self._store.store_many(resources)
        return summary

    def freeze_graph(self) -> None:
        """Resource Graph keeps answering from the current state until thaw_graph() (ARG lag)."""
        self._service.graph.freeze()

    def thaw_graph(self) -> None:
        self._service.graph.thaw()

    # ----------------------------------------------------------------- requests and events
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    @property
    def events(self) -> list[dict[str, Any]]:
        return self._bus.events

    def clear_events(self) -> None:
        self._bus.clear()

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call callback(event) for every emitted event, on the emulator's event thread, in order.

        Runs after the HTTP response went out, so the callback may call the emulator (over HTTP
        or directly). It must not wait for a later event itself. Returns an unsubscribe function.
        """
        return self._bus.subscribe(callback)

    def wait_for_events(self, count: int, timeout: float = 5.0) -> bool:
        return self._bus.wait_for(count, timeout)

    def flush_events(self, timeout: float = 5.0) -> bool:
        """Wait until every subscriber has seen every emitted event."""
        return self._bus.flush(timeout)

    @property
    def subscriber_errors(self) -> list[BaseException]:
        """Exceptions raised by subscriber callbacks (logged, and delivery went on)."""
        return list(self._bus.errors)

    # ----------------------------------------------------------------- server side
    def _dispatch(self, req: Request) -> tuple[Response, list[dict[str, Any]]]:
        try:
            return self._service.handle(req)
        except Exception as exc:  # an emulator bug: answer like ARM would, keep serving, log loudly
            log.exception("emulator failed on %s %s", req.method, req.path)
            return ArmError(500, "InternalServerError", f"Emulator error: {exc!r}").to_response(), []

    def _record(self, req: Request, response: Response, events: list[dict[str, Any]]) -> None:
        with self._requests_lock:
            self._requests.append(RecordedRequest(
                method=req.method, path=req.path, query=dict(req.query), headers=req.headers,
                body=_parse_for_record(req.raw_body), status=response.status, url=req.url,
            ))
        self._bus.record(events)


