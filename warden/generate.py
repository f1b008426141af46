"""Deployment artefacts generated from the remediator registry: the custom role, the Event Grid filters
and the check reference.

The registry (`remediators.kinds()`) is the single source: a resource kind that is registered gets its
operations into the event filters and its read/write actions into the role, with no second table kept by
hand. Bicep cannot run Python, so `azd provision` runs this module first (the `preprovision` hook in
azure.yaml) and the templates read the JSON it writes with `loadJsonContent('generated/...')`. The files
are build output: infra/generated/ is not committed.

    python -m warden.generate role        [--output FILE] [--revert-checks all|none|ID,ID]
                                          [--containment-checks none|all|ID,ID]
    python -m warden.generate filter      [--output FILE]
    python -m warden.generate arn-filter  [--output FILE]
    python -m warden.generate checks-doc  [--output FILE]
    python -m warden.generate config      [--output FILE] [--revert-checks ...] [--containment-checks ...]
    python -m warden.generate all         [--output-dir DIR] [--revert-checks ...] [--containment-checks ...]
    python -m warden.generate verify      [--dir DIR] [--revert-checks ...]

Pure on purpose: no Azure SDK, no network, no clock. It imports the registry, and warden.config only for
`config`.

Decisions (docs/deploy.md explains them for operators):
- Role: each kind's read action, the read action of each ancestor type of a child kind (a compute's checks
  read its workspace; the GET of a child itself needs only the child's action), the write action of every
  check that has a Fix (or only of the checks enabled for revert), the provider's async-operation status
  read where the bot may poll a long-running write, and the Resource Graph query action the sweep uses.
  Never a wildcard, never an action that reveals or rotates a secret (listKeys, listSecrets, regenerateKey,
  token...): the bot never calls one, it only reacts to the events they raise.
- Filter: Event Grid allows 25 advanced-filter values per event subscription, counted across all its
  filters, so one StringIn on `data.operationName` cannot hold every operation once the ML kinds are
  registered. The generator emits one event subscription per resource kind (split again past 25), each
  with a single StringIn. Exact names keep out the high-volume operations a provider prefix would let in
  (model deployments, RAI policies, projects on the same accounts); one subscription per kind keeps the
  existing subscriptions unchanged when a kind is added. An operation declared by two kinds goes to the
  first only, so no event is delivered twice by construction.
- Config: the Function App's DRIFTWARDEN_CONFIG_JSON comes from the azd environment through this module
  (`config`), not through main.parameters.json: text substitution into a JSON file would break on the
  quotes inside a JSON value. It is validated with warden.config before anything is deployed, and checked
  against the role: a config that reverts (or contains) a check whose action the role does not grant is
  refused, so the bot is never deployed to fail every revert with 403.
- No filter on the bot's own identity (`data.claims.appid StringNotIn`): the echo event of its own revert
  is how a pending revert is confirmed, and the engine records it as self-caused.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import remediators
from remediators.base import Check, ResourceKind

# Event Grid -----------------------------------------------------------------------------------

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"
INCLUDED_EVENT_TYPES = (WRITE_SUCCESS, ACTION_SUCCESS, DELETE_SUCCESS)

ARN_CREATED_OR_UPDATED = "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated"
ARN_DELETED = "Microsoft.ResourceNotifications.Resources.Deleted"
ARN_EVENT_TYPES = (ARN_CREATED_OR_UPDATED, ARN_DELETED)

OPERATION_KEY = "data.operationName"
ARN_TYPE_KEY = "data.resourceInfo.type"

# Per event subscription (azure-platform-facts.md section 1.5).
MAX_ADVANCED_FILTERS = 25
MAX_FILTER_VALUES = 25
MAX_VALUE_LENGTH = 512
# Per system topic (section 1.4). Other teams' subscriptions share the topic, so stay far below it.
MAX_EVENT_SUBSCRIPTIONS = 500
# Event subscription names are 3-64 characters; Bicep appends "-<environment>" (at most 23 characters).
MAX_GENERATED_NAME = 40

# RBAC -----------------------------------------------------------------------------------------

# Long-running writes answer 202 with an Azure-AsyncOperation URL under the provider's locations; ARM
# authorises polling it with this action. Only names listed in the provider's operations are used here:
# a custom role that names an action the provider does not publish is rejected at deployment.
# Microsoft.MachineLearningServices has per-location status types (workspaceOperationsStatus,
# computeOperationsStatus) whose action names we could not confirm: not granted (docs/deploy.md).
LRO_STATUS_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "microsoft.cognitiveservices": ("Microsoft.CognitiveServices/locations/operationresults/read",),
}

# The timer sweep inventories through Azure Resource Graph. Resource Graph returns only rows the caller
# may read, so this grants no visibility beyond the read actions above.
SWEEP_ACTIONS = ("Microsoft.ResourceGraph/resources/read",)

# A Check names its opt-in containment's RBAC action (for example a compute's stop/action) in this
# attribute (remediators.base.Check.containment_action); the role grants it only for opted-in checks.
CONTAINMENT_ATTRIBUTE = "containment_action"

_ACTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(/[A-Za-z0-9.:_-]+)+$")
_SECRET_VERB = re.compile(r"key|secret|token|credential|password|connectionstring|sas", re.IGNORECASE)


class RegistryError(ValueError):
    """The registry asks for something the deployment must never grant or cannot express."""


# Registry access --------------------------------------------------------------------------------

def _kinds(kinds: Sequence[ResourceKind] | None) -> tuple[ResourceKind, ...]:
    # Looked up at call time (not imported by name) so a test can monkeypatch remediators.kinds.
    return tuple(remediators.kinds() if kinds is None else kinds)


def _checks(kinds: Sequence[ResourceKind]) -> list[Check]:
    return [check for kind in kinds for check in kind.checks]


def provider_of(type_or_action: str) -> str:
    return type_or_action.split("/", 1)[0]


def ancestor_types(resource_type: str) -> list[str]:
    """`Microsoft.X/a/b/c` -> [`Microsoft.X/a`, `Microsoft.X/a/b`]."""
    provider, *segments = resource_type.split("/")
    return [provider + "/" + "/".join(segments[:n]) for n in range(1, len(segments))]


def event_type_of(operation_name: str) -> str:
    """The ARM event type an operation raises when it succeeds (its action verb decides)."""
    verb = operation_name.rsplit("/", 1)[-1].lower()
    if verb == "write":
        return WRITE_SUCCESS
    if verb == "delete":
        return DELETE_SUCCESS
    if verb == "action":
        return ACTION_SUCCESS
    raise RegistryError(f"operation {operation_name!r} does not end in /write, /delete or /action")


def is_secret_action(action: str) -> bool:
    """An action that reveals or rotates a secret: .../listKeys/action, .../listsecrets/action, ..."""
    parts = action.split("/")
    return len(parts) >= 2 and parts[-1].lower() == "action" and bool(_SECRET_VERB.search(parts[-2]))


# Role -------------------------------------------------------------------------------------------

def _validate_action(action: str, origin: str) -> None:
    if "*" in action:
        raise RegistryError(f"{origin}: {action!r} is a wildcard; name the action")
    if not _ACTION.match(action):
        raise RegistryError(f"{origin}: {action!r} is not an ARM action name")
    if is_secret_action(action):
        raise RegistryError(f"{origin}: {action!r} reveals or rotates a secret; the bot never calls it")


def _revert_checks(kinds: Sequence[ResourceKind], enabled_check_ids: Iterable[str] | None) -> list[Check]:
    fixable = [check for check in _checks(kinds) if check.fix is not None]
    if enabled_check_ids is None:
        return fixable
    wanted = set(enabled_check_ids)
    known = {check.id: check for check in _checks(kinds)}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise RegistryError(f"unknown check id(s) {unknown}; registered: {sorted(known)}")
    not_fixable = sorted(cid for cid in wanted if known[cid].fix is None)
    if not_fixable:
        raise RegistryError(f"check(s) {not_fixable} cannot be reverted in place, so they need no write action")
    return [check for check in fixable if check.id in wanted]


def role_actions(enabled_check_ids: Iterable[str] | None = None, *,
                 containment_check_ids: Iterable[str] = (),
                 kinds: Sequence[ResourceKind] | None = None) -> list[str]:
    """Exactly the ARM control-plane actions the bot's identity needs, sorted, de-duplicated
    case-insensitively.

    `enabled_check_ids`: None = every check that has a Fix may revert; a collection = only those (an empty
    one gives a read-only role, right for dry-run and ticket-only rollouts). `containment_check_ids`: checks
    whose opt-in containment action (attribute `containment_action`) is granted.
    """
    registered = _kinds(kinds)
    actions: dict[str, str] = {}

    def add(action: str, origin: str) -> None:
        _validate_action(action, origin)
        actions.setdefault(action.lower(), action)

    for kind in registered:
        add(kind.read_action, f"{kind.type} read_action")
        for ancestor in ancestor_types(kind.type):
            add(f"{ancestor}/read", f"{kind.type} (parent {ancestor})")

    written_providers: set[str] = set()
    for check in _revert_checks(registered, enabled_check_ids):
        fix = check.fix
        assert fix is not None
        if not fix.write_action.lower().startswith(check.resource_type.lower() + "/"):
            raise RegistryError(f"{check.id}: write action {fix.write_action!r} is not an action on "
                                f"{check.resource_type}; a fix may only write the resource it checks")
        add(fix.write_action, f"{check.id} fix")
        written_providers.add(provider_of(check.resource_type).lower())

    by_id = {check.id: check for check in _checks(registered)}
    for check_id in containment_check_ids:
        check = by_id.get(check_id)
        if check is None:
            raise RegistryError(f"containment for unknown check id {check_id!r}")
        action = getattr(check, CONTAINMENT_ATTRIBUTE, None)
        if not action:
            raise RegistryError(f"{check_id} declares no {CONTAINMENT_ATTRIBUTE}")
        if not action.lower().startswith(check.resource_type.lower() + "/"):
            raise RegistryError(f"{check_id}: containment {action!r} is not an action on {check.resource_type}")
        add(action, f"{check_id} containment")
        written_providers.add(provider_of(check.resource_type).lower())

    for provider in sorted(written_providers):
        for action in LRO_STATUS_ACTIONS.get(provider, ()):
            add(action, f"{provider} async-operation status")
    for action in SWEEP_ACTIONS:
        add(action, "sweep")
    return sorted(actions.values(), key=str.lower)


def role_document(enabled_check_ids: Iterable[str] | None = None, *,
                  containment_check_ids: Iterable[str] = (),
                  kinds: Sequence[ResourceKind] | None = None) -> dict[str, Any]:
    """The JSON Bicep loads for the custom role definition (infra/generated/role.json)."""
    registered = _kinds(kinds)
    enabled = None if enabled_check_ids is None else sorted(set(enabled_check_ids))
    containment = sorted(set(containment_check_ids))
    return {
        "description": ("Driftwarden: read Azure AI resources and revert security drift with minimal writes. "
                        "Generated from the remediator registry; no wildcard, no key or secret actions."),
        "actions": role_actions(enabled, containment_check_ids=containment, kinds=registered),
        "notActions": [],
        # "all" = every check that has a Fix (so a check added later is expected too); else the ids.
        "revertSelection": "all" if enabled is None else enabled,
        "revertChecks": [c.id for c in _revert_checks(registered, enabled)],
        "containmentChecks": containment,
        "kinds": [kind.type for kind in registered],
    }


# Event filters ------------------------------------------------------------------------------------

def relevant_operations(kinds: Sequence[ResourceKind] | None = None) -> list[str]:
    """Every operation name the registry reacts to, lower-case, sorted, without duplicates."""
    return sorted({op.lower() for kind in _kinds(kinds) for op in kind.operations})


def _subscription_name(resource_type: str, part: int, parts: int) -> str:
    provider, *segments = resource_type.lower().split("/")
    short = provider.removeprefix("microsoft.")
    short = {"cognitiveservices": "cogsvc", "machinelearningservices": "aml"}.get(short, short)
    name = "dw-" + "-".join([short, *segments])
    suffix = f"-{part}" if parts > 1 else ""
    name = re.sub(r"[^a-z0-9-]", "-", name)
    if len(name) + len(suffix) > MAX_GENERATED_NAME:
        digest = hashlib.sha256(resource_type.lower().encode()).hexdigest()[:6]
        name = name[: MAX_GENERATED_NAME - len(suffix) - 7].rstrip("-") + "-" + digest
    return name + suffix


def _chunks(values: Sequence[str], size: int) -> list[list[str]]:
    return [list(values[i:i + size]) for i in range(0, len(values), size)] or [[]]


def event_filter(kinds: Sequence[ResourceKind] | None = None) -> dict[str, Any]:
    """The Event Grid filter sets for the subscription system topic (infra/generated/filter.json).

    `subscriptions` is a list of event subscriptions to create on the topic, each with a complete Event
    Grid `filter` object: `includedEventTypes` (ResourceWrite/Action/DeleteSuccess) and one StringIn
    advanced filter on `data.operationName` with at most 25 values. Together they cover every operation
    of every registered kind exactly once.
    """
    registered = _kinds(kinds)
    assigned: set[str] = set()
    subscriptions: list[dict[str, Any]] = []
    for kind in registered:
        operations = sorted(op.lower() for op in kind.operations if op.lower() not in assigned)
        assigned.update(operations)
        if not operations:
            continue
        for op in operations:
            event_type_of(op)  # every operation must map to one of the included event types
            if len(op) > MAX_VALUE_LENGTH:
                raise RegistryError(f"{kind.type}: operation {op!r} is longer than {MAX_VALUE_LENGTH} characters")
        chunks = _chunks(operations, MAX_FILTER_VALUES)
        for index, chunk in enumerate(chunks, start=1):
            subscriptions.append({
                "name": _subscription_name(kind.type, index, len(chunks)),
                "resourceTypes": [kind.type],
                "filter": {
                    "includedEventTypes": list(INCLUDED_EVENT_TYPES),
                    "isSubjectCaseSensitive": False,
                    "enableAdvancedFilteringOnArrays": False,
                    "advancedFilters": [
                        {"operatorType": "StringIn", "key": OPERATION_KEY, "values": chunk},
                    ],
                },
            })
    names = [s["name"] for s in subscriptions]
    if len(set(names)) != len(names):
        raise RegistryError(f"generated event subscription names collide: {names}")
    if len(subscriptions) > MAX_EVENT_SUBSCRIPTIONS:
        raise RegistryError(f"{len(subscriptions)} event subscriptions exceed the topic's {MAX_EVENT_SUBSCRIPTIONS}")
    return {
        "topicType": "Microsoft.Resources.Subscriptions",
        "eventDeliverySchema": "EventGridSchema",
        "includedEventTypes": list(INCLUDED_EVENT_TYPES),
        "operations": sorted(assigned),
        "subscriptions": subscriptions,
    }


def arn_filter(kinds: Sequence[ResourceKind] | None = None) -> dict[str, Any]:
    """Filter sets for the optional Resource Notifications topic (`Microsoft.ResourceNotifications.Resources`).

    That topic carries the resource body but no caller and no action events (listKeys), so it complements
    the subscription topic; it is filtered on `data.resourceInfo.type`.
    """
    types = sorted({kind.type.lower() for kind in _kinds(kinds)})
    subscriptions = []
    chunks = _chunks(types, MAX_FILTER_VALUES)
    for index, chunk in enumerate(chunks, start=1):
        suffix = f"-{index}" if len(chunks) > 1 else ""
        subscriptions.append({
            "name": f"dw-arn-resources{suffix}",
            "resourceTypes": chunk,
            "filter": {
                "includedEventTypes": list(ARN_EVENT_TYPES),
                "isSubjectCaseSensitive": False,
                "enableAdvancedFilteringOnArrays": False,
                "advancedFilters": [{"operatorType": "StringIn", "key": ARN_TYPE_KEY, "values": chunk}],
            },
        })
    return {
        "topicType": "Microsoft.ResourceNotifications.Resources",
        "eventDeliverySchema": "CloudEventSchemaV1_0",
        "includedEventTypes": list(ARN_EVENT_TYPES),
        "resourceTypes": types,
        "subscriptions": subscriptions,
    }


# Evaluating a filter the way Event Grid does -------------------------------------------------------

def _lookup(event: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = event
    for part in key.split("."):
        if not isinstance(node, Mapping):
            return False, None
        match = next((k for k in node if isinstance(k, str) and k.lower() == part.lower()), None)
        if match is None:
            return False, None
        node = node[match]
    return True, node


def _advanced_match(flt: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    operator = flt.get("operatorType", "")
    present, value = _lookup(event, flt.get("key", ""))
    values = [str(v).lower() for v in flt.get("values", [])]
    if operator == "StringNotIn":
        return not present or str(value).lower() not in values
    if operator == "IsNullOrUndefined":
        return not present or value is None
    if not present:
        return False  # Event Grid: a missing key does not match (except the NotIn operators)
    text = str(value).lower()
    if operator == "IsNotNull":
        return value is not None
    if operator == "StringIn":
        return text in values
    if operator == "StringBeginsWith":
        return any(text.startswith(v) for v in values)
    if operator == "StringNotBeginsWith":
        return not any(text.startswith(v) for v in values)
    if operator == "StringEndsWith":
        return any(text.endswith(v) for v in values)
    if operator == "StringNotEndsWith":
        return not any(text.endswith(v) for v in values)
    if operator == "StringContains":
        return any(v in text for v in values)
    if operator == "StringNotContains":
        return not any(v in text for v in values)
    raise ValueError(f"operator {operator!r} is not evaluated here")


def matches(event_filter_object: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether an Event Grid filter object lets an Event Grid-schema event through: event types, subject
    prefix/suffix (case-insensitive unless isSubjectCaseSensitive) and every advanced filter (ANDed; the
    values of one filter ORed; string comparisons case-insensitive)."""
    types = event_filter_object.get("includedEventTypes")
    if types and str(event.get("eventType", "")).lower() not in {t.lower() for t in types}:
        return False
    subject = str(event.get("subject", ""))
    begins = event_filter_object.get("subjectBeginsWith") or ""
    ends = event_filter_object.get("subjectEndsWith") or ""
    if not event_filter_object.get("isSubjectCaseSensitive", False):
        subject, begins, ends = subject.lower(), begins.lower(), ends.lower()
    if not subject.startswith(begins) or not subject.endswith(ends):
        return False
    return all(_advanced_match(f, event) for f in event_filter_object.get("advancedFilters", []))


