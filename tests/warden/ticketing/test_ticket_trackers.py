"""Each tracker through the durable sink against its local fake and Azurite: create, dedupe, comment, close,
and the delivery failures (401, 429 with Retry-After, 5xx) -> outbox -> delivered."""
from __future__ import annotations

import pytest

from tests.support.fixtures import ACCOUNT_ID
from tests.warden.ticketing.conftest import CHECK_ID, make_ticket
from warden.ticketing.store import resource_partition
from warden.tickets import ticket_key


def test_first_finding_opens_one_ticket_that_carries_the_key(case, durable):
    sink = durable(case.tracker())
    reference = sink.open(make_ticket())

    assert reference.delivery == "delivered"
    assert reference.startswith(f"{case.name}:")
    (ticket,) = case.tickets()
    assert ticket_key(ACCOUNT_ID, CHECK_ID) in str(ticket)  # label, tag, correlation id or card footer
    assert sink.pending() == []


def test_recurrence_comments_on_the_open_ticket_and_never_opens_a_second(ticket_case, durable):
    sink = durable(ticket_case.tracker())
    first = sink.open(make_ticket())
    second = sink.open(make_ticket(detail="local auth allowed again", caller=None))

    assert second == first
    (ticket,) = ticket_case.tickets()
    assert len(ticket_case.comments(ticket)) == 1
    assert "again" in str(ticket_case.comments(ticket)[-1]) or "occurrence 2" in str(ticket_case.comments(ticket)[-1])


def test_recurrence_reads_one_row_and_makes_no_tracker_query(ticket_case, durable, entity_store):
    """The table is the authority: a recurrence goes straight to the ticket it names (no search, no create)."""
    sink = durable(ticket_case.tracker())
    sink.open(make_ticket())
    before = len(ticket_case.fake.calls)
    sink.open(make_ticket())
    calls = ticket_case.fake.calls[before:]
    assert len(calls) == 1 and calls[0].method in ("POST", "PATCH")
    (row,) = [e for e in entity_store.partition(resource_partition(ACCOUNT_ID))]
    assert row.data["occurrences"] == 2 and row.data["status"] == "open"


def test_fix_comments_and_closes_the_ticket(ticket_case, durable):
    sink = durable(ticket_case.tracker())
    sink.open(make_ticket())
    sink.resolve(ACCOUNT_ID, [CHECK_ID, "cogsvc-public-network"], "re-read by event evt-9: the check passes")

    (ticket,) = ticket_case.tickets()
    assert ticket_case.closed(ticket)
    assert "evt-9" in str(ticket_case.comments(ticket)) or ticket_case.name == "servicenow"
    before = len(ticket_case.fake.calls)
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "again")  # already closed: nothing more to say to the tracker
    assert ticket_case.fake.calls[before:] == []


def test_finding_after_a_close_opens_a_new_ticket(ticket_case, durable):
    sink = durable(ticket_case.tracker())
    sink.open(make_ticket())
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "fixed by the owner")
    sink.open(make_ticket())
    assert len(ticket_case.tickets()) == 2


def test_teams_posts_one_card_per_finding_and_one_when_it_is_resolved(make_case, durable):
    case = make_case("teams")
    sink = durable(case.tracker())
    sink.open(make_ticket())
    sink.open(make_ticket())  # recurrence: no second card
    assert len(case.fake.cards) == 1
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "reverted")
    assert len(case.fake.cards) == 2 and case.closed(None)
    assert all(call.status == 202 for call in case.fake.calls)


def test_401_is_recorded_as_misconfiguration_and_not_retried_by_the_timer(case, durable, clock):
    case.secret["value"] = "wrong-secret"
    sink = durable(case.tracker())

    reference = sink.open(make_ticket())

    assert reference.delivery == "misconfigured"
    assert reference == f"misconfigured:{case.name}:{ticket_key(ACCOUNT_ID, CHECK_ID)}"
    assert reference.problem and "401" in reference.problem and "wrong-secret" not in reference.problem
    (entry,) = sink.pending()
    assert entry.state == "misconfigured" and entry.attempts == 1
    calls = len(case.fake.calls)
    sink.open(make_ticket())  # a recurrence joins the entry: no second 401
    clock.advance(days=2)
    report = sink.deliver_due()
    assert case.fake.calls[calls:] == [] and report.delivered == []

    case.secret["value"] = case.good_secret  # the operator fixes the Key Vault secret, then retries on demand
    sink = durable(case.tracker())  # (a changed app setting restarts the app: the Teams URL is read at start)
    report = sink.deliver_due(include_failed=True)
    assert len(report.delivered) == 1 and sink.pending() == []
    assert len(case.tickets()) == 1


