"""The engine: one relevant change in, one EventRecord out (and recorded).

Flow: claim the event -> read the resource (ARN payload or ARM GET) -> confirm pending reverts -> run the
kind's checks -> decide each finding (warden.policy) -> act (one minimal write with If-Match; tickets) ->
record. It never trusts the event's claims about state, never writes a value that is not a check's
secure value, and re-reads and decides again when the etag moved (412).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import remediators
from remediators import props
from remediators.base import Check, CheckContext, Containment, Evaluation, Mode, ResourceKind, set_path
from warden import exemptions
from warden.arm import ArmError, PreconditionFailed, ResourceGone, WriteResult
from warden.config import Config
from warden.exemptions import Exemption, ExemptionStatus
from warden.model import (Action, ActionRecord, ChangeKind, EventRecord, Outcome, ResourceChange, Triage,
                          Verdict, outcome_for)
from warden.policy import Decision, FlapState, Plan, decide
from warden.records import Recorder
from warden.state import Claim, PendingRevert, RevertEntry, StateStore
from warden.tickets import TicketDeliveryError, TicketSink, build_ticket


class RetryRequested(Exception):
    """Raised by triggers when an event ended `failed`: Event Grid redelivers the whole delivery."""


class EventBusy(RetryRequested):
    """Another worker holds this event's lease: retry later, and record nothing now."""


class StateWriteFailed(Exception):
    """The state store failed after work that cannot be undone (an ARM write, a confirmed pending revert): the
    action records of that work travel with the error, so the event is recorded `failed` *with* them."""

    def __init__(self, error: Exception, actions: list[ActionRecord]):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.actions = actions


class ArmAccess:
    """What the engine needs from ARM (warden.arm.ArmClient provides it)."""

    calls: int

    def get(self, resource_id: str, api_version: str): ...
    def patch(self, resource_id: str, api_version: str, body: Mapping[str, Any], etag: str | None) -> WriteResult: ...
    def put(self, resource_id: str, api_version: str, body: Mapping[str, Any], etag: str | None) -> WriteResult: ...
    def post_action(self, resource_id: str, action: str, api_version: str) -> WriteResult: ...


# A PUT round trip sends the GET body back with only the reverted properties replaced. It drops just the
# read-only fields whose meaning is the same for every ARM resource: id/name/type (the URL says them),
# etag (it travels in If-Match), systemData and provisioningState (stamped by ARM / the RP on every write).
# The Azure SDKs never send these, so every RP accepts a body without them. Everything else is preserved
# exactly, including RP-specific read-only properties (an online endpoint's scoringUri/swaggerUri, identity
# principalId): the ARM contract makes RPs ignore read-only values in a PUT, whereas dropping a property
# that is in fact writable would silently reset it.
READ_ONLY_TOP = ("id", "name", "type", "etag", "systemData")
READ_ONLY_PROPERTIES = ("provisioningState",)


@dataclass
class Finding:
    check: Check
    evaluation: Evaluation
    plan: Plan | None = None


