"""Pending asynchronous (202 Accepted) operations and their status documents."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.ids import id_key
from emulator.state import utc_now_iso
from emulator.wire import ArmError

LRO_MODES = ("sync", "async", "async-fail")

# apply() performs the deferred write and returns (final result body or None, events to publish);
# fail() returns the events of a failed operation.
ApplyFn = Callable[[], tuple[Any, list[dict[str, Any]]]]
FailFn = Callable[[ArmError], list[dict[str, Any]]]


@dataclass
class Operation:
    op_id: str
    subscription: str
    namespace: str
    location: str
    resource_id: str
    method: str
    api_version: str
    apply: ApplyFn = field(repr=False)
    fail: FailFn = field(repr=False)
    should_fail: bool = False
    status: str = "InProgress"
    polls: int = 0
    start_time: str = field(default_factory=utc_now_iso)
    end_time: str | None = None
    result: Any = None
    error: ArmError | None = None
    timer: threading.Timer | None = field(default=None, repr=False)

    def _url(self, base_url: str, kind: str) -> str:
        return (
            f"{base_url}/subscriptions/{self.subscription}/providers/{self.namespace}/locations/"
            f"{self.location}/{kind}/{self.op_id}?api-version={self.api_version}"
        )

    def status_url(self, base_url: str) -> str:
        return self._url(base_url, "operationStatuses")

    def result_url(self, base_url: str) -> str:
        return self._url(base_url, "operationResults")

    @property
    def done(self) -> bool:
        return self.status != "InProgress"

    def status_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": (
                f"/subscriptions/{self.subscription}/providers/{self.namespace}/locations/"
                f"{self.location}/operationStatuses/{self.op_id}"
            ),
            "name": self.op_id,
            "status": self.status,
            "startTime": self.start_time,
        }
        if self.end_time:
            doc["endTime"] = self.end_time
        if self.error is not None:
            doc["error"] = {"code": self.error.code, "message": self.error.message}
        return doc


class OperationTable:
    """Operations by id. Shares the store's lock so a completion and a request never interleave."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._ops: dict[str, Operation] = {}

    def add(self, op: Operation) -> Operation:
        with self._lock:
            self._ops[op.op_id] = op
        return op

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def get(self, op_id: str) -> Operation | None:
        with self._lock:
            return self._ops.get(op_id.lower())

    def pending_for(self, resource_id: str) -> Operation | None:
        key = id_key(resource_id)
        with self._lock:
            for op in self._ops.values():
                if not op.done and id_key(op.resource_id) == key:
                    return op
        return None

    def pending(self) -> list[Operation]:
        with self._lock:
            return [op for op in self._ops.values() if not op.done]

    def complete(self, op: Operation) -> list[dict[str, Any]]:
        """Finish op (apply its write, or fail it); returns the events to publish. Idempotent."""
        with self._lock:
            if op.done:
                return []
            if op.timer is not None:
                op.timer.cancel()
            try:
                if op.should_fail:
                    raise ArmError(500, "InternalServerError", "The operation failed (emulated async failure).")
                op.result, events = op.apply()
                op.status = "Succeeded"
            except ArmError as err:
                op.status, op.error = "Failed", err
                events = op.fail(err)
            op.end_time = utc_now_iso()
            return events

    def cancel_timers(self) -> None:
        with self._lock:
            for op in self._ops.values():
                if op.timer is not None:
                    op.timer.cancel()