def sample_event(operation_name: str, subject: str = "") -> dict[str, Any]:
    """The smallest Event Grid-schema ARM event for an operation (enough for `matches`)."""
    return {"eventType": event_type_of(operation_name), "subject": subject,
            "data": {"operationName": operation_name}}


# Verification ------------------------------------------------------------------------------------

def filter_limit_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    for sub in document.get("subscriptions", []):
        name = sub.get("name", "?")
        flt = sub.get("filter", {})
        advanced = flt.get("advancedFilters", [])
        values = [v for f in advanced for v in f.get("values", [])]
        if len(advanced) > MAX_ADVANCED_FILTERS:
            problems.append(f"event subscription {name}: {len(advanced)} advanced filters (max {MAX_ADVANCED_FILTERS})")
        if len(values) > MAX_FILTER_VALUES:
            problems.append(f"event subscription {name}: {len(values)} filter values (max {MAX_FILTER_VALUES})")
        for value in values:
            if len(str(value)) > MAX_VALUE_LENGTH:
                problems.append(f"event subscription {name}: value longer than {MAX_VALUE_LENGTH}: {str(value)[:60]}...")
        if not 3 <= len(name) <= MAX_GENERATED_NAME:
            problems.append(f"event subscription name {name!r} is not 3-{MAX_GENERATED_NAME} characters")
    if len(document.get("subscriptions", [])) > MAX_EVENT_SUBSCRIPTIONS:
        problems.append(f"more than {MAX_EVENT_SUBSCRIPTIONS} event subscriptions")
    return problems