@dataclass
class Engine:
    config: Config
    arm: ArmAccess
    recorder: Recorder
    tickets: TicketSink
    state: StateStore
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    proposals: Any = None  # warden.approvals.Proposals: a held-back revert becomes a proposal a human may approve

    # -- entry points -----------------------------------------------------------------------------
    def handle(self, triage: Triage) -> EventRecord:
        """Process one classified event and record exactly one outcome for it."""
        started = time.perf_counter()
        calls_before = self.arm.calls
        change = triage.change
        if triage.verdict is not Verdict.RELEVANT or change is None:
            outcome = Outcome.INVALID if triage.verdict is Verdict.INVALID else Outcome.IGNORED
            record = EventRecord(triage.event_id, None, None, triage.resource_id, None, triage.operation, outcome,
                                 triage.reason)
        elif (claim := self.state.claim_event(change.event_id, self.clock())) is not Claim.TAKEN:
            # A redelivery of an event already handled: no second action and no second record. If another
            # worker still holds the lease, the caller must ask Event Grid to retry (that worker may yet die).
            duplicate = EventRecord(change.event_id, change.correlation_id, change.event_type, change.resource_id,
                                    change.resource_type, change.operation, Outcome.IGNORED,
                                    "duplicate delivery: this event id was already handled", change.caller)
            if claim is Claim.BUSY:
                raise EventBusy(f"event {change.event_id} is being handled by another worker")
            return duplicate
        else:
            try:
                record = self._process(change)
            except StateWriteFailed as failure:
                record = self._failed(change, failure.error, failure.actions)
            except ArmError as error:
                record = self._failed(change, error, [])
            except Exception as error:  # a bug must still end in a recorded outcome and a redelivery
                record = self._failed(change, error, [])
        record.duration_ms = (time.perf_counter() - started) * 1000
        record.arm_calls = self.arm.calls - calls_before
        self.recorder.record(record)
        if change is not None and triage.verdict is Verdict.RELEVANT:
            if record.outcome is Outcome.FAILED:
                self.state.release_event(change.event_id)
            else:
                self.state.complete_event(change.event_id, self.clock())
        return record

    # -- the work ---------------------------------------------------------------------------------
    def _process(self, change: ResourceChange) -> EventRecord:
        kind = remediators.kind_for(change.resource_type)
        assert kind is not None  # triage only passes covered types
        if change.kind is ChangeKind.DELETE:
            self.state.take_pending(change.resource_id)
            self._resolve_tickets(change, [c.id for c in kind.checks], "the resource was deleted")
            return self._event(change, Outcome.GONE, "the resource was deleted", [])

        try:
            if change.payload is not None:
                resource, etag = dict(change.payload), None
                findings, failing = self._evaluate(kind, resource, change)
                if failing:
                    # A payload (Resource Notifications, Resource Graph) may lag ARM: it may clear a resource,
                    # but only ARM's current state may convict one.
                    resource, etag, findings, failing = self._reread(change, kind)
            else:
                resource, etag, findings, failing = self._reread(change, kind)
        except ResourceGone:
            return self._event(change, Outcome.GONE, "resource not found on re-read (deleted since the event)", [])
        # Pending reverts are confirmed by the echo of the bot's own write (or by the sweep's re-read). Other
        # events skip the lookup: it would cost a Table Storage round trip on every event.
        is_self = self.config.is_self(change.caller.object_id, change.caller.app_id)
        confirmations = self._confirm_pending(change, kind, resource) if is_self or change.source == "sweep" else []
        exemption = exemptions.read(resource, self.clock(), self.config.exemption_max_days)
        self._resolve_tickets(change, [f.check.id for f in findings if f.evaluation.passed])

        if is_self:
            # The echo of our own write: it confirms pending reverts; it cannot have caused a finding, and the
            # events that did cause any remaining ones have been (or will be) handled on their own.
            still = f"; still failing, handled by the events that caused them: {', '.join(f.check.id for f in failing)}" if failing else ""
            return self._event(change, Outcome.SELF_CAUSED,
                               f"echo of the bot's own write: re-read, reverted settings hold{still}", confirmations)
        if not failing:
            reason = "all checks pass" + (self._exemption_note(exemption))
            return self._event(change, Outcome.COMPLIANT, reason, confirmations, exemption=exemption)

        actions = list(confirmations)
        for attempt in range(max(1, self.config.arm.write_attempts)):
            for finding in failing:
                finding.plan = self._decide(change, finding, exemption, resource)
            reverts = [f for f in failing if f.plan.decision is Decision.REVERT and not f.plan.dry_run]
            if not reverts:
                break
            try:
                actions.extend(self._revert(change, kind, resource, etag, reverts, exemption))
            except StateWriteFailed as failure:
                return self._failed(change, failure.error, actions + failure.actions)
            except PreconditionFailed:
                # Somebody changed the resource since we read it: read again and decide again.
                try:
                    resource, etag, findings, failing = self._reread(change, kind)
                except ResourceGone:
                    return self._event(change, Outcome.GONE, "resource deleted while reverting", actions)
                exemption = exemptions.read(resource, self.clock(), self.config.exemption_max_days)
                continue
            except ResourceGone:
                return self._event(change, Outcome.GONE, "resource deleted while reverting", actions)
            except ArmError as error:
                actions.extend(self._action(change, f, Action.FAILED, f.plan.reason, error=str(error)) for f in reverts)
                failing = [f for f in failing if f not in reverts]
                self._act_without_write(change, failing, actions, exemption, resource, etag)
                return self._failed(change, error, actions)
            failing = [f for f in failing if f not in reverts]
            break
        else:
            error = ArmError("resource kept changing under the bot (412 on every attempt)", 412, "PreconditionFailed")
            return self._failed(change, error, actions)

        self._act_without_write(change, failing, actions, exemption, resource, etag)
        self._contain(change, kind, resource, failing, actions)
        outcome = outcome_for([a.action for a in actions])
        if any(a.action is Action.FAILED for a in actions):
            return self._failed(change, Exception(next(a.error for a in actions if a.action is Action.FAILED)), actions)
        if outcome is Outcome.COMPLIANT:  # every failing check was re-read as fixed (after a 412)
            return self._event(change, Outcome.COMPLIANT, "compliant after re-read", actions, exemption=exemption)
        return self._event(change, outcome, _summary(actions), actions, exemption=exemption)

    def _reread(self, change: ResourceChange, kind: ResourceKind):
        """ARM's current state (raw JSON + etag) and its findings. Raises ResourceGone."""
        current = self.arm.get(change.resource_id, kind.api_version)
        return (current.body, current.etag, *self._evaluate(kind, current.body, change))

    def _evaluate(self, kind: ResourceKind, resource: Mapping[str, Any],
                  change: ResourceChange) -> tuple[list[Finding], list[Finding]]:
        """(every applicable finding, the failing ones) for the checks that are not off."""
        ctx = CheckContext(operation=change.operation, caller=change.caller.display())
        findings = []
        for check in kind.checks:
            if self.config.mode(check.id) is Mode.OFF:
                continue
            evaluation = check.evaluate(resource, ctx)
            if evaluation.applicable:
                findings.append(Finding(check, evaluation))
        return findings, [f for f in findings if not f.evaluation.passed]

    def _decide(self, change: ResourceChange, finding: Finding, exemption: Exemption, resource: Mapping[str, Any]) -> Plan:
        """The policy's decision. The revert history (a state read) is consulted only when the answer would be
        a revert: an exempt, reported or ticketed finding never pays for it."""
        check, mode = finding.check, self.config.mode(finding.check.id)
        guard = self._guard(check, resource)
        plan = decide(check, finding.evaluation, mode, exemption, guard, None, self.config.dry_run)
        if plan.decision is Decision.REVERT:
            plan = decide(check, finding.evaluation, mode, exemption, guard, self._flap(change, check), self.config.dry_run)
        return plan

    def _guard(self, check: Check, resource: Mapping[str, Any]):
        if check.fix is None or check.fix.guard is None:
            return None
        return check.fix.guard(resource)

    def _flap(self, change: ResourceChange, check: Check) -> FlapState | None:
        if self.config.mode(check.id) is not Mode.REVERT:
            return None
        since = self.clock() - self.config.flap_window
        entries = self.state.reverts_since(change.resource_id, check.id, since)
        callers = tuple(dict.fromkeys(e.caller for e in entries))
        return FlapState(len(entries), self.config.flap_max_reverts, callers)

    def _revert(self, change: ResourceChange, kind: ResourceKind, resource: dict[str, Any], etag: str | None,
                reverts: list[Finding], exemption: Exemption) -> list[ActionRecord]:
        """One write for every reverted finding of this resource, with If-Match. Raises PreconditionFailed."""
        use_put = any(f.check.fix.method == "PUT" for f in reverts)
        if use_put:
            body = _put_body(resource, [c for f in reverts for c in f.check.fix.changes(resource)])
            result = self.arm.put(change.resource_id, kind.api_version, body, etag)
        else:
            body: dict[str, Any] = {}
            for finding in reverts:
                _merge(body, finding.check.fix.body(resource))
            result = self.arm.patch(change.resource_id, kind.api_version, body, etag)

        if not result.done:
            records = [self._action(change, f, Action.PENDING, f"{f.plan.reason}; ARM accepted the write ({result.status_code}) "
                                    f"and is still applying it: confirmed by the echo event or a later re-read",
                                    after=_after(f, resource), exemption=exemption) for f in reverts]
            try:
                self.state.note_pending(PendingRevert(change.resource_id, tuple(f.check.id for f in reverts),
                                                      change.event_id, self.clock(), result.continuation_token))
            except Exception as error:
                raise StateWriteFailed(error, records) from error
            return records

        final = result.body
        if not final or _still_in_progress(final):
            final = self.arm.get(change.resource_id, kind.api_version).body
        ctx = CheckContext(operation=change.operation, caller=change.caller.display())
        records, reverted = [], []
        for finding in reverts:
            verified = finding.check.evaluate(final, ctx)
            after = {path: props.get(final, path) for path in finding.evaluation.observed}
            if verified.passed:
                reverted.append(finding.check.id)
                records.append(self._action(change, finding, Action.REVERTED, finding.plan.reason, after=after,
                                            exemption=exemption))
            else:
                records.append(self._action(change, finding, Action.FAILED, finding.plan.reason, after=after,
                                            error=f"write succeeded but the re-read still fails: {verified.detail}"))
        try:
            for check_id in reverted:
                self.state.note_revert(change.resource_id, check_id, RevertEntry(self.clock(), change.caller.display()))
        except Exception as error:
            raise StateWriteFailed(error, records) from error
        return records

    def _act_without_write(self, change: ResourceChange, findings: list[Finding], actions: list[ActionRecord],
                           exemption: Exemption, resource: Mapping[str, Any] | None = None, etag: str | None = None) -> None:
        for finding in findings:
            plan = finding.plan
            if plan is None or plan.decision is Decision.NONE:
                continue
            if plan.decision is Decision.EXEMPT:
                actions.append(self._action(change, finding, Action.EXEMPT, plan.reason, exemption=exemption))
            elif plan.decision is Decision.REPORT:
                actions.append(self._action(change, finding, Action.REPORTED, plan.reason, exemption=exemption))
            elif plan.dry_run:
                action = Action.WOULD_REVERT if plan.decision is Decision.REVERT else Action.WOULD_TICKET
                actions.append(self._action(change, finding, action, plan.reason, exemption=exemption))
            elif plan.decision is Decision.TICKET:
                actions.append(self._ticket(change, finding, exemption, resource, etag))

    def _ticket(self, change: ResourceChange, finding: Finding, exemption: Exemption,
                resource: Mapping[str, Any] | None = None, etag: str | None = None) -> ActionRecord:
        proposal = None
        if self.proposals is not None and resource is not None:  # held back by a guard or mode ticket: proposable
            proposal = self.proposals.propose(change, finding.check, self.config.mode(finding.check.id),
                                              self._guard(finding.check, resource), resource, etag,
                                              finding.evaluation.observed)
        ticket = build_ticket(finding.check, change.resource_id, finding.evaluation.detail, finding.plan.reason,
                              change.caller, change.event_time.isoformat() if change.event_time else None,
                              self.clock().date(), self.config.exemption_max_days, change.event_id, change.correlation_id,
                              proposal=self.proposals.for_ticket(proposal) if proposal else None,
                              observed=finding.evaluation.observed)
        try:
            reference = self.tickets.open(ticket)
        except TicketDeliveryError as error:
            return self._action(change, finding, Action.FAILED, finding.plan.reason, exemption=exemption,
                                error=f"ticket not delivered: {error}")
        if proposal is not None:
            self.proposals.attach_ticket(proposal, reference)
        # A durable sink answers `queued:...` (delivered later by the outbox) or `misconfigured:...` with the problem.
        return self._action(change, finding, Action.TICKETED, finding.plan.reason, exemption=exemption,
                            ticket=reference, error=getattr(reference, "problem", None))

    def _resolve_tickets(self, change: ResourceChange, check_ids: list[str], why: str = "") -> None:
        """Close the open tickets of findings that went away (fixed, reverted, deleted)."""
        resolve = getattr(self.tickets, "resolve", None)
        if resolve is not None and check_ids:
            resolve(change.resource_id, check_ids, why or f"re-read by event {change.event_id}: the check passes")

    def _confirm_pending(self, change: ResourceChange, kind: ResourceKind,
                         resource: Mapping[str, Any]) -> list[ActionRecord]:
        """A revert recorded pending is confirmed when a later read shows its check passing."""
        pending = self.state.take_pending(change.resource_id)
        records, still = [], []
        ctx = CheckContext(operation=None)
        for entry in pending:
            for check_id in entry.check_ids:
                check = next((c for c in kind.checks if c.id == check_id), None)
                if check is None:
                    continue
                evaluation = check.evaluate(resource, ctx)
                if evaluation.passed:
                    records.append(ActionRecord(
                        change.event_id, change.correlation_id, change.resource_id, change.resource_type, check_id,
                        check.severity.value, self.config.mode(check_id).value, Action.VERIFIED,
                        f"pending revert from event {entry.event_id} confirmed by re-read", change.caller,
                        detail=evaluation.detail, after=dict(evaluation.observed), source=change.source))
                    try:
                        self.state.note_revert(change.resource_id, check_id, RevertEntry(self.clock(), "pending revert"))
                    except Exception as error:
                        raise StateWriteFailed(error, records) from error
                else:
                    still.append(entry)
        for entry in dict.fromkeys(still):
            self.state.note_pending(entry)
        return records

    def _contain(self, change: ResourceChange, kind: ResourceKind, resource: Mapping[str, Any],
                 findings: list[Finding], actions: list[ActionRecord]) -> None:
        """Opt-in containment (config `containment`) next to a finding's ticket: an extra action record for the
        same finding. Only for a ticket decision on a resource where the containment applies as just read;
        `would-contain` in dry-run. One POST per containment action and resource, recorded for each finding
        that asked for it."""
        sent: dict[str, tuple[Action, str, dict[str, Any], str | None]] = {}
        for finding in findings:
            containment, plan = finding.check.containment, finding.plan
            if (containment is None or plan is None or plan.decision is not Decision.TICKET
                    or not self.config.contains(finding.check.id) or not containment.applies(resource)):
                continue
            what = f"containment (opt-in): {containment.description}"
            if plan.dry_run:
                record = self._action(change, finding, Action.WOULD_CONTAIN,
                                      f"dry-run: would {containment.description}; nothing was sent (opt-in containment)")
            else:
                if containment.action not in sent:
                    sent[containment.action] = self._send_containment(change, kind, containment)
                action, note, after, error = sent[containment.action]
                record = self._action(change, finding, action, f"{what}; {note}", after=after, error=error)
            record.before = {**record.before, **{path: props.get(resource, path) for path in containment.evidence}}
            actions.append(record)

    def _send_containment(self, change: ResourceChange, kind: ResourceKind,
                          containment: Containment) -> tuple[Action, str, dict[str, Any], str | None]:
        """POST the containment action; a finished one is re-read so the record shows the resulting state."""
        try:
            result = self.arm.post_action(change.resource_id, containment.action, kind.api_version)
        except ArmError as error:
            return Action.FAILED, f"POST {containment.action} failed", {}, f"containment {containment.action}: {error}"
        if not result.done:
            return (Action.CONTAINED, f"ARM accepted POST {containment.action} ({result.status_code}) and is still "
                    "applying it: a later event or re-read shows the result", {}, None)
        try:
            final = self.arm.get(change.resource_id, kind.api_version).body
        except ArmError as error:
            return Action.CONTAINED, f"POST {containment.action} done; the re-read failed ({error})", {}, None
        return (Action.CONTAINED, f"POST {containment.action} done ({result.status_code})",
                {path: props.get(final, path) for path in containment.evidence}, None)

    # -- records ----------------------------------------------------------------------------------
    def _action(self, change: ResourceChange, finding: Finding, action: Action, reason: str, *,
                after: Mapping[str, Any] | None = None, exemption: Exemption | None = None,
                ticket: str | None = None, error: str | None = None) -> ActionRecord:
        shown = exemption.as_record() if exemption is not None and exemption.covers(finding.check.id) else None
        return ActionRecord(
            event_id=change.event_id, correlation_id=change.correlation_id, resource_id=change.resource_id,
            resource_type=change.resource_type, check_id=finding.check.id, severity=finding.check.severity.value,
            mode=self.config.mode(finding.check.id).value, action=action, reason=reason, caller=change.caller,
            detail=finding.evaluation.detail, before=dict(finding.evaluation.observed), after=dict(after or {}),
            exemption=shown, ticket=ticket, dry_run=bool(finding.plan and finding.plan.dry_run), error=error,
            source=change.source)

    def _event(self, change: ResourceChange, outcome: Outcome, reason: str, actions: list[ActionRecord],
               exemption: Exemption | None = None) -> EventRecord:
        record = EventRecord(change.event_id, change.correlation_id, change.event_type, change.resource_id,
                             change.resource_type, change.operation, outcome, reason, change.caller,
                             actions=list(actions), source=change.source)
        if exemption is not None and exemption.status is not ExemptionStatus.NONE:
            record.exemption = exemption.as_record()
        return record

    def _failed(self, change: ResourceChange, error: Exception, actions: list[ActionRecord]) -> EventRecord:
        record = self._event(change, Outcome.FAILED, f"{type(error).__name__}: {error}", actions)
        record.error = str(error)
        return record

    @staticmethod
    def _exemption_note(exemption: Exemption) -> str:
        if exemption.status is ExemptionStatus.REFUSED:
            return f" (exemption tags present but not honoured: {exemption.problem})"
        return ""


def _summary(actions: list[ActionRecord]) -> str:
    counts: dict[str, list[str]] = {}
    for action in actions:
        counts.setdefault(action.action.value, []).append(action.check_id)
    return "; ".join(f"{name}: {', '.join(ids)}" for name, ids in counts.items())


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _put_body(resource: Mapping[str, Any], changes) -> dict[str, Any]:
    """The current resource, read-only fields removed, with only the changed properties replaced."""
    body = copy.deepcopy(dict(resource))
    for key in READ_ONLY_TOP:
        body.pop(key, None)
    properties = body.get("properties")
    if isinstance(properties, dict):
        for key in READ_ONLY_PROPERTIES:
            properties.pop(key, None)
    for change in changes:
        set_path(body, change.path, change.value)
    return body


def _after(finding: Finding, resource: Mapping[str, Any]) -> dict[str, Any]:
    return {c.path: c.value for c in finding.check.fix.changes(resource)} if finding.check.fix else {}


def _still_in_progress(body: Mapping[str, Any]) -> bool:
    state = props.get(body, "properties.provisioningState")
    return props.in_values(state, "Updating", "Creating", "Accepted", "Provisioning")