def test_429_retry_after_within_the_cap_is_slept_then_delivered(case, durable):
    case.throttle(2)
    sink = durable(case.tracker(wait_cap=5))

    reference = sink.open(make_ticket())

    assert reference.delivery == "delivered"
    assert case.sleeps == [2.0]
    assert len(case.tickets()) == 1


def test_429_retry_after_beyond_the_cap_is_queued_and_not_retried_before_it(case, durable, clock):
    case.throttle(120)
    sink = durable(case.tracker(wait_cap=5))

    reference = sink.open(make_ticket())

    assert reference.delivery == "queued" and reference.startswith("queued:")
    assert case.sleeps == []  # never slept inside the invocation
    (entry,) = sink.pending()
    assert entry.last_status == 429
    calls = len(case.fake.calls)
    clock.advance(seconds=100)
    assert sink.deliver_due().delivered == []
    assert case.fake.calls[calls:] == []  # the tracker asked for 120 s
    clock.advance(seconds=30)
    assert len(sink.deliver_due().delivered) == 1
    assert len(case.tickets()) == 1 and sink.pending() == []


def test_5xx_on_create_goes_to_the_outbox_and_is_delivered_on_retry_once(case, durable, clock):
    case.fake.fail_next(503, count=1, when=case.is_create, body={"message": "Service Unavailable"})
    sink = durable(case.tracker())

    reference = sink.open(make_ticket())

    assert reference.delivery == "queued"
    assert case.tickets() == []
    clock.advance(minutes=2)
    report = sink.deliver_due()
    assert len(report.delivered) == 1
    assert len(case.tickets()) == 1
    assert sink.deliver_due().delivered == []  # nothing left to do


def test_create_whose_answer_was_lost_is_found_again_not_duplicated(ticket_case, durable, clock, entity_store):
    """The create reached the tracker but our row was lost: the consistent query finds the ticket."""
    tracker = ticket_case.tracker()
    tracker.create(make_ticket())
    sink = durable(tracker)
    reference = sink.open(make_ticket())
    assert reference.delivery == "delivered"
    assert len(ticket_case.tickets()) == 1


@pytest.mark.parametrize("status", [400, 422])
def test_content_refused_by_github_is_rejected_not_retried(make_case, durable, status):
    case = make_case("github")
    case.fake.fail_next(status, when=case.is_create, body={"message": "Validation Failed"})
    sink = durable(case.tracker())
    reference = sink.open(make_ticket())
    assert reference.delivery == "rejected"
    assert sink.deliver_due().delivered == []


def test_github_403_with_rate_limit_signals_is_throttling_but_a_plain_403_is_a_permission_problem(make_case, durable):
    case = make_case("github")
    case.fake.rate_limited("secondary", retry_after=90)
    assert durable(case.tracker()).open(make_ticket()).delivery == "queued"

    other = make_case("github")
    other.fake.rate_limited("permission")
    assert durable(other.tracker()).open(make_ticket(resource_id=ACCOUNT_ID + "x")).delivery == "misconfigured"


def test_azure_devops_sign_in_page_is_an_auth_failure(make_case, durable):
    case = make_case("azure-devops")
    case.fake.signin_page_for_bad_credentials = True
    case.secret["value"] = "expired-pat"
    reference = durable(case.tracker()).open(make_ticket())
    assert reference.delivery == "misconfigured"


def test_servicenow_match_is_checked_on_the_client_because_unknown_query_terms_are_dropped(make_case):
    case = make_case("servicenow")
    tracker = case.tracker()
    tracker.create(make_ticket(resource_id=ACCOUNT_ID + "-other"))
    assert tracker.find_open(ticket_key(ACCOUNT_ID, CHECK_ID)) is None


def test_jira_falls_back_to_a_transition_without_resolution_when_the_screen_lacks_it(make_case, durable):
    case = make_case("jira")
    case.fake.resolution_on_screen = False
    sink = durable(case.tracker())
    sink.open(make_ticket())
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "fixed")
    (issue,) = case.tickets()
    assert issue.category == "done"
