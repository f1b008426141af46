"""The one place that decides what happens to a finding. Pure and exhaustively tested.

Inputs are typed facts; the output is a `Decision` and the reason a reviewer reads in the log.
Precedence: compliant > mode off > honoured exemption > mode (report/ticket) > revert guards (not revertible, guard
failed, flapping) > revert. Dry-run turns a revert or a ticket into its "would" form.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from remediators.base import Check, Evaluation, Guard, Mode
from warden.exemptions import Exemption, ExemptionStatus


class Decision(str, enum.Enum):
    NONE = "none"  # compliant, nothing to do
    EXEMPT = "exempt"
    REPORT = "report"
    TICKET = "ticket"
    REVERT = "revert"


# Plan and FlapState are built for every failing finding: slotted dataclasses rather than frozen ones, whose
# __init__ (object.__setattr__ per field) costs 3-4x as much. Nothing assigns to them once built; unsafe_hash
# keeps them hashable as before.
@dataclass(slots=True, unsafe_hash=True)
class Plan:
    decision: Decision
    reason: str
    dry_run: bool = False


@dataclass(slots=True, unsafe_hash=True)
class FlapState:
    reverts_in_window: int
    limit: int
    callers: tuple[str, ...] = ()

    @property
    def flapping(self) -> bool:
        return self.reverts_in_window >= self.limit


def decide(check: Check, evaluation: Evaluation, mode: Mode, exemption: Exemption,
           guard: Guard | None, flap: FlapState | None, dry_run: bool) -> Plan:
    if evaluation.passed:
        return Plan(Decision.NONE, evaluation.detail)
    if mode is Mode.OFF:
        return Plan(Decision.NONE, "check is off")
    refused = ""
    if exemption.covers(check.id):
        if exemption.status is ExemptionStatus.HONOURED:
            return Plan(Decision.EXEMPT, f"exempt until {exemption.until.isoformat()}: {exemption.reason}")
        if exemption.status is ExemptionStatus.REFUSED:
            refused = f" (exemption not honoured: {exemption.problem})"
    decision, reason = _by_mode(check, mode, guard, flap)
    reason += refused
    if dry_run and decision in (Decision.REVERT, Decision.TICKET):
        return Plan(decision, f"dry-run: would {decision.value}; {reason}", dry_run=True)
    return Plan(decision, reason)


def _by_mode(check: Check, mode: Mode, guard: Guard | None, flap: FlapState | None) -> tuple[Decision, str]:
    """The decision and its reason (one Plan is built from them, in decide)."""
    if mode is Mode.REPORT:
        return Decision.REPORT, "mode report: recorded only"
    if mode is Mode.TICKET:
        if check.fix is None:  # tell the owner why no bot will ever fix this one for them
            return Decision.TICKET, f"mode ticket; cannot be reverted in place: {check.not_revertible_because}"
        return Decision.TICKET, "mode ticket (revert is opt-in for this check: its blast radius needs a human)"
    if check.fix is None:
        return Decision.TICKET, f"cannot be reverted in place: {check.not_revertible_because}"
    if guard is not None and not guard.ok:
        return Decision.TICKET, f"revert held back: {guard.reason}"
    if flap is not None and flap.flapping:
        who = f" by {', '.join(flap.callers)}" if flap.callers else ""
        return (Decision.TICKET,
                f"revert held back: reverted {flap.reverts_in_window} times in the window (limit {flap.limit}); "
                f"something keeps re-applying the insecure setting{who}, often a deployment pipeline")
    return Decision.REVERT, f"mode revert{': ' + guard.reason if guard else ''}"
