"""The decision function, exhaustively over its typed inputs."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from remediators.base import Evaluation, Guard, Mode
from remediators.cognitive_account import PRIVATE_ENDPOINT_MISSING, PUBLIC_NETWORK
from warden.exemptions import NO_EXEMPTION, Exemption, ExemptionStatus
from warden.policy import Decision, FlapState, decide

FAILING = Evaluation(False, "public network access is 'Enabled'")
PASSING = Evaluation(True, "public network access is Disabled")
GUARD_OK, GUARD_NO = Guard(True, "1 Approved PE"), Guard(False, "no Approved private endpoint")
UNTIL = datetime(2030, 1, 1, tzinfo=timezone.utc)
HONOURED = Exemption(ExemptionStatus.HONOURED, frozenset({"cogsvc-public-network"}), UNTIL, "migration")
HONOURED_OTHER = Exemption(ExemptionStatus.HONOURED, frozenset({"cogsvc-local-auth"}), UNTIL, "migration")
REFUSED = Exemption(ExemptionStatus.REFUSED, frozenset({"*"}), None, "", "tag warden-exempt-until is missing")
CALM, FLAPPING = FlapState(1, 3), FlapState(3, 3, ("pipeline-sp",))

EXEMPTIONS = [NO_EXEMPTION, HONOURED, HONOURED_OTHER, REFUSED]
GUARDS = [None, GUARD_OK, GUARD_NO]
FLAPS = [None, CALM, FLAPPING]


def expected(mode, exemption, guard, flap, dry_run, evaluation, check):
    if evaluation.passed or mode is Mode.OFF:
        return Decision.NONE, False
    if exemption.status is ExemptionStatus.HONOURED and exemption.covers(check.id):
        return Decision.EXEMPT, False
    if mode is Mode.REPORT:
        return Decision.REPORT, False
    if mode is Mode.TICKET or check.fix is None or (guard and not guard.ok) or (flap and flap.flapping):
        return Decision.TICKET, dry_run
    return Decision.REVERT, dry_run


@pytest.mark.parametrize("check", [PUBLIC_NETWORK, PRIVATE_ENDPOINT_MISSING], ids=lambda c: c.id)
def test_decision_table_is_exhaustive(check):
    for mode, exemption, guard, flap, dry_run, evaluation in itertools.product(
            Mode, EXEMPTIONS, GUARDS, FLAPS, (False, True), (FAILING, PASSING)):
        plan = decide(check, evaluation, mode, exemption, guard, flap, dry_run)
        assert (plan.decision, plan.dry_run) == expected(mode, exemption, guard, flap, dry_run, evaluation, check), \
            (mode, exemption.status, guard, flap, dry_run, evaluation.passed)
        assert plan.reason


def test_public_access_without_private_endpoint_becomes_ticket_that_says_why():
    plan = decide(PUBLIC_NETWORK, FAILING, Mode.REVERT, NO_EXEMPTION, GUARD_NO, CALM, False)
    assert plan.decision is Decision.TICKET and "no Approved private endpoint" in plan.reason


def test_flapping_revert_becomes_ticket_naming_who_keeps_reapplying():
    plan = decide(PUBLIC_NETWORK, FAILING, Mode.REVERT, NO_EXEMPTION, GUARD_OK, FLAPPING, False)
    assert plan.decision is Decision.TICKET and "pipeline-sp" in plan.reason


def test_refused_exemption_is_explained_in_the_reason():
    plan = decide(PUBLIC_NETWORK, FAILING, Mode.REVERT, REFUSED, GUARD_OK, CALM, False)
    assert plan.decision is Decision.REVERT and "not honoured" in plan.reason and "warden-exempt-until" in plan.reason


def test_dry_run_says_would():
    plan = decide(PUBLIC_NETWORK, FAILING, Mode.REVERT, NO_EXEMPTION, GUARD_OK, CALM, True)
    assert plan.dry_run and plan.reason.startswith("dry-run: would revert")
