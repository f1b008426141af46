"""Reading ARM JSON the way ARM means it.

Property names compare case-insensitively, enum values too, and booleans may arrive as 1/0 or strings
(Resource Graph and Resource Notifications render them that way). A missing value is `None`; each check
decides what absence means (usually the insecure default, as the catalog says).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

MISSING = None

_ABSENT = object()


@lru_cache(maxsize=512)
def _steps(path: str) -> tuple[str, ...]:
    # The checks read the same few dozen literal paths on every evaluation: split each once.
    return tuple(path.split("."))


def get(document: Any, path: str) -> Any:
    """Value at a dotted JSON path, matching keys case-insensitively; None when any step is absent."""
    node = document
    for part in _steps(path):
        # Fast path for decoded JSON: an exact-case hit in a plain dict (isinstance against typing.Mapping
        # costs about 1 us; `type(node) is dict` and dict.get cost a fraction of that).
        if type(node) is dict:
            value = node.get(part, _ABSENT)
            if value is not _ABSENT:
                node = value
                continue
        elif not isinstance(node, Mapping):
            return None
        elif part in node:
            node = node[part]
            continue
        lowered = part.lower()
        for key, value in node.items():
            if isinstance(key, str) and key.lower() == lowered:
                node = value
                break
        else:
            return None
    return node


def text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip()


def equals(value: Any, expected: str) -> bool:
    """Case-insensitive enum comparison; None never equals anything."""
    if type(value) is str:  # the usual case: an exact match needs no copies, and str() is not needed
        return value == expected or value.strip().lower() == expected.lower()
    return value is not None and str(value).strip().lower() == expected.lower()


def in_values(value: Any, *expected: str) -> bool:
    return any(equals(value, e) for e in expected)


def truthy(value: Any) -> bool | None:
    """True/False for the boolean spellings ARM, Resource Graph and ARN use; None when absent or unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    return None


def identity_types(value: Any) -> set[str]:
    """Normalise `identity.type`: CognitiveServices writes "SystemAssigned, UserAssigned", ML omits the space."""
    if value is None:
        return set()
    parts = {part.strip().lower() for part in str(value).split(",")}
    return {p for p in parts if p and p != "none"}


def tags(resource: Mapping[str, Any]) -> dict[str, str]:
    """The resource's tags with lower-cased names (Azure treats tag names case-insensitively)."""
    raw = get(resource, "tags")
    if type(raw) is not dict and not isinstance(raw, Mapping):
        return {}
    return {str(k).lower(): "" if v is None else str(v) for k, v in raw.items()}
