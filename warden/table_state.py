"""The durable StateStore on Azure Table Storage (azure-data-tables): event leases, revert history for
flap detection, and pending reverts. Several workers share it; etags keep them from overwriting each other.

Tables (created on first use; the names share a prefix, default `driftwarden`):

- `<prefix>events`, one partition per event, `PartitionKey = e-<sha256(event id)>`:
  - RowKey `lease`: the event's lease. `Status` taken | done | released, `LeaseUntil`, `Attempts`, `Owner`.
  - RowKey `rec-...`: the remediation log records of that event (warden/remediation_log.py). The log's
    entity-group transaction marks the lease done in the same round trip, so a record and the completion of
    its event commit together or not at all.
- `<prefix>state`, one partition per resource, `PartitionKey = r-<sha256(lower-cased resource id)>`,
  RowKey `state`: `Reverts` (JSON `{check id: [[time, caller], ...]}`) and `Pending` (JSON list).

Row and partition keys may not contain `/`, so ids are hashed; the entities carry the ids in clear text.

Leases: `claim_event` inserts the lease (409 = it exists). An existing lease answers DONE when completed, BUSY
while unexpired, and is otherwise taken over with a conditional replace (`If-Match` its etag; 412 = another
worker took it first = BUSY). Two workers can never both hold one event.

Storage errors (503, timeouts, connection refused) are raised after a short, bounded retry: the engine's
trigger then fails and Event Grid redelivers the event.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from warden import resource_id as rid
from warden.config import ConfigError
from warden.state import Claim, PendingRevert, RevertEntry

DEFAULT_PREFIX = "driftwarden"
DEFAULT_LEASE = timedelta(minutes=5)
LEASE_ROW = "lease"
STATE_ROW = "state"
WRITE_ATTEMPTS = 8  # conditional writes retried after a 412 (another worker changed the entity)
HISTORY_KEPT = timedelta(days=30)  # revert entries older than this are dropped (flap windows are shorter)
HISTORY_MAX_PER_CHECK = 100
MAX_JSON_CHARS = 30_000  # a string property holds at most 32K UTF-16 characters

# Bounded retries: a Function has ~30 s to answer Event Grid, and an event makes a few Table requests.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "retry_backoff_factor": 0.4, "retry_backoff_max": 2,
                                  "connection_timeout": 5, "read_timeout": 10}

_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


# --- settings ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StorageSettings:
    """Where the durable state and the remediation log live. Build the client with `service_client()`."""

    connection_string: str | None = None  # Azurite / development: a shared key
    endpoint: str | None = None  # identity-based: https://<account>.table.core.windows.net
    managed_identity_client_id: str | None = None
    table_prefix: str = DEFAULT_PREFIX
    lease: timedelta = DEFAULT_LEASE

    @property
    def names(self) -> "TableNames":
        return TableNames(self.table_prefix)

    def describe(self) -> str:
        """Where, without any secret (for messages)."""
        if self.endpoint:
            return self.endpoint
        match = re.search(r"(?i)TableEndpoint=([^;]+)", self.connection_string or "")
        if match:
            return match.group(1)
        account = re.search(r"(?i)AccountName=([^;]+)", self.connection_string or "")
        return f"account {account.group(1)}" if account else "the configured storage account"

    def service_client(self, credential: Any = None, **options: Any):
        """A TableServiceClient with bounded retries; `options` add azure-core settings (e.g. raw_request_hook)."""
        from azure.data.tables import TableServiceClient

        kwargs = {**CLIENT_OPTIONS, **options}
        if self.connection_string:
            try:
                return TableServiceClient.from_connection_string(self.connection_string, **kwargs)
            except ValueError as error:
                raise ConfigError(f"DRIFTWARDEN_STORAGE_CONNECTION_STRING is not a usable storage connection "
                                  f"string ({_first_line(error)})") from None
        if credential is None:
            from warden.arm import build_credential

            credential = build_credential(self.managed_identity_client_id)
        return TableServiceClient(endpoint=self.endpoint, credential=credential, **kwargs)


def storage_from_env(environ: Mapping[str, str] | None = None) -> StorageSettings | None:
    """Storage settings from the app settings, or None when neither storage setting is present.

    DRIFTWARDEN_STORAGE_CONNECTION_STRING (Azurite, development) or DRIFTWARDEN_STORAGE_ACCOUNT (an account
    name or https endpoint; Entra ID auth with the app's managed identity, AZURE_CLIENT_ID for a user-assigned
    one). Optional: DRIFTWARDEN_TABLE_PREFIX, DRIFTWARDEN_EVENT_LEASE_SECONDS.
    """
    env = os.environ if environ is None else environ
    connection_string = (env.get("DRIFTWARDEN_STORAGE_CONNECTION_STRING") or "").strip()
    account = (env.get("DRIFTWARDEN_STORAGE_ACCOUNT") or "").strip()
    if not connection_string and not account:
        return None
    if connection_string and account:
        raise ConfigError("set DRIFTWARDEN_STORAGE_CONNECTION_STRING (Azurite, development) or "
                          "DRIFTWARDEN_STORAGE_ACCOUNT (identity-based, in Azure), not both")
    prefix = (env.get("DRIFTWARDEN_TABLE_PREFIX") or DEFAULT_PREFIX).strip()
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,50}", prefix):
        raise ConfigError(f"DRIFTWARDEN_TABLE_PREFIX={prefix!r}: use 3-51 letters and digits, starting with a letter")
    lease = DEFAULT_LEASE
    if env.get("DRIFTWARDEN_EVENT_LEASE_SECONDS"):
        raw = env["DRIFTWARDEN_EVENT_LEASE_SECONDS"].strip()
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1
        if not 1 <= seconds <= 3600:
            raise ConfigError(f"DRIFTWARDEN_EVENT_LEASE_SECONDS={raw!r}: a number of seconds from 1 to 3600 "
                              f"(longer than the slowest event, default {int(DEFAULT_LEASE.total_seconds())})")
        lease = timedelta(seconds=seconds)
    if connection_string:
        parts = {k.strip().lower(): v for k, _, v in (p.partition("=") for p in connection_string.split(";") if p.strip())}
        if not (parts.get("tableendpoint") or parts.get("accountname") or "usedevelopmentstorage" in parts):
            raise ConfigError("DRIFTWARDEN_STORAGE_CONNECTION_STRING has neither TableEndpoint nor AccountName: "
                              "use the account's connection string (Azurite: see warden/local_services.py)")
        if not (parts.get("accountkey") or parts.get("sharedaccesssignature")):
            raise ConfigError("DRIFTWARDEN_STORAGE_CONNECTION_STRING has no AccountKey or SharedAccessSignature; "
                              "in Azure use DRIFTWARDEN_STORAGE_ACCOUNT with the app's managed identity instead")
        return StorageSettings(connection_string=connection_string, table_prefix=prefix, lease=lease)
    if account.lower().startswith("https://"):
        endpoint = account.rstrip("/")
    elif account.lower().startswith("http://"):
        raise ConfigError(f"DRIFTWARDEN_STORAGE_ACCOUNT={account!r}: identity-based access needs https")
    elif _ACCOUNT_NAME.match(account):
        endpoint = f"https://{account}.table.core.windows.net"
    else:
        raise ConfigError(f"DRIFTWARDEN_STORAGE_ACCOUNT={account!r} is not a storage account name (3-24 lower-case "
                          f"letters and digits) or an https table endpoint")
    return StorageSettings(endpoint=endpoint, managed_identity_client_id=(env.get("AZURE_CLIENT_ID") or None),
                           table_prefix=prefix, lease=lease)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


@dataclass(frozen=True)
class TableNames:
    prefix: str = DEFAULT_PREFIX

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def state(self) -> str:
        return f"{self.prefix}state"


# --- keys ----------------------------------------------------------------------------------------

def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def event_partition(event_id: str | None) -> str:
    """The partition of an event's lease and log records. An event without an id gets a partition of its own."""
    return f"e-{_digest(event_id)}" if event_id else f"e-none-{uuid.uuid4().hex}"


