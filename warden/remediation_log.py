"""The durable remediation log on Azure Table Storage: append-only records of every event outcome and every
action, and the query the `log` and `exemptions` commands read.

Each record is one entity holding the documented properties of warden/telemetry.py (`dw_*`, the same names
as customDimensions in Log Analytics). An event's records share the event's partition in the events table
(`e-<sha256(event id)>`, see warden/table_state.py), with RowKey `rec-<time>-<attempt>-<index>`: index 000 is
the event record, the next ones its actions. A failed attempt and its redelivery are two attempts, both kept.

One event, one round trip: the event record and its action records go in one entity-group transaction. When
the recorder is given the worker's TableState, that same transaction marks the event's lease done, so the
record and the completion commit together (and `complete_event` costs nothing more).

When Table Storage is unreachable the records are kept in memory (bounded) and the error is raised, so the
event fails and Event Grid redelivers it; the kept records are written before the next ones once storage
answers again. They are lost only if this worker process ends before that (the telemetry copy in Log
Analytics still has them).
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from warden.model import EventRecord, Outcome
from warden.table_state import TableNames, TableState, ensure_table, event_partition, is_unavailable
from warden.telemetry import event_properties

log = logging.getLogger("driftwarden.remediation_log")

RECORD_PREFIX = "rec-"
MAX_OPERATIONS = 100  # per entity-group transaction
DEFAULT_SPOOL_LIMIT = 1000  # events kept in memory while storage is down


@dataclass
class _Batch:
    event_id: str | None
    complete: bool  # mark the lease done in the same transaction
    entities: list[dict[str, Any]]
    from_spool: bool = False


class TableRecorder:
    """Recorder: one entity-group transaction per event. Thread-safe."""

    def __init__(self, service: Any, *, names: TableNames = TableNames(), state: TableState | None = None,
                 spool_limit: int = DEFAULT_SPOOL_LIMIT):
        if state is not None and state.names.events != names.events:
            raise ValueError("the recorder and the state store must share the events table to commit together")
        self._service = service
        self.names = names
        self._state = state
        self._table = None
        self._spool: list[_Batch] = []
        self._spool_limit = spool_limit
        self._lock = threading.Lock()

    @property
    def table(self):
        if self._table is None:
            self._table = self._state.events_table if self._state is not None else \
                ensure_table(self._service, self.names.events)
        return self._table

    @property
    def spooled(self) -> int:
        """Events whose records wait in memory for storage to come back."""
        with self._lock:
            return len(self._spool)

    # -- writing ----------------------------------------------------------------------------------
    def record(self, event: EventRecord) -> None:
        batch = self._batch(event)
        with self._lock:
            batches, self._spool = self._spool + [batch], []
        kept: list[_Batch] = []
        failure: BaseException | None = None
        for item in batches:
            if failure is not None:
                kept.append(item)
                continue
            try:
                self._submit(item)
            except Exception as error:  # noqa: BLE001 - sorted below: outage -> keep, bad request -> surface
                if is_unavailable(error):
                    failure = error
                    kept.append(item)
                elif item is batch:
                    failure = error
                else:
                    log.error("dropping remediation log records of event %s that storage refuses: %s",
                              item.event_id, error, extra={"dw_event_id": item.event_id or ""})
        if kept:
            for item in kept:
                item.from_spool = True  # the engine has given up on these: nobody calls complete_event for them
            with self._lock:
                self._spool = kept + self._spool
                overflow = len(self._spool) - self._spool_limit
                if overflow > 0:
                    dropped, self._spool = self._spool[:overflow], self._spool[overflow:]
                    log.error("remediation log spool full: %d events' records dropped (storage down too long)",
                              len(dropped))
        if failure is not None:
            raise failure

    def flush(self) -> int:
        """Write the records kept while storage was down; returns how many events are still waiting."""
        with self._lock:
            batches, self._spool = self._spool, []
        for index, item in enumerate(batches):
            try:
                self._submit(item)
            except Exception:
                with self._lock:
                    self._spool = batches[index:] + self._spool
                raise
        return self.spooled

    def _batch(self, event: EventRecord) -> _Batch:
        at = datetime.now(timezone.utc)
        partition = event_partition(event.event_id)
        attempt = f"{RECORD_PREFIX}{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        entities = [{"PartitionKey": partition, "RowKey": f"{attempt}-{index:03d}", **properties}
                    for index, properties in enumerate(event_properties(event, at))]
        complete = self._state is not None and event.outcome is not Outcome.FAILED
        return _Batch(event.event_id, complete, entities)

    def _submit(self, batch: _Batch) -> None:
        from azure.data.tables import TableTransactionError

        while batch.entities:
            chunk = batch.entities[: MAX_OPERATIONS - 1]
            operations: list[tuple] = [("create", entity) for entity in chunk]
            last = len(chunk) == len(batch.entities)
            lease = self._state.lease_completion(batch.event_id) if (last and batch.complete) else None
            if lease is not None:
                operations.append(lease)
            try:
                self.table.submit_transaction(operations)
            except TableTransactionError as error:
                failed_index = getattr(error, "index", None)
                if error.status_code == 412 and lease is not None and failed_index == len(chunk):
                    # Our lease expired and another worker took the event over: keep what this attempt did,
                    # without claiming the completion (the other worker's outcome completes the event).
                    self._state.lease_lost(batch.event_id)
                    batch.complete = False
                    continue
                if error.status_code == 409 and failed_index is not None and failed_index < len(chunk):
                    pass  # an earlier try of this very transaction committed (its answer was lost)
                else:
                    raise
            batch.entities = batch.entities[len(chunk):]
            if lease is not None:
                if batch.from_spool:
                    self._state.lease_lost(batch.event_id)  # the engine is long past complete_event
                else:
                    self._state.lease_completed(batch.event_id)

    # -- reading ----------------------------------------------------------------------------------
    def query(self, since: datetime | None = None, resource: str | None = None, check: str | None = None,
              outcome: str | None = None, caller: str | None = None, until: datetime | None = None,
              limit: int | None = None) -> list["LogEntry"]:
        return query_log(self.table if self._table is not None else self._service.get_table_client(self.names.events),
                         since=since, resource=resource, check=check, outcome=outcome, caller=caller, until=until,
                         limit=limit)


# --- the query ---------------------------------------------------------------------------------------

@dataclass
class LogEntry:
    """One attempt at one event: its event record and its action records (flat `dw_*` properties)."""

    event: dict[str, str]
    actions: list[dict[str, str]] = field(default_factory=list)

    @property
    def time(self) -> str:
        return self.event.get("dw_time", "")

    @property
    def outcome(self) -> str:
        return self.event.get("dw_outcome", "")

    def as_json(self) -> dict[str, Any]:
        return {**self.event, "actions": self.actions}


def caller_of(record: Mapping[str, str]) -> str:
    """Who made the change, as one word: name, else object id, else app id."""
    return record.get("dw_caller_name") or record.get("dw_caller_oid") or record.get("dw_caller_appid") or "unknown"


def _matches_caller(record: Mapping[str, str], needle: str) -> bool:
    return any(needle in (record.get(name) or "").lower()
               for name in ("dw_caller_oid", "dw_caller_appid", "dw_caller_name", "dw_caller_ip"))


def query_log(table: Any, *, since: datetime | None = None, until: datetime | None = None,
              resource: str | None = None, check: str | None = None, outcome: str | None = None,
              caller: str | None = None, limit: int | None = None) -> list[LogEntry]:
    """Log entries, oldest first (the newest `limit` when given).

    Filters: since/until (record time), resource (case-insensitive; an id or part of one), check (entries with
    an action of that check; only those actions are kept), outcome (the event's outcome or an action's kind),
    caller (part of the caller's object id, app id, name or IP). Table Storage has no secondary indexes: the
    time filter runs in the service, the others here.
    """
    from azure.core.exceptions import ResourceNotFoundError

    query = f"RowKey ge '{RECORD_PREFIX}' and RowKey lt 'rec.'"
    parameters: dict[str, Any] = {}
    if since is not None:
        query += " and dw_time ge @since"
        parameters["since"] = _utc(since).isoformat()
    if until is not None:
        query += " and dw_time lt @until"
        parameters["until"] = _utc(until).isoformat()
    try:
        rows = list(table.query_entities(query, parameters=parameters or None))
    except ResourceNotFoundError:
        return []  # nothing recorded yet: the table is created with the first record
    entries: dict[tuple[str, str], LogEntry] = {}
    for row in sorted(rows, key=lambda r: (r["PartitionKey"], r["RowKey"])):
        attempt = row["RowKey"].rsplit("-", 1)[0]
        record = {k: v for k, v in row.items() if k.startswith("dw_") and v is not None}
        key = (row["PartitionKey"], attempt)
        if record.get("dw_record") == "event":
            entries[key] = LogEntry(record, entries[key].actions if key in entries else [])
        else:
            entries.setdefault(key, LogEntry({})).actions.append(record)
    result = []
    resource_key = resource.lower().rstrip("/") if resource else None
    caller_key = caller.lower() if caller else None
    for entry in entries.values():
        if not entry.event:
            continue
        if resource_key and resource_key not in (entry.event.get("dw_resource_id") or "").lower():
            continue
        if check:
            entry.actions = [a for a in entry.actions if a.get("dw_check_id") == check]
            if not entry.actions:
                continue
        if outcome and entry.outcome != outcome and not any(a.get("dw_action") == outcome for a in entry.actions):
            continue
        if caller_key and not _matches_caller(entry.event, caller_key):
            continue
        result.append(entry)
    result.sort(key=lambda e: (e.time, e.event.get("dw_event_id", "")))
    return result[-limit:] if limit else result


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# --- exemptions, as the log saw them ---------------------------------------------------------------------

# Outcomes whose event record says what exemption tags the resource carried (none = no exemption tags).
_EVALUATED = {o.value for o in (Outcome.COMPLIANT, Outcome.EXEMPT, Outcome.REVERTED, Outcome.PENDING,
                                Outcome.TICKETED, Outcome.REPORTED, Outcome.DRY_RUN)}


@dataclass
class ExemptionView:
    resource_id: str
    checks: str
    status: str  # honoured | refused | expired | removed
    until: str | None
    days_left: float | None
    reason: str | None
    problem: str | None
    set_by: str  # the caller of the first event that showed these tags
    set_at: str
    last_seen: str
    event_id: str | None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def exemptions_from(entries: Iterable[LogEntry], now: datetime, include_removed: bool = False) -> list[ExemptionView]:
    """The exemption state of each resource as the log last saw it, with who set it and how long it has left."""
    by_resource: dict[str, list[LogEntry]] = {}
    for entry in entries:
        resource_id = entry.event.get("dw_resource_id")
        if resource_id:
            by_resource.setdefault(resource_id.lower(), []).append(entry)
    views = []
    for history in by_resource.values():
        history.sort(key=lambda e: e.time)
        current: LogEntry | None = None
        removed_after: LogEntry | None = None
        first_seen: dict[tuple, LogEntry] = {}
        for entry in history:
            event = entry.event
            if event.get("dw_exemption_status"):
                signature = tuple(event.get(k) for k in ("dw_exemption_checks", "dw_exemption_until", "dw_exemption_reason"))
                first_seen.setdefault(signature, entry)
                current, removed_after = entry, None
            elif current is not None and event.get("dw_outcome") in _EVALUATED:
                removed_after = entry
        if current is None:
            continue
        event = current.event
        signature = tuple(event.get(k) for k in ("dw_exemption_checks", "dw_exemption_until", "dw_exemption_reason"))
        origin = first_seen.get(signature, current).event
        until = event.get("dw_exemption_until")
        days_left = _days_left(until, now)
        status = event.get("dw_exemption_status", "")
        if removed_after is not None:
            if not include_removed:
                continue
            status = "removed"
        elif status == "honoured" and days_left is not None and days_left <= 0:
            status = "expired"
        views.append(ExemptionView(
            resource_id=event.get("dw_resource_id", ""), checks=event.get("dw_exemption_checks", ""), status=status,
            until=until, days_left=days_left, reason=event.get("dw_exemption_reason"),
            problem=event.get("dw_exemption_problem"), set_by=caller_of(origin), set_at=origin.get("dw_time", ""),
            last_seen=(removed_after or current).time, event_id=event.get("dw_event_id")))
    order = {"refused": 0, "expired": 1, "honoured": 2, "removed": 3}
    views.sort(key=lambda v: (order.get(v.status, 9), v.days_left if v.days_left is not None else 1e9, v.resource_id))
    return views


def _days_left(until: str | None, now: datetime) -> float | None:
    if not until:
        return None
    try:
        moment = datetime.fromisoformat(until.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return round((moment - now).total_seconds() / 86400, 1)


# --- durations for --since -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`30m`, `24h`, `7d`, `2w`, a date (`2026-11-01`) or an ISO timestamp. Raises ValueError with the rule."""
    match = _DURATION.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: use a duration (30m, 24h, 7d, 2w), a date (2026-11-01) "
                         f"or an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
