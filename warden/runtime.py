"""The composition root: builds the engine's collaborators from configuration, once per worker, lazily.

Triggers call `get_runtime()` on their first invocation, never at import: importing function_app must
stay cheap and must not open a connection.
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

    def handle_event(self, event: Mapping[str, Any]) -> EventRecord:
        """Handle one delivered event; raise RetryRequested when it failed so Event Grid redelivers."""
        record = self.engine.handle(triage(event, self.config.scope))
        if record.retry_requested:
            raise RetryRequested(f"event {record.event_id} failed: {record.reason}")
        return record


def build_runtime(environ: Mapping[str, str] | None = None, recorders: tuple[Recorder, ...] = (),
                  credential: Any = None, connection_verify: Any = True) -> Runtime:
    env = os.environ if environ is None else environ
    cfg = config_module.load(env)
    from warden.arm import ArmClient, build_credential
    from warden.state import MemoryState
    from warden.tickets import WebhookTicketSink

    arm = ArmClient(credential or build_credential(cfg.managed_identity_client_id, env), cfg.arm,
                    connection_verify=env.get("DRIFTWARDEN_ARM_CA_BUNDLE") or connection_verify)
    tickets = WebhookTicketSink(cfg.ticket_webhook_url) if cfg.ticket_webhook_url else RecordOnlyTicketSink()
    recorder = FanOutRecorder(LoggingRecorder(), *recorders)
    engine = Engine(cfg, arm, recorder, tickets, MemoryState())
    return Runtime(cfg, engine)


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime
