"""The remediation log's writers. Every event -> one EventRecord; every finding -> one ActionRecord.

`Recorder` is the interface; `JsonLinesRecorder` writes structured JSON lines (stdout in the demo, a file
for `handle`). Durable storage and Azure Monitor recorders implement the same interface.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Protocol, TextIO

from warden.model import ActionRecord, EventRecord


class Recorder(Protocol):
    def record(self, event: EventRecord) -> None:
        """Persist the event's outcome and each of its action records. Raise if they could not be kept."""


def event_fields(event: EventRecord, at: datetime | None = None) -> dict[str, Any]:
    return {
        "record": "event",
        "time": (at or datetime.now(timezone.utc)).isoformat(),
        "event_id": event.event_id,
        "correlation_id": event.correlation_id,
        "event_type": event.event_type,
        "resource_id": event.resource_id,
        "resource_type": event.resource_type,
        "operation": event.operation,
        "outcome": event.outcome.value,
        "reason": event.reason,
        "caller": event.caller.as_dict(),
        "duration_ms": round(event.duration_ms, 2),
        "arm_calls": event.arm_calls,
        "checks": [a.check_id for a in event.actions],
        "error": event.error,
        "source": event.source,
        "exemption": dict(event.exemption) if event.exemption else None,
    }


def action_fields(action: ActionRecord, at: datetime | None = None) -> dict[str, Any]:
    return {
        "record": "action",
        "time": (at or datetime.now(timezone.utc)).isoformat(),
        "event_id": action.event_id,
        "correlation_id": action.correlation_id,
        "resource_id": action.resource_id,
        "resource_type": action.resource_type,
        "check": action.check_id,
        "severity": action.severity,
        "mode": action.mode,
        "action": action.action.value,
        "reason": action.reason,
        "detail": action.detail,
        "caller": action.caller.as_dict(),
        "before": dict(action.before),
        "after": dict(action.after),
        "exemption": dict(action.exemption) if action.exemption else None,
        "ticket": action.ticket,
        "dry_run": action.dry_run,
        "error": action.error,
        "source": action.source,
    }


def lines(event: EventRecord) -> Iterable[dict[str, Any]]:
    at = datetime.now(timezone.utc)
    yield event_fields(event, at)
    for action in event.actions:
        yield action_fields(action, at)


class JsonLinesRecorder:
    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()

    def record(self, event: EventRecord) -> None:
        text = "".join(json.dumps(line, default=str, sort_keys=True) + "\n" for line in lines(event))
        with self._lock:
            self._stream.write(text)
            self._stream.flush()


class MemoryRecorder:
    """Keeps records in a list: the demo's summary table reads it."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self._lock = threading.Lock()

    def record(self, event: EventRecord) -> None:
        with self._lock:
            self.events.append(event)


class FanOutRecorder:
    def __init__(self, *recorders: Recorder):
        self._recorders = recorders

    def record(self, event: EventRecord) -> None:
        for recorder in self._recorders:
            recorder.record(event)
