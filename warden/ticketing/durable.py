"""The TicketSink the engine uses when a tracker is configured: one ticket per resource+check, remembered in our
own Table Storage (tracker search indexes lag), and a durable outbox for what the tracker did not take.

Rows (docs/tickets.md, "Storage"):
- partition `r-<hash of the resource id>`, row `t-<check id>`: the ticket of that check (tracker reference,
  status, delivery state, occurrences). `open` reads it with one point read; `resolve` reads every ticket
  of the resource with one partition query.
- partition `outbox`, row `<resource partition>.<check id>`: at most one pending operation per ticket
  (open, comment or resolve, with the latest ticket content), its attempts and the time of the next one.

Delivery decisions:
- The tracker is down, throttled or answers 5xx: the ticket goes to the outbox (`queued`), the engine records
  the finding as ticketed with reference `queued:<tracker>:<key>`, and the timer retries with backoff, never
  before the tracker's Retry-After / reset time. The event is not failed: a redelivery would not bring the
  tracker back, and the outbox already holds everything a later delivery needs.
- 401/403/404/203 (credentials, permissions, project, URL) -> `misconfigured`, 400/413/422 -> `rejected`: kept
  in the outbox, not retried by the timer (it would fail the same way), listed by `python -m warden tickets`
  and retried on demand (`--retry`) once the setting is fixed. Later findings for that ticket join the entry
  instead of calling the tracker again.
- While an operation for a ticket waits in the outbox, later operations join it (the latest content wins;
  a resolve of a ticket never created cancels it) so the tracker sees them in order.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from warden.ticketing.store import Conflict, Entity, EntityStore, from_iso, iso, resource_partition
from warden.tickets import (DELIVERED, MERGED, QUEUED, Ticket, TicketDeliveryError, TicketGone, TicketReference,
                            Created)

log = logging.getLogger("driftwarden.tickets")

OUTBOX = "outbox"
OPEN, CREATING, QUEUED_STATUS, CLOSED = "open", "creating", "queued", "closed"
CANCELLED = "cancelled"
OP_OPEN, OP_COMMENT, OP_RESOLVE = "open", "comment", "resolve"
TICKET_JSON_MAX = 30_000  # a table string property holds 32K UTF-16 characters


@dataclass(frozen=True)
class OutboxSettings:
    base_backoff: timedelta = timedelta(minutes=1)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)  # a delivery attempt claims its entry this long
    creating_timeout: timedelta = timedelta(minutes=2)  # a reservation older than this was left by a dead worker


@dataclass
class Delivery:
    """One outbox entry as `python -m warden tickets` shows it."""

    resource_id: str
    check_id: str
    key: str
    tracker: str
    op: str
    state: str
    attempts: int
    next_attempt_at: str
    created_at: str
    last_error: str = ""
    last_status: int | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "queued": self.queued, "failed": self.failed, "skipped": self.skipped}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DurableTicketSink:
    def __init__(self, tracker: Any, store: EntityStore, clock: Callable[[], datetime] = _utcnow,
                 settings: OutboxSettings = OutboxSettings(), jitter: Callable[[], float] = random.random):
        self.tracker = tracker
        self.store = store
        self.clock = clock
        self.settings = settings
        self._jitter = jitter

    # -- TicketSink ------------------------------------------------------------------------------------
    def open(self, ticket: Ticket) -> TicketReference:
        partition, row_key = resource_partition(ticket.resource_id), f"t-{ticket.check_id}"
        for _ in range(5):  # optimistic concurrency: re-read when another worker changed the row
            now = self.clock()
            entity = self.store.get(partition, row_key)
            row = entity.data if entity is not None and entity.data.get("tracker") == self.tracker.name else None
            try:
                if row is not None and row.get("outbox"):
                    op = OP_COMMENT if row.get("reference") else OP_OPEN
                    return self._enqueue(entity, ticket, op, None, now)
                if row is not None and row.get("status") == OPEN and row.get("reference"):
                    return self._recur(entity, ticket, now)
                if row is not None and row.get("status") == CREATING and \
                        now - (from_iso(row.get("reserved_at")) or now) < self.settings.creating_timeout:
                    # Another worker is opening this very ticket right now: this occurrence joins it.
                    return TicketReference(f"{MERGED}:{self.tracker.name}:{ticket.key}", MERGED)
                return self._create(entity, ticket, now)
            except Conflict:
                continue
        raise TicketDeliveryError(f"ticket row {ticket.key} kept changing under concurrent workers")

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        wanted = set(check_ids)
        for entity in self.store.partition(resource_partition(resource_id)):  # the one query per event
            data = entity.data
            if not entity.row.startswith("t-") or data.get("check_id") not in wanted:
                continue
            if data.get("tracker") != self.tracker.name or data.get("status") not in (OPEN, QUEUED_STATUS):
                continue
            try:
                self._resolve_one(entity, note)
            except Conflict:  # a concurrent worker changed it: the next event resolves it
                log.info("ticket %s changed while resolving; left for the next event", data.get("key"))

    # -- outbox ---------------------------------------------------------------------------------------
    def pending(self) -> list[Delivery]:
        return sorted((_delivery(e) for e in self.store.partition(OUTBOX)), key=lambda d: d.next_attempt_at)

    def deliver_due(self, include_failed: bool = False, only_key: str | None = None,
                    budget_seconds: float = 240.0) -> DeliveryReport:
        """Retry what is due (the timer), or with include_failed also what was refused (the CLI, after a fix)."""
        report = DeliveryReport()
        started = time.monotonic()
        now = self.clock()
        entries = sorted(self.store.partition(OUTBOX), key=lambda e: e.data.get("next_attempt_at", ""))
        for entry in entries:
            data = entry.data
            if only_key and data.get("key") != only_key:
                continue
            due = data.get("state") == QUEUED and data.get("next_attempt_at", "") <= iso(now)
            if not (due or include_failed):
                report.skipped += 1
                continue
            if time.monotonic() - started > budget_seconds:
                report.skipped += 1
                continue
            lease = from_iso(data.get("lease_until"))
            if lease is not None and lease > now:
                report.skipped += 1
                continue
            try:
                entry = self.store.replace(Entity(entry.partition, entry.row, {**data, "lease_until": iso(now + self.settings.lease)},
                                                  entry.etag))
            except Conflict:
                report.skipped += 1  # another worker took it
                continue
            state, throttled = self._attempt(entry, now)
            {DELIVERED: report.delivered, QUEUED: report.queued}.get(state, report.failed).append(data.get("key"))
            log.info(json.dumps({"record": "ticket-delivery", "key": data.get("key"), "tracker": self.tracker.name,
                                 "op": data.get("op"), "state": state, "attempt": int(data.get("attempts") or 0) + 1}))
            if throttled:
                break  # the tracker asked us to wait: the rest of this run waits too
        return report

    # -- internals ------------------------------------------------------------------------------------

    def _create(self, entity: Entity | None, ticket: Ticket, now: datetime) -> TicketReference:
        partition, row_key = resource_partition(ticket.resource_id), f"t-{ticket.check_id}"
        reserved = {**_row_base(ticket, self.tracker.name), "status": CREATING, "reserved_at": iso(now),
                    "first_seen": iso(now), "last_seen": iso(now), "occurrences": 1}
        if entity is None:
            reserved_entity = self.store.insert(Entity(partition, row_key, reserved))
        else:
            reserved_entity = self.store.replace(Entity(partition, row_key, reserved, entity.etag))
        try:
            created = self._find_or_create(ticket)
        except TicketDeliveryError as error:
            return self._enqueue(reserved_entity, ticket, OP_OPEN, error, now)
        self._save_open(reserved_entity, created, now)
        return self.tracker.reference(created)

    def _find_or_create(self, ticket: Ticket) -> Created:
        # Recovers a ticket whose row was lost, or a create that succeeded although its answer did not arrive.
        existing = self.tracker.find_open(ticket.key)
        if existing is not None:
            self.tracker.comment(existing.reference, ticket, 0)
            return existing
        return self.tracker.create(ticket)

    def _save_open(self, entity: Entity, created: Created, now: datetime) -> None:
        data = {**entity.data, "status": OPEN, "delivery": DELIVERED, "reference": created.reference,
                "display": created.display, "url": created.url or "", "outbox": False, "last_error": "",
                "last_seen": iso(now)}
        data.pop("reserved_at", None)
        self.store.replace(Entity(entity.partition, entity.row, data))

    def _recur(self, entity: Entity, ticket: Ticket, now: datetime) -> TicketReference:
        data = entity.data  # bookkeeping below is written without If-Match: the comment is already out
        occurrences = int(data.get("occurrences") or 1) + 1
        created = Created(data["reference"], data.get("display") or data["reference"], data.get("url") or None)
        try:
            self.tracker.comment(created.reference, ticket, occurrences)
        except TicketGone:  # deleted in the tracker: a new ticket for the finding that is still there
            return self._create(entity, ticket, now)
        except TicketDeliveryError as error:
            return self._enqueue(entity, ticket, OP_COMMENT, error, now)
        self.store.replace(Entity(entity.partition, entity.row, {**data, "occurrences": occurrences, "last_seen": iso(now)}))
        return self.tracker.reference(created)

    def _resolve_one(self, entity: Entity, note: str) -> None:
        data, now = entity.data, self.clock()
        if data.get("outbox"):
            outbox = self.store.get(OUTBOX, _outbox_row(entity))
            if outbox is not None and outbox.data.get("op") == OP_OPEN:
                # Never reached the tracker and no longer true: nothing for a human to act on. The
                # remediation log keeps the finding and its resolution.
                self.store.delete(outbox)
                self.store.replace(Entity(entity.partition, entity.row, {
                    **data, "status": CLOSED, "delivery": CANCELLED, "outbox": False, "closed_at": iso(now)}, entity.etag))
                return
            if outbox is not None:
                self.store.replace(Entity(OUTBOX, outbox.row, {**outbox.data, "op": OP_RESOLVE, "note": note,
                                                               "deleted": "deleted" in note}, outbox.etag))
                return
        try:
            self.tracker.close(data["reference"], note, deleted="deleted" in note)
        except TicketGone:
            pass
        except TicketDeliveryError as error:
            ticket_json = json.dumps({"resource_id": data["resource_id"], "check_id": data["check_id"], "key": data["key"]})
            self._enqueue(entity, None, OP_RESOLVE, error, now, note=note, ticket_json=ticket_json)
            return
        self.store.replace(Entity(entity.partition, entity.row, {
            **data, "status": CLOSED, "delivery": DELIVERED, "closed_at": iso(now), "last_seen": iso(now)}, entity.etag))

    def _backoff(self, attempts: int, asked: float | None) -> timedelta:
        base = self.settings.base_backoff.total_seconds() * (2 ** max(0, attempts - 1))
        wait = min(self.settings.max_backoff.total_seconds(), base) * (0.8 + 0.4 * self._jitter())
        return timedelta(seconds=max(wait, asked or 0.0))

    def _enqueue(self, entity: Entity, ticket: Ticket | None, op: str, error: TicketDeliveryError | None,
                 now: datetime, note: str = "", ticket_json: str | None = None) -> TicketReference:
        row = _outbox_row(entity)
        data = entity.data
        current = self.store.get(OUTBOX, row)
        entry = dict(current.data) if current is not None else {
            "resource_id": data["resource_id"], "check_id": data["check_id"], "key": data["key"],
            "tracker": self.tracker.name, "created_at": iso(now), "attempts": 0, "state": QUEUED,
            "next_attempt_at": iso(now)}
        previous_op = entry.get("op")
        if previous_op == OP_OPEN and op == OP_COMMENT:
            op = OP_OPEN  # not created yet: the create carries the latest content
        entry["op"] = op
        if ticket is not None:
            entry["ticket"] = _ticket_json(ticket)
        elif ticket_json and not entry.get("ticket"):
            entry["ticket"] = ticket_json
        if note:
            entry["note"], entry["deleted"] = note, "deleted" in note
        entry["updated_at"] = iso(now)
        if error is not None:
            entry["attempts"] = int(entry.get("attempts") or 0) + 1
            entry["state"] = error.delivery_state
            entry["last_error"], entry["last_status"] = str(error)[:1000], error.status
            entry["next_attempt_at"] = iso(now + self._backoff(entry["attempts"], error.retry_after))
        self.store.replace(Entity(OUTBOX, row, entry, current.etag if current is not None else None))
        status = data.get("status")
        row_data = {**data, "outbox": True, "delivery": entry["state"], "last_error": entry.get("last_error", ""),
                    "status": OPEN if data.get("reference") else QUEUED_STATUS, "last_seen": iso(now)}
        if ticket is not None and status in (OPEN, QUEUED_STATUS):
            row_data["occurrences"] = int(data.get("occurrences") or 1) + 1
        row_data.pop("reserved_at", None)
        self.store.replace(Entity(entity.partition, entity.row, row_data))
        state = entry["state"]
        problem = entry.get("last_error") if state not in (QUEUED, DELIVERED) else None
        if error is not None:
            log.warning(json.dumps({"record": "ticket-delivery", "key": data["key"], "tracker": self.tracker.name,
                                    "op": op, "state": state, "status": error.status, "error": str(error)[:300]}))
        return TicketReference(f"{state}:{self.tracker.name}:{data['key']}", state, problem=problem)

    def _attempt(self, entry: Entity, now: datetime) -> tuple[str, bool]:
        """Deliver one outbox entry; return its delivery state afterwards and whether the tracker throttled."""
        data = entry.data
        partition, row_key = _ticket_address(entry.row)
        ticket_row = self.store.get(partition, row_key)
        op = data.get("op")
        try:
            if op == OP_OPEN or (op == OP_COMMENT and not (ticket_row and ticket_row.data.get("reference"))):
                created = self._find_or_create(Ticket.from_json(json.loads(data["ticket"])))
                if ticket_row is not None:
                    self._save_open(ticket_row, created, now)
            elif op == OP_COMMENT:
                occurrences = int(ticket_row.data.get("occurrences") or 1)
                try:
                    self.tracker.comment(ticket_row.data["reference"], Ticket.from_json(json.loads(data["ticket"])), occurrences)
                except TicketGone:
                    self._save_open(ticket_row, self._find_or_create(Ticket.from_json(json.loads(data["ticket"]))), now)
            elif op == OP_RESOLVE and ticket_row is not None and ticket_row.data.get("reference"):
                try:
                    self.tracker.close(ticket_row.data["reference"], data.get("note", ""), bool(data.get("deleted")))
                except TicketGone:
                    pass
        except TicketDeliveryError as error:
            attempts = int(data.get("attempts") or 0) + 1
            failed = {**data, "attempts": attempts, "state": error.delivery_state, "last_error": str(error)[:1000],
                      "last_status": error.status, "next_attempt_at": iso(now + self._backoff(attempts, error.retry_after)),
                      "lease_until": None, "updated_at": iso(now)}
            self.store.replace(Entity(OUTBOX, entry.row, failed, entry.etag))
            if ticket_row is not None:
                fresh = self.store.get(partition, row_key)
                if fresh is not None:
                    self.store.replace(Entity(partition, row_key, {**fresh.data, "delivery": error.delivery_state,
                                                                   "last_error": str(error)[:1000]}))
            return error.delivery_state, error.retry_after is not None or error.status == 429
        self.store.delete(entry)
        fresh = self.store.get(partition, row_key)
        if fresh is not None:
            closed = op == OP_RESOLVE
            self.store.replace(Entity(partition, row_key, {
                **fresh.data, "outbox": False, "delivery": DELIVERED, "last_error": "",
                **({"status": CLOSED, "closed_at": iso(now)} if closed else {})}))
        return DELIVERED, False


def _row_base(ticket: Ticket, tracker: str) -> dict[str, Any]:
    return {"resource_id": ticket.resource_id, "check_id": ticket.check_id, "key": ticket.key, "tracker": tracker,
            "reference": "", "display": "", "url": "", "delivery": QUEUED, "outbox": False, "last_error": ""}


def _outbox_row(entity: Entity) -> str:
    return f"{entity.partition}.{entity.row[2:]}"


def _ticket_address(outbox_row: str) -> tuple[str, str]:
    partition, _, check_id = outbox_row.partition(".")
    return partition, f"t-{check_id}"


def _ticket_json(ticket: Ticket) -> str:
    text = json.dumps(ticket.as_json(), default=str)
    if len(text) > TICKET_JSON_MAX:  # keep it valid JSON: shorten the long strings, drop the observed values
        slim = {k: (v[:2000] if isinstance(v, str) else v) for k, v in ticket.as_json().items()}
        slim["observed"] = {"truncated": True}
        text = json.dumps(slim, default=str)
    return text


def _delivery(entity: Entity) -> Delivery:
    data = entity.data
    return Delivery(data.get("resource_id", ""), data.get("check_id", ""), data.get("key", ""), data.get("tracker", ""),
                    data.get("op", ""), data.get("state", ""), int(data.get("attempts") or 0),
                    data.get("next_attempt_at", ""), data.get("created_at", ""), data.get("last_error", ""),
                    data.get("last_status"))
