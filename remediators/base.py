"""The vocabulary every remediator module speaks.

A remediator module declares one ARM resource kind (`ResourceKind`) with its checks. A check is a pure
function over the ARM JSON of the resource plus its metadata (severity, risk, blast radius, manual fix,
matching Azure Policy). The fix is data: which properties a revert may touch, the secure value it sets,
the guard that must hold, and the RBAC action the write needs. The engine applies fixes; checks never
perform I/O.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

from remediators import props


class Severity(str, enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Mode(str, enum.Enum):
    """What the bot may do about a finding of a check (the design brief's contract)."""

    OFF = "off"
    REPORT = "report"
    TICKET = "ticket"
    REVERT = "revert"


class OperationRole(str, enum.Enum):
    """Why an ARM operation on a kind matters."""

    EVALUATE = "evaluate"  # the resource may have changed: re-read and run the checks
    KEY_RETRIEVAL = "key-retrieval"  # keys or secrets were fetched: a signal, then evaluate
    DELETE = "delete"  # the resource is gone: close what is open


@dataclass(frozen=True)
class CheckContext:
    """What a check may know besides the resource: the triggering operation (None in a sweep or `check`)."""

    operation: str | None = None
    caller: str | None = None


# Not frozen: checks build one Evaluation per evaluation, and a frozen dataclass's __init__ (object.__setattr__
# per field) makes that 3-4x dearer. Nothing assigns to one once built; unsafe_hash keeps it hashable as before.
@dataclass(slots=True, unsafe_hash=True)
class Evaluation:
    passed: bool
    detail: str
    # JSON path -> value as found (None = absent): the "before" of a revert and the evidence of a ticket.
    observed: Mapping[str, Any] = field(default_factory=dict)
    applicable: bool = True


def passed(detail: str, **observed: Any) -> Evaluation:
    return Evaluation(True, detail, _paths(observed))


def failed(detail: str, **observed: Any) -> Evaluation:
    return Evaluation(False, detail, _paths(observed))


NOT_APPLICABLE = Evaluation(True, "not applicable", {}, applicable=False)


def _paths(observed: Mapping[str, Any]) -> dict[str, Any]:
    # Keyword names use "__" for "." so call sites can name JSON paths.
    paths = {}
    for keyword, value in observed.items():
        paths[_path(keyword)] = value
    return paths


@lru_cache(maxsize=256)
def _path(keyword: str) -> str:
    # The checks pass the same few dozen keywords on every evaluation: rewrite each once.
    return keyword.replace("__", ".")


@dataclass(frozen=True)
class Guard:
    ok: bool
    reason: str


@dataclass(frozen=True)
class PropertyChange:
    """One property a revert sets: its JSON path and the secure value it is set to.

    `secure_values` lists every value that counts as secure for the property; the engine's safety test
    relies on it: a revert may only ever write one of them.
    """

    path: str
    value: Any
    secure_values: tuple[Any, ...]


@dataclass(frozen=True)
class Fix:
    """How a finding is reverted in place.

    `changes(resource)` returns the property changes of the minimal write; the engine turns them into a
    PATCH body (or, for PUT-only kinds, into the current body with those values replaced).
    """

    changes: Callable[[Mapping[str, Any]], tuple[PropertyChange, ...]]
    write_action: str
    method: str = "PATCH"
    guard: Callable[[Mapping[str, Any]], Guard] | None = None
    # When ARM replaces a property as a whole (networkAcls), the body must carry its other members as they
    # are: `patch_body(resource)` builds it, and `owned_paths` names what the check may touch.
    patch_body: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    owned_paths: tuple[str, ...] = ()

    def paths_owned(self, resource: Mapping[str, Any]) -> tuple[str, ...]:
        return self.owned_paths or tuple(change.path for change in self.changes(resource))

    def body(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        """The minimal write body for this fix alone."""
        if self.patch_body is not None:
            return self.patch_body(resource)
        body: dict[str, Any] = {}
        for change in self.changes(resource):
            set_path(body, change.path, change.value)
        return body


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    node = document
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@dataclass(frozen=True)
class Containment:
    """An opt-in action that limits a finding's exposure when the setting cannot be reverted in place.

    The engine sends `POST {resource id}/{action}?api-version=<kind's>` (no body) for a finding that became
    a ticket, only when the check is listed in the config's `containment` and `applies(resource)` holds on
    the resource as just read. It is recorded as its own action (`contained`; `would-contain` in dry-run)
    next to the finding's ticket. `rbac_action` is the ARM action the POST needs: the generated custom role
    grants it only for checks whose containment is opted in (warden/generate.py reads `containment_action`).
    `evidence` names JSON paths recorded before and after (for example the compute's state).
    """

    action: str  # the action segment of the POST, e.g. "stop"
    rbac_action: str  # e.g. "Microsoft.MachineLearningServices/workspaces/computes/stop/action"
    applies: Callable[[Mapping[str, Any]], bool]
    description: str  # what it does and costs, for the record's reason: "stop the compute instance (...)"
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManualFix:
    cli: str
    bicep: str
    portal: str


@dataclass(frozen=True)
class PolicyRef:
    definition_id: str  # the GUID of the built-in policy definition
    name: str
    effect: str


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    severity: Severity
    risk: str
    blast_radius: str
    manual_fix: ManualFix
    policies: tuple[PolicyRef, ...]
    benchmark: str
    evaluate: Callable[[Mapping[str, Any], CheckContext], Evaluation]
    default_mode: Mode
    fix: Fix | None = None
    # Why the check cannot be reverted in place (immutable setting, PUT-only without opt-in, no secure
    # value in the API): config rejects `revert` for it with this text.
    not_revertible_because: str = ""
    resource_type: str = ""  # filled in by ResourceKind
    # Opt-in containment for findings that become tickets (config `containment` lists the check ids).
    containment: Containment | None = None

    @property
    def revertible(self) -> bool:
        return self.fix is not None

    @property
    def containment_action(self) -> str | None:
        """The RBAC action of the containment, if any (the custom-role generator reads this name)."""
        return self.containment.rbac_action if self.containment is not None else None

    def portal_policy_ids(self) -> list[str]:
        return [f"/providers/Microsoft.Authorization/policyDefinitions/{p.definition_id}" for p in self.policies]


@dataclass(frozen=True)
class ResourceKind:
    type: str
    api_version: str
    read_action: str
    operations: Mapping[str, OperationRole]
    checks: tuple[Check, ...]
    display_name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checks", tuple(_with_type(c, self.type) for c in self.checks))
        object.__setattr__(self, "operations", {op.lower(): role for op, role in self.operations.items()})

    def role_of(self, operation_name: str) -> OperationRole | None:
        return self.operations.get(operation_name.lower())


def _with_type(check: Check, resource_type: str) -> Check:
    from dataclasses import replace

    return replace(check, resource_type=resource_type)


# Small helpers shared by remediator modules -------------------------------------------------------

def approved_private_endpoints(resource: Mapping[str, Any], path: str = "properties.privateEndpointConnections") -> int:
    """Count private endpoint connections whose connection state is Approved."""
    count = 0
    for connection in props.get(resource, path) or []:
        if type(connection) is not dict and not isinstance(connection, Mapping):  # dict first: see props.get
            continue
        status = props.get(connection, "properties.privateLinkServiceConnectionState.status")
        if status is None:  # some SDK shapes flatten the connection properties
            status = props.get(connection, "privateLinkServiceConnectionState.status")
        if props.equals(status, "Approved"):
            count += 1
    return count


def private_endpoint_guard(resource: Mapping[str, Any]) -> Guard:
    count = approved_private_endpoints(resource)
    if count:
        return Guard(True, f"{count} Approved private endpoint connection(s) keep private access working")
    return Guard(False, "no Approved private endpoint connection: disabling public access would cut off every caller")

