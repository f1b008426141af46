"""Opt-out tags exactly as the design brief fixes them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from warden.exemptions import ExemptionStatus, read

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def resource(**tags):
    return {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a", "tags": tags}


def test_valid_exemption_is_honoured_until_end_of_day_utc():
    exemption = read(resource(**{"warden-exempt": "cogsvc-local-auth , cogsvc-public-network",
                                 "warden-exempt-until": "2026-12-15", "warden-exempt-reason": "APIM migration"}), NOW)
    assert exemption.status is ExemptionStatus.HONOURED
    assert exemption.covers("cogsvc-public-network") and exemption.covers("cogsvc-local-auth")
    assert not exemption.covers("cogsvc-no-managed-identity")
    assert exemption.until == datetime(2026, 12, 15, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert exemption.reason == "APIM migration"


def test_star_exempts_every_check():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": "2026-12-01T08:00:00Z",
                                 "warden-exempt-reason": "incident"}), NOW)
    assert exemption.honoured_for("anything-at-all")


def test_tag_names_match_case_insensitively():
    exemption = read(resource(**{"Warden-Exempt": "cogsvc-local-auth", "WARDEN-EXEMPT-UNTIL": "2026-12-15",
                                 "warden-Exempt-Reason": "ok"}), NOW)
    assert exemption.status is ExemptionStatus.HONOURED


def test_expired_exemption_is_refused():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": "2026-11-28", "warden-exempt-reason": "x"}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED and "expired" in exemption.problem


def test_missing_reason_is_refused():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": "2026-12-15"}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED and "warden-exempt-reason" in exemption.problem


def test_blank_reason_is_refused():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": "2026-12-15", "warden-exempt-reason": "  "}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED


def test_missing_expiry_is_refused():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-reason": "forever please"}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED and "warden-exempt-until" in exemption.problem


def test_too_long_exemption_is_refused():
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": "2027-06-01", "warden-exempt-reason": "x"}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED and "90 days" in exemption.problem


def test_configured_maximum_applies():
    tags = {"warden-exempt": "*", "warden-exempt-until": "2026-12-20", "warden-exempt-reason": "x"}
    assert read(resource(**tags), NOW, max_days=14).status is ExemptionStatus.REFUSED
    assert read(resource(**tags), NOW, max_days=30).status is ExemptionStatus.HONOURED


@pytest.mark.parametrize("value", ["next week", "2026-13-01", "15/12/2026", "2026-12-15T25:00"])
def test_unreadable_date_is_refused_and_named(value):
    exemption = read(resource(**{"warden-exempt": "*", "warden-exempt-until": value, "warden-exempt-reason": "x"}), NOW)
    assert exemption.status is ExemptionStatus.REFUSED and value in exemption.problem


def test_no_tags_means_no_exemption():
    assert read({"id": "x"}, NOW).status is ExemptionStatus.NONE
