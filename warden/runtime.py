"""The composition root: builds the engine's collaborators from configuration, once per worker, lazily.

Triggers call `get_runtime()` on their first invocation, never at import: importing function_app must
stay cheap and must not open a connection.

What gets built depends only on which settings are present:
- DRIFTWARDEN_STORAGE_CONNECTION_STRING or DRIFTWARDEN_STORAGE_ACCOUNT -> TableState (event leases, revert
  history, pending reverts) and the durable remediation log (TableRecorder), sharing one TableServiceClient;
  otherwise MemoryState and no durable log.
- APPLICATIONINSIGHTS_CONNECTION_STRING -> Azure Monitor OpenTelemetry (configured once per process), the
  TelemetryRecorder and a span per event; otherwise each record is one JSON log line (LoggingRecorder).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Mapping

from warden import config as config_module
from warden.config import Config
from warden.engine import Engine, RetryRequested
from warden.events import triage
from warden.model import EventRecord
from warden.records import FanOutRecorder, Recorder, lines
from warden.telemetry import NO_SPANS, EventSpans
from warden.tickets import Ticket

log = logging.getLogger("driftwarden")


class LoggingRecorder:
    """Every record as one structured log line: the Functions host ships it to Application Insights."""

    def __init__(self, logger: logging.Logger = log):
        self._logger = logger

    def record(self, event: EventRecord) -> None:
        for line in lines(event):
            self._logger.info(json.dumps(line, default=str, sort_keys=True))


class RecordOnlyTicketSink:
    """No tracker configured: the ticket lives in the remediation log (the workbook and Sentinel read it)."""

    def open(self, ticket: Ticket) -> str:
        log.warning(json.dumps({"record": "ticket", "ticket": ticket.as_json()}, default=str))
        return f"log:{ticket.key}"

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        """Nothing to close: the remediation log shows the finding passing."""


@dataclass
class Runtime:
    config: Config
    engine: Engine
    spans: EventSpans = NO_SPANS

    def handle_event(self, event: Mapping[str, Any]) -> EventRecord:
        """Handle one delivered event; raise RetryRequested when it failed so Event Grid redelivers.

        Any other exception (Table Storage unreachable, another worker holding the event) also fails the
        delivery, and Event Grid redelivers it."""
        classified = triage(event, self.config.scope)
        with self.spans.event(classified) as span:
            record = self.engine.handle(classified)
            span.finish(record)
        if record.retry_requested:
            raise RetryRequested(f"event {record.event_id} failed: {record.reason}")
        return record


def build_runtime(environ: Mapping[str, str] | None = None, recorders: tuple[Recorder, ...] = (),
                  credential: Any = None, connection_verify: Any = True) -> Runtime:
    env = os.environ if environ is None else environ
    cfg = config_module.load(env)
    from warden import telemetry
    from warden.arm import ArmClient, build_credential
    from warden.state import MemoryState
    from warden.approvals import build_proposals
    from warden.table_state import storage_from_env
    from warden.ticketing.factory import build_ticket_sink

    storage = storage_from_env(env)  # validated before anything is built: a bad setting fails the first event
    monitor = telemetry.settings_from_env(env)
    credential = credential or build_credential(cfg.managed_identity_client_id, env)
    arm = ArmClient(credential, cfg.arm, connection_verify=env.get("DRIFTWARDEN_ARM_CA_BUNDLE") or connection_verify)

    # Observers first: they never raise, so Log Analytics sees every attempt even when storage is down.
    # The durable log goes last; when it raises, the event fails and Event Grid redelivers it.
    observers: list[Recorder] = []
    if monitor is not None:
        telemetry.configure(monitor)
        observers.append(telemetry.TelemetryRecorder())
    else:
        observers.append(LoggingRecorder())
    durable: list[Recorder] = []
    if storage is not None:
        from warden.remediation_log import TableRecorder
        from warden.table_state import TableState

        service = storage.service_client(credential=None if storage.connection_string else credential)
        state = TableState(service, names=storage.names, lease=storage.lease)
        durable.append(TableRecorder(service, names=storage.names, state=state))
    else:
        service = None
        state = MemoryState()
    recorder = FanOutRecorder(*observers, *recorders, *durable)
    # The tracker of this deployment (with its durable outbox when storage is configured), else the log itself.
    tickets = build_ticket_sink(cfg, env, service=service, credential=credential) or RecordOnlyTicketSink()
    engine = Engine(cfg, arm, recorder, tickets, state,
                    proposals=build_proposals(env, service=service, credential=credential))
    return Runtime(cfg, engine, EventSpans(enabled=monitor is not None))


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime
