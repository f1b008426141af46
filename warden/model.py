"""The records that flow through the engine, and the fixed outcome vocabulary.

The string values of `Outcome` and `Action` are a contract: the KQL queries, the workbook and the alert
rules match on them (docs/remediation-log.md). Add values; never rename one.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


class Verdict(str, enum.Enum):
    RELEVANT = "relevant"
    IGNORED = "ignored"
    INVALID = "invalid"


class Outcome(str, enum.Enum):
    """How one event ended. Exactly one per event."""

    IGNORED = "ignored"  # not an event about a covered resource/operation, or out of scope
    INVALID = "invalid"  # malformed: the record says what is missing
    SELF_CAUSED = "self-caused"  # the echo of the bot's own write; re-read and found compliant
    COMPLIANT = "compliant"  # re-read: nothing drifted
    EXEMPT = "exempt"  # drifted, but every finding is covered by an honoured exemption
    REVERTED = "reverted"  # at least one finding reverted and verified
    PENDING = "pending"  # a revert was accepted by ARM (202) and awaits confirmation
    TICKETED = "ticketed"  # a ticket was opened or updated for a human
    REPORTED = "reported"  # recorded only (mode report)
    CONTAINED = "contained"  # a finding was ticketed and its opt-in containment ran (e.g. a compute instance stopped)
    DRY_RUN = "dry-run"  # would have reverted or ticketed
    GONE = "gone"  # the resource no longer exists (404 on re-read, or a delete event)
    FAILED = "failed"  # an error stopped the work; the trigger raises so Event Grid redelivers


class Action(str, enum.Enum):
    """What was done about one finding. Exactly one per finding, with one exception: containment.

    Containment (`contained` / `would-contain`) is an opt-in extra step for findings that cannot be reverted
    in place (config `containment`: for example stopping a compute instance whose SSH port is public). It has
    a blast radius (the user loses the running session), so it never replaces the finding's ticket: the
    finding gets its `ticketed` (or `would-ticket`, `failed`) record *and* a second record for the same
    check, `contained` when the containment action was sent (its reason says whether ARM finished it or is
    still applying it), `would-contain` in dry-run (nothing is sent), or `failed` when ARM refused it.
    """

    REVERTED = "reverted"
    PENDING = "pending"
    VERIFIED = "verified"  # a pending revert confirmed later (echo event or re-read)
    TICKETED = "ticketed"
    REPORTED = "reported"
    WOULD_REVERT = "would-revert"
    WOULD_TICKET = "would-ticket"
    EXEMPT = "exempt"
    FAILED = "failed"
    CONTAINED = "contained"  # containment sent (e.g. POST .../computes/<name>/stop); always next to a ticket
    WOULD_CONTAIN = "would-contain"  # dry-run: containment would have been sent; nothing was


# Event outcome when findings end in different actions: the most significant one names the event.
# Containment sits below the revert family (a verified or in-flight property revert is what the MTTR and
# pending-confirmation queries follow) and above ticketed: a contained finding always has a ticket too, and
# "contained" is the more significant fact about the event (the bot changed the resource's running state).
OUTCOME_PRECEDENCE: tuple[tuple[Action, Outcome], ...] = (
    (Action.FAILED, Outcome.FAILED),
    (Action.REVERTED, Outcome.REVERTED),
    (Action.PENDING, Outcome.PENDING),
    (Action.CONTAINED, Outcome.CONTAINED),
    (Action.TICKETED, Outcome.TICKETED),
    (Action.WOULD_REVERT, Outcome.DRY_RUN),
    (Action.WOULD_CONTAIN, Outcome.DRY_RUN),
    (Action.WOULD_TICKET, Outcome.DRY_RUN),
    (Action.REPORTED, Outcome.REPORTED),
    (Action.EXEMPT, Outcome.EXEMPT),
)


def outcome_for(actions: list[Action]) -> Outcome:
    for action, outcome in OUTCOME_PRECEDENCE:
        if action in actions:
            return outcome
    return Outcome.COMPLIANT


# Caller, ResourceChange and Triage are built for every triaged event. They are slotted dataclasses rather than
# frozen ones: a frozen dataclass's __init__ sets each field through object.__setattr__, which makes building
# one 3-4x dearer. Nothing assigns to them once built; unsafe_hash keeps them hashable as the frozen ones were.
@dataclass(slots=True, unsafe_hash=True)
class Caller:
    """Who made the change, from the event's claims. Never holds a token."""

    object_id: str | None = None
    app_id: str | None = None
    name: str | None = None  # upn, unique_name or name
    ip_address: str | None = None

    def display(self) -> str:
        parts = [p for p in (self.name, f"oid={self.object_id}" if self.object_id else None,
                             f"appid={self.app_id}" if self.app_id else None) if p]
        return " ".join(parts) if parts else "unknown caller"

    def as_dict(self) -> dict[str, str | None]:
        return {"oid": self.object_id, "appid": self.app_id, "name": self.name, "ipaddr": self.ip_address}


class ChangeKind(str, enum.Enum):
    WRITE = "write"
    ACTION = "action"
    DELETE = "delete"


@dataclass(slots=True, unsafe_hash=True)
class ResourceChange:
    """One Event Grid event, normalised. The event is a hint; ARM's current state decides."""

    event_id: str
    event_type: str
    schema: str  # "eventgrid" | "cloudevents"
    kind: ChangeKind
    resource_id: str  # canonical id of the resource the checks evaluate (an action maps to its target)
    resource_type: str
    operation: str
    caller: Caller
    correlation_id: str | None
    event_time: datetime | None
    subscription_id: str | None
    payload: Mapping[str, Any] | None = None  # the resource body (Resource Notifications only)
    source: str = "event"  # "event" | "sweep"


@dataclass(slots=True, unsafe_hash=True)
class Triage:
    """The classification of one delivered event (the `triage` CLI prints these)."""

    event_id: str | None
    verdict: Verdict
    reason: str
    resource_id: str | None = None
    operation: str | None = None
    change: ResourceChange | None = None

    def as_json(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "verdict": self.verdict.value, "resource_id": self.resource_id,
                "operation": self.operation, "reason": self.reason}


@dataclass
class ActionRecord:
    """What was decided and done about one finding: one line of the remediation log."""

    event_id: str | None
    correlation_id: str | None
    resource_id: str
    resource_type: str
    check_id: str
    severity: str
    mode: str
    action: Action
    reason: str
    caller: Caller = field(default_factory=Caller)
    detail: str = ""
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    exemption: Mapping[str, Any] | None = None
    ticket: str | None = None
    dry_run: bool = False
    error: str | None = None
    source: str = "event"


@dataclass
class EventRecord:
    """How one event ended: one line of the remediation log, plus its action records."""

    event_id: str | None
    correlation_id: str | None
    event_type: str | None
    resource_id: str | None
    resource_type: str | None
    operation: str | None
    outcome: Outcome
    reason: str
    caller: Caller = field(default_factory=Caller)
    duration_ms: float = 0.0
    arm_calls: int = 0
    actions: list[ActionRecord] = field(default_factory=list)
    error: str | None = None
    source: str = "event"
    exemption: Mapping[str, Any] | None = None  # honoured or refused exemption tags found on the resource

    @property
    def retry_requested(self) -> bool:
        return self.outcome is Outcome.FAILED
