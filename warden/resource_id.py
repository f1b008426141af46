"""ARM resource ids: parse, canonicalise, find the covered resource an operation acts on.

ARM ids compare case-insensitively (events carry `resourcegroups` in lower case); we keep the casing we
were given for display and compare on `key()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class InvalidResourceId(ValueError):
    pass


@dataclass(frozen=True)
class ResourceId:
    subscription_id: str
    resource_group: str | None
    namespace: str | None
    # [(type, name), ...] below the namespace; an odd trailing segment (an action name) is kept apart
    segments: tuple[tuple[str, str], ...]
    action: str | None = None

    @property
    def type(self) -> str | None:
        if not self.namespace or not self.segments:
            return None
        return "/".join([self.namespace, *(t for t, _ in self.segments)])

    @property
    def name(self) -> str | None:
        return self.segments[-1][1] if self.segments else None

    def __str__(self) -> str:
        text = f"/subscriptions/{self.subscription_id}"
        if self.resource_group is not None:
            text += f"/resourceGroups/{self.resource_group}"
        if self.namespace:
            text += f"/providers/{self.namespace}"
            for resource_type, name in self.segments:
                text += f"/{resource_type}/{name}"
        return text

    def ancestors(self) -> list["ResourceId"]:
        """This id and each parent resource id, longest first."""
        return [ResourceId(self.subscription_id, self.resource_group, self.namespace, self.segments[:n])
                for n in range(len(self.segments), 0, -1)]


def parse(resource_id: str) -> ResourceId:
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise InvalidResourceId(f"not an ARM resource id: {resource_id!r}")
    parts = [p for p in resource_id.strip().split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise InvalidResourceId(f"ARM resource id must start with /subscriptions/<id>: {resource_id!r}")
    subscription = parts[1]
    rest = parts[2:]
    resource_group = None
    if len(rest) >= 2 and rest[0].lower() == "resourcegroups":
        resource_group = rest[1]
        rest = rest[2:]
    if not rest:
        return ResourceId(subscription, resource_group, None, ())
    if rest[0].lower() != "providers" or len(rest) < 2:
        raise InvalidResourceId(f"expected /providers/<namespace> in {resource_id!r}")
    namespace = rest[1]
    tail = rest[2:]
    action = None
    if len(tail) % 2 == 1:
        action = tail[-1]
        tail = tail[:-1]
    segments = tuple((tail[i], tail[i + 1]) for i in range(0, len(tail), 2))
    return ResourceId(subscription, resource_group, namespace, segments, action)


def key(resource_id: str) -> str:
    """The comparison key of an id: canonical form, lower-cased."""
    try:
        return str(parse(resource_id)).lower()
    except InvalidResourceId:
        return resource_id.lower().rstrip("/")


def covered_target(resource_id: str, is_covered: Callable[[str], bool]) -> ResourceId | None:
    """The nearest resource (the id itself or an ancestor) whose type a remediator covers."""
    parsed = parse(resource_id)
    for candidate in parsed.ancestors():
        if candidate.type and is_covered(candidate.type):
            return candidate
    return None
