"""Parsing of ARM request paths into resource ids, collections and actions."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"


@dataclass(frozen=True)
class ArmPath:
    """An ARM path split into its parts; names has one entry fewer than types for a collection."""

    subscription: str
    resource_group: str | None
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    action: str | None = None

    @property
    def is_resource_group(self) -> bool:
        return self.namespace == "Microsoft.Resources" and self.types == ("resourceGroups",)

    @property
    def is_collection(self) -> bool:
        return len(self.names) < len(self.types)

    @property
    def resource_type(self) -> str:
        """Type as ARM spells it in bodies, e.g. Microsoft.MachineLearningServices/workspaces/computes."""
        return f"{self.namespace}/{'/'.join(self.types)}"

    @property
    def scope(self) -> str:
        """The subscription or resource-group id this path lives under."""
        base = f"/subscriptions/{self.subscription}"
        return f"{base}/resourceGroups/{self.resource_group}" if self.resource_group else base

    @property
    def resource_id(self) -> str:
        """Id of the addressed resource (for an action: the resource it acts on). Not for collections."""
        if self.is_collection:
            raise ValueError("a collection path has no resource id")
        if self.is_resource_group:
            return self.scope
        return self._build(len(self.types))

    @property
    def parent_id(self) -> str | None:
        """Id of the parent resource of a child resource or child collection, else None."""
        if len(self.types) < 2:
            return None
        return self._build(len(self.types) - 1)

    def _build(self, depth: int) -> str:
        parts = [f"{self.scope}/providers/{self.namespace}"]
        parts.extend(f"{t}/{n}" for t, n in zip(self.types[:depth], self.names[:depth], strict=True))
        return "/".join(parts)


def parse_arm_path(path: str, method: str = "GET") -> ArmPath | None:
    """Split an ARM request path; None when it is not a subscription-scoped ARM path.

    An odd number of segments after the namespace is a collection, except for POST, where the last
    segment names an action on the resource before it (`{id}/listKeys`).
    """
    segs = [unquote(s) for s in path.split("/") if s]
    if len(segs) < 2 or segs[0].lower() != "subscriptions":
        return None
    sub, rest = segs[1], segs[2:]
    rg: str | None = None
    if rest and rest[0].lower() == "resourcegroups":
        if len(rest) < 2:
            return None
        rg, rest = rest[1], rest[2:]
        if not rest:
            return ArmPath(sub, rg, "Microsoft.Resources", ("resourceGroups",), (rg,))
    if len(rest) < 3 or rest[0].lower() != "providers":
        return None
    namespace, tail = rest[1], rest[2:]
    action: str | None = None
    if len(tail) % 2 == 1 and method.upper() == "POST" and len(tail) >= 3:
        action, tail = tail[-1], tail[:-1]
    return ArmPath(sub, rg, namespace, tuple(tail[0::2]), tuple(tail[1::2]), action)


def parse_resource_id(resource_id: str) -> ArmPath:
    """Parse a full resource id; raises ValueError for anything that is not one resource."""
    parsed = parse_arm_path(resource_id.split("?", 1)[0])
    if parsed is None or parsed.is_collection:
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    return parsed


def id_key(resource_id: str) -> str:
    """Lookup key: ARM ids compare case-insensitively and without a trailing slash."""
    return resource_id.rstrip("/").lower()
