"""Rows in Azure Table Storage with optimistic concurrency, and an in-memory twin for one process.

`EntityStore` is all the ticket sink, the outbox and the proposals need: point reads, a partition query,
insert (409 when the row exists), replace with If-Match (412 when it changed), delete. The Table Storage
implementation creates its table on first use, never at import.
"""
from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from warden.table_state import resource_partition  # one partition per resource, as the engine's state

__all__ = ["Conflict", "Entity", "EntityStore", "MemoryEntityStore", "TableEntityStore", "resource_partition"]


class Conflict(Exception):
    """The row already exists (insert) or changed since it was read (replace/delete with an etag)."""


@dataclass
class Entity:
    partition: str
    row: str
    data: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None


class EntityStore(Protocol):
    def get(self, partition: str, row: str) -> Entity | None: ...
    def insert(self, entity: Entity) -> Entity: ...
    def replace(self, entity: Entity) -> Entity:
        """Write the row; with entity.etag set, only if it is unchanged (else Conflict)."""
    def delete(self, entity: Entity) -> None: ...
    def partition(self, partition: str) -> list[Entity]: ...


def iso(moment: datetime) -> str:
    """Sortable UTC text: rows compare times as strings."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class MemoryEntityStore:
    """EntityStore for one process (tests, the CLI without storage). Thread-safe."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        self._lock = threading.Lock()

    def get(self, partition: str, row: str) -> Entity | None:
        with self._lock:
            found = self._rows.get((partition, row))
            return Entity(partition, row, copy.deepcopy(found[0]), found[1]) if found else None

    def insert(self, entity: Entity) -> Entity:
        with self._lock:
            if (entity.partition, entity.row) in self._rows:
                raise Conflict(f"{entity.partition}/{entity.row} exists")
            return self._put(entity)

    def replace(self, entity: Entity) -> Entity:
        with self._lock:
            current = self._rows.get((entity.partition, entity.row))
            if entity.etag is not None and (current is None or current[1] != entity.etag):
                raise Conflict(f"{entity.partition}/{entity.row} changed")
            return self._put(entity)

    def delete(self, entity: Entity) -> None:
        with self._lock:
            current = self._rows.get((entity.partition, entity.row))
            if current is None:
                return
            if entity.etag is not None and current[1] != entity.etag:
                raise Conflict(f"{entity.partition}/{entity.row} changed")
            del self._rows[(entity.partition, entity.row)]

    def partition(self, partition: str) -> list[Entity]:
        with self._lock:
            return [Entity(p, r, copy.deepcopy(d), e) for (p, r), (d, e) in sorted(self._rows.items()) if p == partition]

    def _put(self, entity: Entity) -> Entity:
        etag = uuid.uuid4().hex
        self._rows[(entity.partition, entity.row)] = (copy.deepcopy(entity.data), etag)
        return Entity(entity.partition, entity.row, copy.deepcopy(entity.data), etag)


class TableEntityStore:
    """EntityStore on one Azure Table (azure-data-tables; Azurite in tests)."""

    def __init__(self, table_client: Any, create: bool = False):
        self._table = table_client
        self._ready = not create  # warden.table_state.ensure_table has usually created it already
        self._lock = threading.Lock()

    @classmethod
    def from_connection_string(cls, connection_string: str, table_name: str) -> "TableEntityStore":
        from azure.data.tables import TableClient

        return cls(TableClient.from_connection_string(connection_string, table_name), create=True)

    @classmethod
    def from_endpoint(cls, endpoint: str, table_name: str, credential: Any) -> "TableEntityStore":
        from azure.data.tables import TableClient

        return cls(TableClient(endpoint=endpoint, table_name=table_name, credential=credential), create=True)

    def _client(self):
        if not self._ready:
            from azure.core.exceptions import ResourceExistsError

            with self._lock:
                if not self._ready:
                    try:
                        self._table.create_table()
                    except ResourceExistsError:
                        pass
                    self._ready = True
        return self._table

    @staticmethod
    def _entity(raw: Any) -> Entity:
        data = {k: v for k, v in raw.items() if k not in ("PartitionKey", "RowKey")}
        return Entity(raw["PartitionKey"], raw["RowKey"], data, raw.metadata.get("etag"))

    @staticmethod
    def _raw(entity: Entity) -> dict[str, Any]:
        return {"PartitionKey": entity.partition, "RowKey": entity.row,
                **{k: v for k, v in entity.data.items() if v is not None}}

    def get(self, partition: str, row: str) -> Entity | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._entity(self._client().get_entity(partition, row))
        except ResourceNotFoundError:
            return None

    def insert(self, entity: Entity) -> Entity:
        from azure.core.exceptions import ResourceExistsError

        try:
            meta = self._client().create_entity(self._raw(entity))
        except ResourceExistsError:
            raise Conflict(f"{entity.partition}/{entity.row} exists") from None
        return Entity(entity.partition, entity.row, dict(entity.data), meta.get("etag"))

    def replace(self, entity: Entity) -> Entity:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        client = self._client()
        try:
            if entity.etag is None:
                meta = client.upsert_entity(self._raw(entity), mode=UpdateMode.REPLACE)
            else:
                meta = client.update_entity(self._raw(entity), mode=UpdateMode.REPLACE, etag=entity.etag,
                                            match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError):
            raise Conflict(f"{entity.partition}/{entity.row} changed") from None
        return Entity(entity.partition, entity.row, dict(entity.data), meta.get("etag"))

    def delete(self, entity: Entity) -> None:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError

        try:
            if entity.etag is None:
                self._client().delete_entity(entity.partition, entity.row)
            else:
                self._client().delete_entity(entity.partition, entity.row, etag=entity.etag,
                                             match_condition=MatchConditions.IfNotModified)
        except ResourceModifiedError:
            raise Conflict(f"{entity.partition}/{entity.row} changed") from None

    def partition(self, partition: str) -> list[Entity]:
        safe = partition.replace("'", "''")
        return [self._entity(raw) for raw in self._client().query_entities(f"PartitionKey eq '{safe}'")]