def resource_partition(resource_id: str) -> str:
    return f"r-{_digest(rid.key(resource_id))}"


# --- tables --------------------------------------------------------------------------------------

_known_tables: set[tuple[str, str]] = set()
_known_lock = threading.Lock()


def ensure_table(service: Any, name: str):
    """The table's client, creating the table the first time this process uses it."""
    if not _TABLE_NAME.match(name):
        raise ConfigError(f"table name {name!r}: 3-63 letters and digits, starting with a letter")
    client = service.get_table_client(name)
    key = (service.url, name.lower())
    if key not in _known_tables:
        service.create_table_if_not_exists(name)
        with _known_lock:
            _known_tables.add(key)
    return client


def is_unavailable(error: BaseException) -> bool:
    """A storage error worth retrying later (outage, throttling), as opposed to a request that is wrong."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(error, (ServiceRequestError, ServiceResponseError, ConnectionError, TimeoutError)):
        return True
    if isinstance(error, HttpResponseError):
        return error.status_code is None or error.status_code >= 500 or error.status_code in (408, 429)
    return False


# --- the state store -----------------------------------------------------------------------------

_SNAPSHOT_SECONDS = 5.0  # how long one event may reuse the resource state it read (take_pending -> reverts_since)


class TableState:
    """StateStore on Azure Table Storage. Thread-safe; one instance per worker process is enough.

    `service` is an azure.data.tables TableServiceClient (see StorageSettings.service_client).
    """

    def __init__(self, service: Any, *, names: TableNames = TableNames(), lease: timedelta = DEFAULT_LEASE,
                 owner: str | None = None, clock: Callable[[], datetime] | None = None):
        self._service = service
        self.names = names
        self.lease = lease
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._events = None
        self._state = None
        self._lock = threading.Lock()
        self._held: dict[str, str] = {}  # event id -> etag of the lease this worker holds
        self._completed: set[str] = set()  # leases the remediation log's transaction already marked done
        self._local = threading.local()

    # -- tables -----------------------------------------------------------------------------------
    @property
    def events_table(self):
        if self._events is None:
            self._events = ensure_table(self._service, self.names.events)
        return self._events

    @property
    def state_table(self):
        if self._state is None:
            self._state = ensure_table(self._service, self.names.state)
        return self._state

    # -- event leases ---------------------------------------------------------------------------
    def claim_event(self, event_id: str, now: datetime) -> Claim:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        self._reset_snapshots()
        table = self.events_table
        partition = event_partition(event_id)
        for _ in range(3):
            lease = {"PartitionKey": partition, "RowKey": LEASE_ROW, "EventId": event_id, "Status": "taken",
                     "LeaseUntil": now + self.lease, "TakenAt": now, "Owner": self.owner, "Attempts": 1}
            try:
                metadata = table.create_entity(lease)
                self._hold(event_id, metadata["etag"])
                return Claim.TAKEN
            except ResourceExistsError:
                pass
            try:
                current = table.get_entity(partition, LEASE_ROW)
            except ResourceNotFoundError:
                continue  # deleted between the two calls: try to create it again
            if current.get("Status") == "done":
                return Claim.DONE
            until = current.get("LeaseUntil")
            if current.get("Status") == "taken" and until is not None and _aware(until) > now:
                return Claim.BUSY
            lease["Attempts"] = int(current.get("Attempts") or 0) + 1
            try:
                metadata = table.update_entity(lease, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                               match_condition=MatchConditions.IfNotModified)
            except ResourceModifiedError:
                return Claim.BUSY  # another worker took it over first
            except ResourceNotFoundError:
                continue
            self._hold(event_id, metadata["etag"])
            return Claim.TAKEN
        return Claim.BUSY

    def complete_event(self, event_id: str, now: datetime) -> None:
        with self._lock:
            if event_id in self._completed:  # done in the remediation log's transaction
                self._completed.discard(event_id)
                self._held.pop(event_id, None)
                return
            etag = self._held.pop(event_id, None)
        self._reset_snapshots()
        if etag is None:
            return
        self._finish(event_id, etag, {"Status": "done", "CompletedAt": now})

    def release_event(self, event_id: str) -> None:
        with self._lock:
            self._completed.discard(event_id)
            etag = self._held.pop(event_id, None)
        self._reset_snapshots()
        if etag is None:
            return
        self._finish(event_id, etag, {"Status": "released", "LeaseUntil": datetime(2000, 1, 1, tzinfo=timezone.utc)})

    def _finish(self, event_id: str, etag: str, changes: dict[str, Any]) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": event_partition(event_id), "RowKey": LEASE_ROW, **changes}
        try:
            self.events_table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag,
                                            match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            pass  # our lease expired and another worker owns the event now: its outcome is the one that counts

    def _hold(self, event_id: str, etag: str) -> None:
        with self._lock:
            self._held[event_id] = etag
            self._completed.discard(event_id)

    # Used by warden.remediation_log.TableRecorder to commit the lease with the event's records.
    def lease_completion(self, event_id: str | None) -> tuple | None:
        """The transaction operation that marks this worker's lease on the event done, or None if it holds none."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        if not event_id:
            return None
        with self._lock:
            etag = self._held.get(event_id)
        if etag is None:
            return None
        entity = {"PartitionKey": event_partition(event_id), "RowKey": LEASE_ROW, "Status": "done",
                  "CompletedAt": self._clock()}
        return ("update", entity, {"mode": UpdateMode.MERGE, "etag": etag,
                                   "match_condition": MatchConditions.IfNotModified})

    def lease_completed(self, event_id: str) -> None:
        with self._lock:
            if event_id in self._held:
                self._completed.add(event_id)

    def lease_lost(self, event_id: str) -> None:
        with self._lock:
            self._held.pop(event_id, None)
            self._completed.discard(event_id)

    # -- resource leases (the sweep and events never act on one resource at once) --------------
    def claim_resource(self, resource_id: str, holder: str, now: datetime) -> Claim:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        partition = resource_partition(resource_id)
        lease = {"PartitionKey": partition, "RowKey": LEASE_ROW, "ResourceId": resource_id, "Holder": holder,
                 "LeaseUntil": now + self.lease}
        for _ in range(3):
            try:
                self.state_table.create_entity(lease)
                return Claim.TAKEN
            except ResourceExistsError:
                pass
            try:
                current = self.state_table.get_entity(partition, LEASE_ROW)
            except ResourceNotFoundError:
                continue
            until = current.get("LeaseUntil")
            if current.get("Holder") != holder and until is not None and _aware(until) > now:
                return Claim.BUSY
            try:  # free, expired, or ours already (re-entrant: renew)
                self.state_table.update_entity(lease, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                               match_condition=MatchConditions.IfNotModified)
                return Claim.TAKEN
            except ResourceModifiedError:
                return Claim.BUSY
            except ResourceNotFoundError:
                continue
        return Claim.BUSY

    def release_resource(self, resource_id: str, holder: str) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        partition = resource_partition(resource_id)
        try:
            current = self.state_table.get_entity(partition, LEASE_ROW)
        except ResourceNotFoundError:
            return
        if current.get("Holder") != holder:
            return  # never another holder's lease
        try:
            self.state_table.delete_entity(partition, LEASE_ROW, etag=current.metadata["etag"],
                                           match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            pass  # taken over after it expired: no longer ours

    # -- revert history (flap detection) ---------------------------------------------------------
    def reverts_since(self, resource_id: str, check_id: str, since: datetime) -> list[RevertEntry]:
        data, _ = self._read(resource_id, reuse=True)
        return [e for e in _reverts(data).get(check_id, []) if e.at >= since]

    def note_revert(self, resource_id: str, check_id: str, entry: RevertEntry) -> None:
        def change(data: dict[str, Any]) -> bool:
            reverts = _reverts(data)
            kept = [e for e in reverts.get(check_id, []) if e.at >= entry.at - HISTORY_KEPT]
            reverts[check_id] = (kept + [entry])[-HISTORY_MAX_PER_CHECK:]
            data["Reverts"] = _dump_reverts(reverts)
            return True

        self._update(resource_id, change)

    # -- pending reverts -------------------------------------------------------------------------
    def note_pending(self, pending: PendingRevert) -> None:
        def change(data: dict[str, Any]) -> bool:
            entries = _pending(data)
            if any(p.event_id == pending.event_id and p.check_ids == pending.check_ids for p in entries):
                return False
            data["Pending"] = _dump_pending(entries + [pending])
            return True

        self._update(pending.resource_id, change)

    def take_pending(self, resource_id: str) -> list[PendingRevert]:
        taken: list[PendingRevert] = []

        def change(data: dict[str, Any]) -> bool:
            taken[:] = _pending(data)
            if not taken:
                return False
            data["Pending"] = "[]"
            return True

        self._update(resource_id, change, reuse_first=False)
        return taken

    # -- the resource entity ---------------------------------------------------------------------
    def _read(self, resource_id: str, reuse: bool) -> tuple[dict[str, Any], str | None]:
        from azure.core.exceptions import ResourceNotFoundError

        partition = resource_partition(resource_id)
        snapshots = self._snapshots()
        if reuse and partition in snapshots:
            data, etag, at = snapshots[partition]
            if time.monotonic() - at < _SNAPSHOT_SECONDS:
                return dict(data), etag
        try:
            entity = self.state_table.get_entity(partition, STATE_ROW)
            data, etag = dict(entity), entity.metadata["etag"]
        except ResourceNotFoundError:
            data, etag = {"PartitionKey": partition, "RowKey": STATE_ROW, "ResourceId": resource_id}, None
        snapshots[partition] = (dict(data), etag, time.monotonic())
        return data, etag

    def _update(self, resource_id: str, change: Callable[[dict[str, Any]], bool], reuse_first: bool = True) -> None:
        """Read-modify-write of the resource's entity with its etag; re-read and retry after a 412."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        partition = resource_partition(resource_id)
        for attempt in range(WRITE_ATTEMPTS):
            data, etag = self._read(resource_id, reuse=reuse_first and attempt == 0)
            if not change(data):
                return
            entity = {k: v for k, v in data.items() if k in ("PartitionKey", "RowKey", "ResourceId", "Reverts", "Pending")}
            entity["ResourceId"] = resource_id
            try:
                if etag is None:
                    metadata = self.state_table.create_entity(entity)
                else:
                    metadata = self.state_table.update_entity(entity, mode=UpdateMode.REPLACE, etag=etag,
                                                              match_condition=MatchConditions.IfNotModified)
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                time.sleep(0.005 * (attempt + 1))
                continue
            self._snapshots()[partition] = (dict(entity), metadata["etag"], time.monotonic())
            return
        raise ResourceModifiedError(f"resource state of {resource_id} kept changing over {WRITE_ATTEMPTS} attempts")

    def _snapshots(self) -> dict[str, tuple[dict[str, Any], str | None, float]]:
        snapshots = getattr(self._local, "snapshots", None)
        if snapshots is None:
            snapshots = self._local.snapshots = {}
        return snapshots

    def _reset_snapshots(self) -> None:
        self._local.snapshots = {}


# --- serialisation -------------------------------------------------------------------------------

def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _reverts(data: Mapping[str, Any]) -> dict[str, list[RevertEntry]]:
    raw = json.loads(data.get("Reverts") or "{}")
    return {check: [RevertEntry(datetime.fromisoformat(at), caller) for at, caller in entries]
            for check, entries in raw.items()}


def _dump_reverts(reverts: Mapping[str, list[RevertEntry]]) -> str:
    raw = {check: [[e.at.isoformat(), e.caller] for e in entries] for check, entries in reverts.items()}
    text = json.dumps(raw, separators=(",", ":"))
    while len(text) > MAX_JSON_CHARS:  # keep the newest half of the longest history
        longest = max(raw, key=lambda c: len(raw[c]))
        raw[longest] = raw[longest][len(raw[longest]) // 2:]
        text = json.dumps(raw, separators=(",", ":"))
    return text


def _pending(data: Mapping[str, Any]) -> list[PendingRevert]:
    return [PendingRevert(p["resource_id"], tuple(p["check_ids"]), p["event_id"], datetime.fromisoformat(p["since"]),
                          p.get("continuation_token")) for p in json.loads(data.get("Pending") or "[]")]


def _dump_pending(entries: list[PendingRevert]) -> str:
    raw = [{"resource_id": p.resource_id, "check_ids": list(p.check_ids), "event_id": p.event_id,
            "since": p.since.isoformat(), "continuation_token": p.continuation_token} for p in entries]
    text = json.dumps(raw, separators=(",", ":"))
    if len(text) > MAX_JSON_CHARS:  # confirmation re-reads the resource; a resume token is a nicety
        for entry in raw:
            entry["continuation_token"] = None
        text = json.dumps(raw[-200:], separators=(",", ":"))
    return text