def verify(role: Mapping[str, Any] | Sequence[str], filter_document: Mapping[str, Any], *,
           enabled_check_ids: Iterable[str] | None = None,
           kinds: Sequence[ResourceKind] | None = None) -> list[str]:
    """Compare a role (document or list of actions) and a filter document with what the current registry
    needs. Returns the problems found; an empty list means the deployment matches the registry."""
    registered = _kinds(kinds)
    problems: list[str] = []
    containment: list[str] = []
    if isinstance(role, Mapping):
        if enabled_check_ids is None and role.get("revertSelection", "all") != "all":
            enabled_check_ids = list(role["revertSelection"])
        containment = list(role.get("containmentChecks", []))

    actions = list(role.get("actions", []) if isinstance(role, Mapping) else role)
    for action in actions:
        if "*" in action:
            problems.append(f"role: {action} is a wildcard")
        if is_secret_action(action):
            problems.append(f"role: {action} reveals or rotates a secret")
    try:
        expected_actions = role_actions(enabled_check_ids, containment_check_ids=containment, kinds=registered)
    except RegistryError as error:
        return problems + [f"registry: {error}"]
    expected = {a.lower(): a for a in expected_actions}
    have = {a.lower(): a for a in actions}
    problems += [f"role: missing {expected[a]}" for a in sorted(set(expected) - set(have))]
    problems += [f"role: grants {have[a]}, which the registry does not need" for a in sorted(set(have) - set(expected))]

    subscriptions = list(filter_document.get("subscriptions", []))
    problems += filter_limit_problems(filter_document)
    for op in relevant_operations(registered):
        event = sample_event(op)
        hits = [s.get("name", "?") for s in subscriptions if matches(s.get("filter", {}), event)]
        if not hits:
            problems.append(f"filter: operation {op} is not delivered by any event subscription")
        elif len(hits) > 1:
            problems.append(f"filter: operation {op} is delivered {len(hits)} times ({', '.join(hits)})")
    wanted = set(relevant_operations(registered))
    for sub in subscriptions:
        for flt in sub.get("filter", {}).get("advancedFilters", []):
            if flt.get("key", "").lower() == OPERATION_KEY.lower() and flt.get("operatorType") == "StringIn":
                for value in flt.get("values", []):
                    if str(value).lower() not in wanted:
                        problems.append(f"filter: {sub.get('name')} lets in {value}, which no registered kind handles")
    return problems


