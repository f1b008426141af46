"""Thread-safe in-memory resource store with ARM write semantics (etag, merge patch, stamping)."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emulator.ids import ArmPath, id_key, parse_resource_id

# Top-level keys the caller cannot set: ARM derives them from the path or owns them.
SERVER_OWNED_TOP_LEVEL = ("id", "name", "type", "etag", "systemData")

# Properties that resource providers own (read-only in the REST specs). A PUT or PATCH cannot change
# them; without this a full PUT would silently drop e.g. the private endpoint list a guard depends on.
SERVER_OWNED_PROPERTIES = (
    "privateEndpointConnections",
    "endpoint",
    "endpoints",
    "internalId",
    "dateCreated",
    "capabilities",
    "callRateLimit",
    "scoringUri",
    "swaggerUri",
    "serviceProvisionedResourceGroup",
)


@dataclass(frozen=True)
class Entry:
    """A stored resource. Bodies are replaced, never mutated, so readers may use them unlocked."""

    body: dict[str, Any]
    path: ArmPath
    type_key: str
    parent_key: str | None
    sub_key: str
    rg_key: str | None


def new_etag() -> str:
    return f'"{uuid.uuid4()}"'


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7396): objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _make_entry(path: ArmPath, body: dict[str, Any]) -> Entry:
    return Entry(
        body=body,
        path=path,
        type_key=path.resource_type.lower(),
        parent_key=id_key(path.parent_id) if path.parent_id else None,
        sub_key=path.subscription.lower(),
        rg_key=path.resource_group.lower() if path.resource_group else None,
    )


def with_identity(body: dict[str, Any], path: ArmPath, keep_type: str | None = None) -> dict[str, Any]:
    """Copy of body with id/name/type taken from the path (placeholders like "string" are replaced)."""
    head = {"id": path.resource_id, "name": path.names[-1], "type": keep_type or path.resource_type}
    return {**head, **{k: v for k, v in body.items() if k not in head}}


class ResourceStore:
    """Resources keyed by lower-cased id. Callers hold `lock` for read-modify-write sequences."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, resource_id: str) -> Entry | None:
        return self._entries.get(id_key(resource_id))

    def get(self, resource_id: str) -> dict[str, Any] | None:
        found = self.entry(resource_id)
        return copy.deepcopy(found.body) if found else None

    def store(self, resource_id: str, body: dict[str, Any]) -> Entry:
        """Store body (owned by the store from now on) under resource_id."""
        path = parse_resource_id(resource_id)
        entry = _make_entry(path, body)
        with self.lock:
            self._entries[id_key(resource_id)] = entry
        return entry

    def store_many(self, items: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Bulk insert for generated estates: no copies, one lock acquisition."""
        prepared = [(id_key(rid), _make_entry(parse_resource_id(rid), body)) for rid, body in items]
        with self.lock:
            self._entries.update(prepared)
        return len(prepared)

    def remove(self, resource_id: str) -> bool:
        """Delete a resource and, as ARM does, every child resource below it."""
        key = id_key(resource_id)
        prefix = key + "/"
        with self.lock:
            if key not in self._entries:
                return False
            for child in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[child]
            del self._entries[key]
            return True

    def entries(self) -> list[Entry]:
        with self.lock:
            return list(self._entries.values())

    def list_collection(self, collection: ArmPath) -> list[Entry]:
        """Entries a collection GET returns: children of a parent, or a type within a sub / rg scope."""
        type_key = collection.resource_type.lower()
        parent = collection.parent_id
        parent_key = id_key(parent) if parent else None
        sub_key = collection.subscription.lower()
        rg_key = collection.resource_group.lower() if collection.resource_group else None
        return [
            e
            for e in self.entries()
            if e.type_key == type_key
            and e.sub_key == sub_key
            and (rg_key is None or e.rg_key == rg_key)
            and (parent_key is None or e.parent_key == parent_key)
        ]

    def resource_group_exists(self, subscription: str, resource_group: str) -> bool:
        sub_key, rg_key = subscription.lower(), resource_group.lower()
        return any(e.sub_key == sub_key and e.rg_key == rg_key for e in self.entries())

    def clear(self) -> None:
        with self.lock:
            self._entries.clear()
