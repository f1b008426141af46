"""ARM resource ids: parse, canonicalise, find the covered resource an operation acts on.

ARM ids compare case-insensitively (events carry `resourcegroups` in lower case); we keep the casing we
were given for display and compare on `key()`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class InvalidResourceId(ValueError):
    pass


# Not frozen: every relevant event parses its target id (Scope.contains), and a frozen dataclass's __init__
# (object.__setattr__ per field) costs 3-4x as much. Nothing assigns to one once built; unsafe_hash keeps it
# hashable as before.
@dataclass(slots=True, unsafe_hash=True)
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


def split(resource_id: str) -> tuple[str, str | None, str | None, list[str]]:
    """`parse` without building a ResourceId: (subscription, resource group, namespace, the parts after the
    namespace: type, name, type, name, ... and an odd trailing action name). The namespace is None for a
    subscription or resource group id. Raises InvalidResourceId exactly as `parse` does."""
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise InvalidResourceId(f"not an ARM resource id: {resource_id!r}")
    parts = resource_id.strip().split("/")
    # The id starts with "/", so parts[0] is always empty; other empty parts (doubled or trailing slashes)
    # are rare, so the filtering copy is made only when there is one.
    del parts[0]
    if "" in parts:
        parts = [p for p in parts if p]
    count = len(parts)
    if count < 2 or parts[0].lower() != "subscriptions":
        raise InvalidResourceId(f"ARM resource id must start with /subscriptions/<id>: {resource_id!r}")
    resource_group = None
    at = 2
    if count >= 4 and parts[2].lower() == "resourcegroups":
        resource_group = parts[3]
        at = 4
    if at == count:
        return parts[1], resource_group, None, []
    if count - at < 2 or parts[at].lower() != "providers":
        raise InvalidResourceId(f"expected /providers/<namespace> in {resource_id!r}")
    return parts[1], resource_group, parts[at + 1], parts[at + 2:]


def parse(resource_id: str) -> ResourceId:
    last = _last_canonical
    if resource_id is last[0]:  # the id canonical() has just built: its parts are known (see canonical)
        subscription, resource_group, namespace, tail = last[1]
    else:
        subscription, resource_group, namespace, tail = split(resource_id)
    if namespace is None:
        return ResourceId(subscription, resource_group, None, ())
    action = None
    if len(tail) % 2 == 1:
        action = tail[-1]
        tail = tail[:-1]
    pairs = iter(tail)
    return ResourceId(subscription, resource_group, namespace, tuple(zip(pairs, pairs)), action)


# (id text, its split() parts) of the last id canonical() built. Why: triage builds the canonical id of an
# event's target and hands it to Scope.contains, which parses it again; parse() of that very string object
# (an identity test) takes the parts from here instead of splitting the text. One slot, replaced whole, so a
# concurrent caller sees either the old pair or the new one, and an identity hit is always its own parts.
_last_canonical: tuple[str | None, tuple] = (None, ())


def canonical(subscription: str, resource_group: str | None, namespace: str, tail: list[str]) -> str:
    """`str(ResourceId)` straight from the parts `split` returns; `tail` holds one or more type, name pairs
    (no action)."""
    global _last_canonical
    if resource_group is None:
        text = f"/subscriptions/{subscription}/providers/{namespace}/" + "/".join(tail)
    else:
        text = f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{namespace}/" + "/".join(tail)
    if not text[-1].isspace():  # split() strips the text first: a name ending in a space would come back shorter
        _last_canonical = (text, (subscription, resource_group, namespace, tuple(tail)))
    return text


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