# App configuration -----------------------------------------------------------------------------

DEFAULT_CONFIG: Mapping[str, Any] = {"dry_run": True}


def config_document(raw_json: str | None, enabled_check_ids: Iterable[str] | None = None, *,
                    containment_check_ids: Iterable[str] = ()) -> dict[str, Any]:
    """The DRIFTWARDEN_CONFIG_JSON the app will get (infra/generated/config.json), validated with
    warden.config and checked against the role the same selections generate.

    Empty or unset -> {"dry_run": true}. Raises RegistryError when the config is invalid, or when it
    reverts or contains (outside dry run) a check whose action the role would not grant.
    """
    from warden import config as app_config  # only this subcommand needs it

    if raw_json is None or not raw_json.strip():
        raw: Any = dict(DEFAULT_CONFIG)
    else:
        try:
            raw = json.loads(raw_json)
        except json.JSONDecodeError as error:
            raise RegistryError(f"DRIFTWARDEN_CONFIG_JSON is not valid JSON: {error}") from None
    try:
        parsed = app_config.from_mapping(raw)
    except app_config.ConfigError as error:
        raise RegistryError(f"DRIFTWARDEN_CONFIG_JSON: {error}") from None
    if not parsed.dry_run:
        registered = _kinds(None)
        granted = {c.id for c in _revert_checks(registered, enabled_check_ids)}
        reverting = sorted(cid for cid, mode in parsed.modes.items() if mode.value == "revert")
        missing = [cid for cid in reverting if cid not in granted]
        if missing:
            raise RegistryError(
                f"the config reverts {missing} but the role would not grant their write action: add them to "
                f"DRIFTWARDEN_REVERT_CHECKS (now {sorted(granted) or 'none'}), or set their mode to ticket, "
                f"or keep dry_run true")
        contained = sorted(set(parsed.containment) - set(containment_check_ids))
        if contained:
            raise RegistryError(
                f"the config contains {contained} but the role would not grant their containment action: "
                f"add them to DRIFTWARDEN_CONTAINMENT_CHECKS, or remove them from containment")
    return raw


