"""Shared helpers for the remediator tests: published ARM samples and the metadata/fix contracts."""
from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from remediators.base import Check, CheckContext, Mode, Severity

# The repository's sibling folder shared/ holds the published payloads (see samples/README.md);
# DRIFTWARDEN_SAMPLES points elsewhere, as in tests/support/samples.py.
SAMPLES_ARM = Path(
    os.environ.get("DRIFTWARDEN_SAMPLES") or Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples"
) / "arm"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def read_arm_sample(name: str) -> dict[str, Any]:
    """The GET body of a sample: responses["200"].body for *.spec-example-* files, the file itself otherwise."""
    path = SAMPLES_ARM / (name if name.endswith(".json") else f"{name}.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(document, dict) and "responses" in document:
        return document["responses"]["200"]["body"]
    return document


@pytest.fixture
def arm_sample() -> Callable[[str], dict[str, Any]]:
    """`arm_sample(name)` returns a fresh copy of a published sample's GET body."""
    return read_arm_sample


def _metadata_problems(check: Check, prefix: str) -> list[str]:
    problems: list[str] = []
    if not re.fullmatch(rf"{re.escape(prefix)}[a-z0-9]+(-[a-z0-9]+)*", check.id):
        problems.append(f"id {check.id!r} is not kebab-case starting with {prefix!r}")
    for name in ("title", "risk", "blast_radius", "benchmark", "resource_type"):
        if not str(getattr(check, name) or "").strip():
            problems.append(f"{name} is empty")
    if check.risk.strip() and (not check.risk.strip().endswith(".") or ". " in check.risk.strip()[:-1]):
        problems.append("risk is not one sentence")
    for name in ("cli", "bicep", "portal"):
        if not getattr(check.manual_fix, name).strip():
            problems.append(f"manual_fix.{name} is empty")
    if not isinstance(check.severity, Severity):
        problems.append("severity is not a Severity")
    if not isinstance(check.default_mode, Mode):
        problems.append("default_mode is not a Mode")
    if not callable(check.evaluate):
        problems.append("evaluate is not callable")
    for policy in check.policies:
        if not _GUID.match(policy.definition_id):
            problems.append(f"policy id {policy.definition_id!r} is not a GUID")
        if not policy.name.strip() or not policy.effect.strip():
            problems.append(f"policy {policy.definition_id} lacks a name or effect")
    if check.fix is None:
        if not check.not_revertible_because.strip():
            problems.append("not revertible but gives no reason")
        if check.default_mode is Mode.REVERT:
            problems.append("defaults to revert without a fix")
    elif not check.fix.write_action.lower().endswith("/write"):
        problems.append(f"fix write_action {check.fix.write_action!r} is not a /write action")
    return problems


@pytest.fixture
def check_metadata_problems() -> Callable[..., list[str]]:
    """`check_metadata_problems(check, prefix)` lists what is missing or malformed in a check's metadata."""
    return _metadata_problems


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        existing = next((k for k in target if k.lower() == key.lower()), key)
        if isinstance(value, Mapping) and isinstance(target.get(existing), dict):
            _merge(target[existing], value)
        else:
            target.pop(existing, None)
            target[key] = copy.deepcopy(value)


def _leaves(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            found.update(_leaves(value, path + "."))
        else:
            found[path] = value
    return found


def _fix_problems(check: Check, failing_resource: Mapping[str, Any]) -> list[str]:
    """A fix may write only secure values, only what it owns, and must make the check pass."""
    problems: list[str] = []
    fix = check.fix
    if fix is None:
        return ["check has no fix"]
    if check.evaluate(failing_resource, CheckContext()).passed:
        return ["the resource given does not fail the check"]
    changes = fix.changes(failing_resource)
    if not changes:
        problems.append("fix changes nothing")
    for change in changes:
        if change.value not in change.secure_values:
            problems.append(f"{change.path} = {change.value!r} is not in secure_values {change.secure_values!r}")
    body = fix.body(failing_resource)
    if fix.patch_body is None:
        written = _leaves(body)
        expected = {change.path: change.value for change in changes}
        if written != expected:
            problems.append(f"body {written!r} writes more or other than the changes {expected!r}")
    fixed = copy.deepcopy(dict(failing_resource))
    _merge(fixed, body)
    if not check.evaluate(fixed, CheckContext()).passed:
        problems.append("the check still fails after the fix is applied")
    return problems


@pytest.fixture
def fix_problems() -> Callable[[Check, Mapping[str, Any]], list[str]]:
    """`fix_problems(check, failing_resource)` lists the ways the check's fix breaks the write-safety contract."""
    return _fix_problems
