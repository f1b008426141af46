"""Remediators: one module per ARM resource kind, registered by type.

The engine never names a resource type itself: it asks this registry. Event Grid filters, the custom
role and the check docs are generated from the same registry (see warden/generate.py).
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remediators.base import Check, ResourceKind

# Modules that declare a KIND. Adding a resource kind = adding a module here.
MODULES = (
    "remediators.cognitive_account",
    "remediators.ml_workspace",
    "remediators.ml_online_endpoint",
    "remediators.ml_compute",
    "remediators.ml_datastore",
    "remediators.ml_serverless_endpoint",
    "remediators.ml_registry",
)

_kinds: dict[str, "ResourceKind"] | None = None


def _load() -> dict[str, "ResourceKind"]:
    global _kinds
    if _kinds is None:
        kinds: dict[str, ResourceKind] = {}
        for name in MODULES:
            kind = import_module(name).KIND
            if kind.type.lower() in kinds:
                raise RuntimeError(f"{name}: resource type {kind.type} is registered twice")
            kinds[kind.type.lower()] = kind
        seen: set[str] = set()
        for kind in kinds.values():
            for check in kind.checks:
                if check.id in seen:
                    raise RuntimeError(f"check id {check.id} is declared twice")
                seen.add(check.id)
        _kinds = kinds
    return _kinds


def kinds() -> tuple["ResourceKind", ...]:
    return tuple(_load().values())


def kind_for(resource_type: str) -> "ResourceKind | None":
    return _load().get(resource_type.lower())


def all_checks() -> tuple["Check", ...]:
    return tuple(check for kind in kinds() for check in kind.checks)


def check_by_id(check_id: str) -> "Check | None":
    for check in all_checks():
        if check.id == check_id:
            return check
    return None
