"""Azure Resource Graph stand-in: `POST /providers/Microsoft.ResourceGraph/resources`."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

from emulator.ids import RESOURCE_GROUP_TYPE
from emulator.kql import KqlError, run_query
from emulator.state import Entry, ResourceStore
from emulator.wire import ArmError, Response

# Child types that Resource Graph's `resources` table does carry (reference/azure-platform-facts.md
# section 4.3). Every other child type, notably workspaces/computes and datastores, is absent.
GRAPH_CHILD_TYPES = frozenset(
    {
        "microsoft.machinelearningservices/workspaces/onlineendpoints",
        "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments",
        "microsoft.machinelearningservices/workspaces/batchendpoints",
        "microsoft.machinelearningservices/workspaces/batchendpoints/deployments",
        "microsoft.machinelearningservices/workspaces/serverlessendpoints",
        "microsoft.machinelearningservices/workspaces/inferencepools",
    }
)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_TOP = 5000


def in_graph(entry: Entry) -> bool:
    if entry.type_key == RESOURCE_GROUP_TYPE.lower():
        return False  # resource groups live in `resourcecontainers`, not `resources`
    return len(entry.path.types) == 1 or entry.type_key in GRAPH_CHILD_TYPES


def int_booleans(value: Any) -> Any:
    """Render booleans as 1/0, as Resource Graph and Resource Notifications sometimes do."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict):
        return {k: int_booleans(v) for k, v in value.items()}
    if isinstance(value, list):
        return [int_booleans(v) for v in value]
    return value


def graph_row(entry: Entry, tenant_id: str, booleans_as_ints: bool) -> dict[str, Any]:
    """A `resources` row. Rows share sub-objects with the store; they are only ever serialised."""
    body = entry.body
    properties = body.get("properties")
    return {
        "id": body.get("id"),
        "name": body.get("name"),
        "type": entry.type_key,  # Resource Graph lower-cases the type
        "tenantId": tenant_id,
        "kind": body.get("kind", ""),
        "location": str(body.get("location", "")).replace(" ", "").lower(),
        "resourceGroup": entry.rg_key or "",
        "subscriptionId": entry.path.subscription,
        "managedBy": body.get("managedBy", ""),
        "sku": body.get("sku"),
        "plan": body.get("plan"),
        "properties": int_booleans(properties) if booleans_as_ints else properties,
        "tags": body.get("tags") or {},
        "identity": body.get("identity"),
        "zones": body.get("zones"),
        "extendedLocation": body.get("extendedLocation"),
    }


def _query_fingerprint(query: str, subscriptions: list[str]) -> str:
    text = query + "|" + ",".join(sorted(s.lower() for s in subscriptions))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _encode_skip_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_skip_token(token: str, fingerprint: str) -> int:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset, expected = int(doc["o"]), str(doc["q"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArmError(400, "BadRequest", f"Invalid $skipToken: {exc}") from exc
    if expected != fingerprint:
        raise ArmError(400, "BadRequest", "The $skipToken belongs to a different query or scope.")
    return offset


def _table_format(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names: list[str] = list(rows[0].keys()) if rows else []

    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, str):
            return "string"
        return "object"

    columns = [{"name": n, "type": kind(rows[0][n]) if rows else "object"} for n in names]
    return {"columns": columns, "rows": [[row.get(n) for n in names] for row in rows]}


class ResourceGraph:
    """Queries over the store's current state (or a frozen snapshot, to play Resource Graph's lag)."""

    def __init__(self, store: ResourceStore, tenant_id: str) -> None:
        self._store = store
        self._tenant_id = tenant_id
        self._lock = threading.Lock()
        self._frozen: list[Entry] | None = None
        self._windows: dict[str, tuple[float, int]] = {}
        self.int_booleans = False
        self.quota_per_window = 15  # the documented example: 15 queries per principal per 5 s
        self.window_seconds = 5.0
        self.enforce_quota = False  # when True a principal over quota gets 429 like the real service

    def freeze(self) -> None:
        """Keep answering from the current state until thaw(): Resource Graph lags ARM."""
        self._frozen = self._store.entries()

    def thaw(self) -> None:
        self._frozen = None

    def _charge(self, principal: str) -> tuple[int, float]:
        """Count one query against the principal's window; returns (remaining, seconds to reset)."""
        now = time.monotonic()
        with self._lock:
            start, used = self._windows.get(principal, (now, 0))
            if now - start >= self.window_seconds:
                start, used = now, 0
            used += 1
            self._windows[principal] = (start, used)
        return self.quota_per_window - used, max(0.0, self.window_seconds - (now - start))

    def query(self, body: Any, principal: str) -> Response:
        remaining, reset_in = self._charge(principal)
        seconds = int(reset_in + 0.999)
        headers = {
            "x-ms-user-quota-remaining": str(max(remaining, 0)),
            "x-ms-user-quota-resets-after": f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
        }
        if remaining < 0 and self.enforce_quota:
            raise ArmError(429, "RateLimiting", "Please retry after the quota window resets.",
                           {**headers, "Retry-After": str(max(seconds, 1))})
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise ArmError(400, "BadRequest", "The request body needs a 'query' string.", headers)
        subscriptions = [str(s) for s in body.get("subscriptions") or []]
        options = body.get("options") or {}
        top = options.get("$top")
        if top is not None and (not isinstance(top, int) or not 1 <= top <= MAX_TOP):
            raise ArmError(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.", headers)
        page_size = min(top or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = _query_fingerprint(body["query"], subscriptions)
        offset = int(options.get("$skip") or 0)
        if options.get("$skipToken"):
            offset = _decode_skip_token(str(options["$skipToken"]), fingerprint)

        wanted_subs = {s.lower() for s in subscriptions}
        source = self._frozen if self._frozen is not None else self._store.entries()
        rows = [
            graph_row(e, self._tenant_id, self.int_booleans)
            for e in source
            if in_graph(e) and (not wanted_subs or e.sub_key in wanted_subs)
        ]
        try:
            rows = run_query(body["query"], rows)
        except KqlError as exc:
            raise ArmError(400, "BadRequest", f"Query is invalid (InvalidQuery): {exc}", headers) from exc

        page = rows[offset:offset + page_size]
        result: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "data": _table_format(page) if options.get("resultFormat") == "table" else page,
            "facets": [],
            "resultTruncated": "false",
        }
        if offset + len(page) < len(rows):
            result["$skipToken"] = _encode_skip_token(offset + len(page), fingerprint)
        return Response(200, result, headers)
