"""What the engine remembers between events: event claims (idempotency), revert history (flap detection)
and pending reverts awaiting confirmation.

`StateStore` is the interface; `MemoryState` serves one process (the offline CLI, `serve` on a laptop).
The durable implementation on Azure Table Storage lives in warden/table_state.py.
"""
from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class Claim(str, enum.Enum):
    TAKEN = "taken"  # this worker owns the event now (a lease; it expires if the worker dies)
    DONE = "done"  # already completed: a duplicate delivery, do nothing
    BUSY = "busy"  # another worker holds an unexpired lease: ask Event Grid to retry later


@dataclass(frozen=True)
class RevertEntry:
    at: datetime
    caller: str  # who made the change the bot reverted


@dataclass(frozen=True)
class PendingRevert:
    resource_id: str
    check_ids: tuple[str, ...]
    event_id: str
    since: datetime
    continuation_token: str | None = None


class StateStore(Protocol):
    def claim_event(self, event_id: str, now: datetime) -> Claim:
        """Take the event for this worker. A lease, not a lock held forever: if the worker dies, the
        redelivery after the lease expires takes it again and completes the work."""

    def complete_event(self, event_id: str, now: datetime) -> None: ...

    def release_event(self, event_id: str) -> None:
        """Give up a claim after a failure, so the redelivery can take it at once."""

    def reverts_since(self, resource_id: str, check_id: str, since: datetime) -> list[RevertEntry]: ...

    def note_revert(self, resource_id: str, check_id: str, entry: RevertEntry) -> None: ...

    def note_pending(self, pending: PendingRevert) -> None: ...

    def take_pending(self, resource_id: str) -> list[PendingRevert]: ...

    def claim_resource(self, resource_id: str, holder: str, now: datetime) -> Claim:
        """Lease one resource to one change (an event id or a sweep item id) so two workers never act on it
        at once. TAKEN when the resource is free, its lease expired, or `holder` already holds it (re-entrant;
        the lease is renewed); BUSY while another holder's lease runs. Resource ids compare case-insensitively."""

    def release_resource(self, resource_id: str, holder: str) -> None:
        """End the lease if `holder` still holds it (never another holder's)."""


class MemoryState:
    """StateStore for a single process. Thread-safe; forgets everything on exit."""

    def __init__(self, lease: timedelta = timedelta(minutes=5)):
        self._lock = threading.Lock()
        self._lease = lease
        self._events: dict[str, tuple[str, datetime]] = {}
        self._reverts: dict[tuple[str, str], list[RevertEntry]] = {}
        self._pending: dict[str, list[PendingRevert]] = {}
        self._resources: dict[str, tuple[str, datetime]] = {}

    def claim_event(self, event_id: str, now: datetime) -> Claim:
        with self._lock:
            state = self._events.get(event_id)
            if state and state[0] == "done":
                return Claim.DONE
            if state and now - state[1] < self._lease:
                return Claim.BUSY
            self._events[event_id] = ("taken", now)
            return Claim.TAKEN

    def complete_event(self, event_id: str, now: datetime) -> None:
        with self._lock:
            self._events[event_id] = ("done", now)

    def release_event(self, event_id: str) -> None:
        with self._lock:
            if self._events.get(event_id, ("", None))[0] == "taken":
                del self._events[event_id]

    def reverts_since(self, resource_id: str, check_id: str, since: datetime) -> list[RevertEntry]:
        with self._lock:
            return [e for e in self._reverts.get((resource_id.lower(), check_id), []) if e.at >= since]

    def note_revert(self, resource_id: str, check_id: str, entry: RevertEntry) -> None:
        with self._lock:
            self._reverts.setdefault((resource_id.lower(), check_id), []).append(entry)

    def note_pending(self, pending: PendingRevert) -> None:
        with self._lock:
            self._pending.setdefault(pending.resource_id.lower(), []).append(pending)

    def take_pending(self, resource_id: str) -> list[PendingRevert]:
        with self._lock:
            return self._pending.pop(resource_id.lower(), [])

    def claim_resource(self, resource_id: str, holder: str, now: datetime) -> Claim:
        with self._lock:
            key = resource_id.lower()
            held = self._resources.get(key)
            if held and held[0] != holder and now - held[1] < self._lease:
                return Claim.BUSY
            self._resources[key] = (holder, now)
            return Claim.TAKEN

    def release_resource(self, resource_id: str, holder: str) -> None:
        with self._lock:
            key = resource_id.lower()
            if self._resources.get(key, ("", None))[0] == holder:
                del self._resources[key]