# Check reference (Markdown) -----------------------------------------------------------------------

def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def checks_markdown(kinds: Sequence[ResourceKind] | None = None) -> str:
    """docs/checks.md: every registered check with its metadata, generated (not committed)."""
    registered = _kinds(kinds)
    lines = [
        "# Driftwarden checks",
        "",
        "Generated by `python -m warden.generate checks-doc` from the remediator registry; do not edit.",
        "Modes: `off` | `report` | `ticket` | `revert` (a check that is not revertible rejects `revert`).",
        "",
        "| check | resource type | severity | default mode | revertible |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind in registered:
        for check in kind.checks:
            lines.append(f"| [`{check.id}`](#{check.id}) | `{kind.type}` | {check.severity.value} | "
                         f"{check.default_mode.value} | {'yes' if check.revertible else 'no'} |")
    for kind in registered:
        lines += ["", f"## {kind.display_name or kind.type}", "", f"Type `{kind.type}`, api-version "
                  f"`{kind.api_version}`, read with `{kind.read_action}`.", "",
                  "Operations that trigger an evaluation:", ""]
        lines += [f"- `{op}` ({role.value})" for op, role in sorted(kind.operations.items())]
        for check in kind.checks:
            lines += ["", f"### {check.id}", "", f"**{_cell(check.title)}**", "",
                      f"- Severity: {check.severity.value}",
                      f"- Default mode: `{check.default_mode.value}`"]
            if check.fix is not None:
                lines.append(f"- Revertible: yes, {check.fix.method} with `{check.fix.write_action}`"
                             + (" after a guard" if check.fix.guard is not None else ""))
            else:
                lines.append(f"- Revertible: no ({_cell(check.not_revertible_because or 'no in-place fix')})")
            lines += [f"- Risk: {_cell(check.risk)}",
                      f"- Blast radius of a revert: {_cell(check.blast_radius)}",
                      f"- Benchmark: {_cell(check.benchmark)}",
                      "- Manual fix:",
                      f"  - CLI: `{_cell(check.manual_fix.cli)}`",
                      f"  - Bicep: `{_cell(check.manual_fix.bicep)}`",
                      f"  - Portal: {_cell(check.manual_fix.portal)}"]
            if check.policies:
                lines.append("- Azure Policy:")
                lines += [f"  - {_cell(p.name)} (`{p.definition_id}`, {p.effect})" for p in check.policies]
            else:
                lines.append("- Azure Policy: none")
    return "\n".join(lines) + "\n"


# Command line ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Output:
    name: str
    render: Any  # Callable[[argparse.Namespace], str]


def _json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def _revert_arg(value: str | None) -> list[str] | None:
    """`all` (or unset) -> None (every fixable check); `none` / '' -> []; else a comma-separated list."""
    if value is None or value.strip().lower() == "all":
        return None
    if value.strip().lower() in {"", "none"}:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _containment_arg(value: str | None) -> list[str]:
    """`none` (or unset) -> []; `all` -> every check that declares a containment; else a comma-separated list."""
    if value is None or value.strip().lower() in {"", "none"}:
        return []
    if value.strip().lower() == "all":
        return [c.id for c in _checks(_kinds(None)) if getattr(c, CONTAINMENT_ATTRIBUTE, None)]
    return [part.strip() for part in value.split(",") if part.strip()]


_OUTPUTS = {
    "role": _Output("role.json", lambda a: _json(role_document(
        _revert_arg(a.revert_checks), containment_check_ids=_containment_arg(a.containment_checks)))),
    "filter": _Output("filter.json", lambda a: _json(event_filter())),
    "arn-filter": _Output("arn-filter.json", lambda a: _json(arn_filter())),
    "checks-doc": _Output("checks.md", lambda a: checks_markdown()),
    "config": _Output("config.json", lambda a: _json(config_document(
        os.environ.get("DRIFTWARDEN_CONFIG_JSON"), _revert_arg(a.revert_checks),
        containment_check_ids=_containment_arg(a.containment_checks)))),
}
_DEPLOYMENT_FILES = ("role", "filter", "arn-filter", "config")  # what `all` writes for Bicep


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m warden.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=[*_OUTPUTS, "all", "verify"],
                        help="config reads DRIFTWARDEN_CONFIG_JSON from the environment")
    parser.add_argument("--output", "-o", help="file to write (default: standard output)")
    parser.add_argument("--output-dir", default="infra/generated", help="directory for `all` (default infra/generated)")
    parser.add_argument("--dir", default="infra/generated", help="directory `verify` reads (default infra/generated)")
    parser.add_argument("--revert-checks", default=None,
                        help="checks whose write action the role grants: all (default), none, or ID,ID")
    parser.add_argument("--containment-checks", default=None,
                        help="checks whose opt-in containment action the role grants: none (default), all, or ID,ID")
    return parser


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.what == "all":
            out = Path(args.output_dir)
            rendered = {key: _OUTPUTS[key].render(args) for key in _DEPLOYMENT_FILES}  # all or nothing
            for key, text in rendered.items():
                _write(out / _OUTPUTS[key].name, text)
            print(f"wrote {', '.join(_OUTPUTS[k].name for k in _DEPLOYMENT_FILES)} to {out}", file=sys.stderr)
            return 0
        if args.what == "verify":
            directory = Path(args.dir)
            try:
                role = json.loads((directory / "role.json").read_text(encoding="utf-8"))
                flt = json.loads((directory / "filter.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                print(f"verify: cannot read {directory}: {error}", file=sys.stderr)
                return 2
            problems = verify(role, flt, enabled_check_ids=_revert_arg(args.revert_checks))
            for problem in problems:
                print(problem, file=sys.stderr)
            if not problems:
                print(f"verify: {directory} matches the registry", file=sys.stderr)
            return 1 if problems else 0
        text = _OUTPUTS[args.what].render(args)
    except RegistryError as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    if args.output:
        _write(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
