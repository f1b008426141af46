"""The engine end to end through the real ARM client over HTTPS against the emulator (issue 2 scenarios)."""
from __future__ import annotations

import threading
import time

import pytest

from tests.support.fixtures import ACCOUNT_ID, BOT_APPID, BOT_OID, drifted_account
from tests.support.samples import arm_event
from warden.engine import RetryRequested
from warden.events import triage
from warden.model import Action, Outcome
from warden.runtime import Runtime

WRITE = "Microsoft.CognitiveServices/accounts/write"


def account_write(name: str = "dev@contoso.com", **kwargs):
    return triage(arm_event(ACCOUNT_ID, WRITE, name=name, **kwargs))


def writes(emu):
    return [r for r in emu.requests if r.method in ("PATCH", "PUT", "POST")]


def test_public_access_reverted_when_private_endpoint_approved(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    etag = emu.get_resource(ACCOUNT_ID)["etag"]
    harness = make_harness()

    record = harness.engine.handle(account_write())

    assert record.outcome is Outcome.REVERTED
    assert [(r.method, r.status) for r in emu.requests] == [("GET", 200), ("PATCH", 200)]
    patch = emu.requests[1]
    assert patch.body == {"properties": {"publicNetworkAccess": "Disabled"}}
    assert patch.headers.get("If-Match") == etag
    (action,) = record.actions
    assert action.check_id == "cogsvc-public-network" and action.action is Action.REVERTED
    assert action.before == {"properties.publicNetworkAccess": "Enabled"}
    assert action.after == {"properties.publicNetworkAccess": "Disabled"}
    assert action.caller.name == "dev@contoso.com"
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Disabled"

    # ARM emits the echo of the bot's own PATCH, carrying the bot's claims.
    assert emu.flush_events()
    echo = emu.events[-1]
    assert echo["data"]["claims"]["appid"] == BOT_APPID
    emu.clear_requests()
    echo_record = harness.engine.handle(triage(echo))
    assert echo_record.outcome is Outcome.SELF_CAUSED
    assert [r.method for r in emu.requests] == ["GET"]


def test_echo_stays_idempotent_even_when_the_bot_identity_is_not_configured(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    harness = make_harness({"self_principal_ids": []})
    assert harness.engine.handle(account_write()).outcome is Outcome.REVERTED
    assert emu.flush_events()
    emu.clear_requests()
    assert harness.engine.handle(triage(emu.events[-1])).outcome is Outcome.COMPLIANT
    assert writes(emu) == []


def test_revert_answered_202_is_recorded_pending_then_verified_by_the_echo(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.set_lro(ACCOUNT_ID, "async")
    emu.async_polls = 1000  # ARM keeps answering InProgress for longer than the handler may wait
    harness = make_harness({"arm": {"lro_wait_seconds": 0.3}})

    started = time.monotonic()
    record = harness.engine.handle(account_write())
    elapsed = time.monotonic() - started

    assert elapsed < 5, "the handler must return well inside Event Grid's 30 s"
    assert record.outcome is Outcome.PENDING
    assert record.actions[0].action is Action.PENDING
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"  # not applied yet

    emu.complete_operations()
    assert emu.flush_events()
    echo = emu.events[-1]
    verified = harness.engine.handle(triage(echo))
    assert verified.outcome is Outcome.SELF_CAUSED
    assert [(a.check_id, a.action) for a in verified.actions] == [("cogsvc-public-network", Action.VERIFIED)]


def test_revert_answered_202_that_completes_quickly_is_verified_in_the_same_invocation(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.set_lro(ACCOUNT_ID, "async")
    emu.async_polls = 1
    record = make_harness({"arm": {"lro_wait_seconds": 5}}).engine.handle(account_write())
    assert record.outcome is Outcome.REVERTED
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Disabled"


def test_public_access_without_private_endpoint_becomes_a_webhook_ticket(emu, make_harness, webhook, webhook_sink):
    emu.put_resource(ACCOUNT_ID, drifted_account(private_endpoint=False, publicNetworkAccess="Enabled"))
    harness = make_harness({"modes": {"cogsvc-private-endpoint-missing": "off"}}, tickets=webhook_sink)

    record = harness.engine.handle(account_write(name="mallory@contoso.com"))

    assert record.outcome is Outcome.TICKETED
    assert writes(emu) == []
    (request,) = webhook.received
    ticket = request.body["ticket"]
    assert ticket["resource_id"] == ACCOUNT_ID
    assert ticket["check_id"] == "cogsvc-public-network"
    assert ticket["changed_by"]["name"] == "mallory@contoso.com"
    assert "internet" in ticket["why_it_matters"]
    assert "publicNetworkAccess=Disabled" in ticket["fix"]["cli"]
    assert "no Approved private endpoint" in ticket["why_not_reverted"]
    assert record.actions[0].ticket


@pytest.mark.parametrize("tags, honoured, problem", [
    ({"warden-exempt": "cogsvc-public-network", "warden-exempt-until": "2099-01-01", "warden-exempt-reason": "x"}, False, "more than the allowed"),
    ({"warden-exempt": "cogsvc-public-network", "warden-exempt-until": "2020-01-01", "warden-exempt-reason": "x"}, False, "expired"),
    ({"warden-exempt": "cogsvc-public-network", "warden-exempt-until": "{soon}"}, False, "warden-exempt-reason"),
    ({"warden-exempt": "cogsvc-public-network", "warden-exempt-reason": "vendor test"}, False, "warden-exempt-until"),
    ({"warden-exempt": "cogsvc-public-network", "warden-exempt-until": "{soon}", "warden-exempt-reason": "vendor test"}, True, ""),
    ({"WARDEN-EXEMPT": "*", "Warden-Exempt-Until": "{soon}", "warden-exempt-REASON": "vendor test"}, True, ""),
])
def test_exemption_tags_decide_between_exempt_and_revert(emu, make_harness, tags, honoured, problem):
    from datetime import date, timedelta

    soon = (date.today() + timedelta(days=10)).isoformat()
    body = drifted_account(publicNetworkAccess="Enabled")
    body["tags"] = {k: v.replace("{soon}", soon) for k, v in tags.items()}
    emu.put_resource(ACCOUNT_ID, body)

    record = make_harness().engine.handle(account_write())

    (action,) = record.actions
    if honoured:
        assert record.outcome is Outcome.EXEMPT and action.action is Action.EXEMPT
        assert writes(emu) == []
        assert action.exemption["reason"] == "vendor test"
    else:
        assert record.outcome is Outcome.REVERTED
        assert problem in action.reason and "not honoured" in action.reason
        assert action.exemption["status"] == "refused"


def test_dry_run_writes_nothing_and_records_would_revert(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    record = make_harness({"dry_run": True}).engine.handle(account_write())
    assert record.outcome is Outcome.DRY_RUN
    assert record.actions[0].action is Action.WOULD_REVERT and record.actions[0].dry_run
    assert writes(emu) == []


def test_dry_run_ticket_is_not_sent(emu, make_harness, webhook, webhook_sink):
    emu.put_resource(ACCOUNT_ID, drifted_account(private_endpoint=False, publicNetworkAccess="Enabled"))
    record = make_harness({"dry_run": True, "modes": {"cogsvc-private-endpoint-missing": "off"}},
                          tickets=webhook_sink).engine.handle(account_write())
    assert record.actions[0].action is Action.WOULD_TICKET
    assert webhook.received == []


def test_mode_off_does_nothing(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    record = make_harness({"modes": {"cogsvc-public-network": "off"}}).engine.handle(account_write())
    assert record.outcome is Outcome.COMPLIANT and record.actions == []
    assert writes(emu) == []


def test_mode_report_records_only(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    record = make_harness({"modes": {"cogsvc-public-network": "report"}}).engine.handle(account_write())
    assert record.outcome is Outcome.REPORTED and record.actions[0].action is Action.REPORTED
    assert writes(emu) == []


def test_throttled_patch_with_retry_after_is_retried_then_succeeds(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=429, headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    record = make_harness().engine.handle(account_write())
    assert record.outcome is Outcome.REVERTED
    assert [r.status for r in emu.requests if r.method == "PATCH"] == [429, 200]
    assert time.monotonic() - started >= 0.9, "Retry-After was not honoured"


def test_retry_after_is_capped(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="GET", path_contains="/accounts/oai-prod", status=429, headers={"Retry-After": "3600"}, times=1)
    started = time.monotonic()
    record = make_harness({"arm": {"retry_after_cap_seconds": 0.5}}).engine.handle(account_write())
    assert record.outcome is Outcome.REVERTED
    assert time.monotonic() - started < 5


def test_service_unavailable_twice_then_success(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="GET", path_contains="/accounts/oai-prod", status=503, times=2)
    record = make_harness().engine.handle(account_write())
    assert record.outcome is Outcome.REVERTED
    assert [r.status for r in emu.requests if r.method == "GET"][:3] == [503, 503, 200]


def _race(emu, harness, change_body):
    """Handle the event while another writer changes the resource between the bot's GET and its PATCH."""
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=None, delay=0.6, times=1)
    result = {}
    worker = threading.Thread(target=lambda: result.update(record=harness.engine.handle(account_write())))
    worker.start()
    deadline = time.monotonic() + 5
    while not any(r.method == "GET" for r in emu.requests) and time.monotonic() < deadline:
        time.sleep(0.005)
    emu.put_resource(ACCOUNT_ID, change_body)  # a concurrent writer after the bot's read: new etag
    worker.join(10)
    return result["record"]


def test_concurrent_fix_by_owner_gets_412_then_reread_finds_compliant(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    record = _race(emu, make_harness(), drifted_account(publicNetworkAccess="Disabled"))
    patches = [r.status for r in emu.requests if r.method == "PATCH"]
    assert patches == [412]
    assert record.outcome is Outcome.COMPLIANT


def test_concurrent_unrelated_change_gets_412_then_reverts_with_new_etag(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    changed = drifted_account(publicNetworkAccess="Enabled")
    changed["tags"] = {"owner": "data-team"}
    record = _race(emu, make_harness(), changed)
    patches = [r for r in emu.requests if r.method == "PATCH"]
    assert [p.status for p in patches] == [412, 200]
    assert patches[1].headers.get("If-Match") != patches[0].headers.get("If-Match")
    assert record.outcome is Outcome.REVERTED
    assert emu.get_resource(ACCOUNT_ID)["tags"] == {"owner": "data-team"}


def test_resource_gone_is_recorded_without_a_write(emu, make_harness):
    record = make_harness().engine.handle(account_write())
    assert record.outcome is Outcome.GONE
    assert writes(emu) == []


def test_persistent_server_error_fails_and_the_trigger_asks_for_redelivery(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=500, times=100)
    harness = make_harness()
    runtime = Runtime(harness.config, harness.engine)
    event = arm_event(ACCOUNT_ID, WRITE)
    with pytest.raises(RetryRequested):
        runtime.handle_event(event)
    (record,) = harness.recorder.events
    assert record.outcome is Outcome.FAILED and "500" in record.error
    assert record.actions[0].action is Action.FAILED

    # Event Grid redelivers; ARM has recovered: the same event now completes.
    emu.clear_faults()
    assert runtime.handle_event(event).outcome is Outcome.REVERTED


def test_duplicate_delivery_acts_once_and_records_once(emu, make_harness):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    harness = make_harness()
    event = arm_event(ACCOUNT_ID, WRITE)
    harness.engine.handle(triage(event))
    second = harness.engine.handle(triage(event))
    assert "duplicate" in second.reason
    assert len([r for r in emu.requests if r.method == "PATCH"]) == 1
    assert len(harness.recorder.events) == 1


def test_key_retrieval_with_local_auth_enabled_tickets_the_caller(emu, make_harness, webhook, webhook_sink):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled", disableLocalAuth=False))
    harness = make_harness({"modes": {"cogsvc-local-auth": "report"}}, tickets=webhook_sink)
    event = arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/listKeys/action",
                      event_type="Microsoft.Resources.ResourceActionSuccess", name="ci-pipeline@contoso.com")
    record = harness.engine.handle(triage(event))
    actions = {a.check_id: a.action for a in record.actions}
    assert actions == {"cogsvc-key-retrieval": Action.TICKETED, "cogsvc-local-auth": Action.REPORTED}
    (request,) = webhook.received
    assert "ci-pipeline@contoso.com" in request.body["ticket"]["what_changed"]


def test_resource_notifications_event_that_is_compliant_needs_no_arm_call(emu, make_harness):
    from tests.support.samples import load

    event = load("eventgrid/arn-cloudevents-resources-created-or-updated.json")
    body = drifted_account(publicNetworkAccess="Disabled")
    body.update(id=ACCOUNT_ID, type="Microsoft.CognitiveServices/accounts", name="oai-prod")
    body["properties"]["disableLocalAuth"] = 1  # ARN renders booleans as 1/0
    event["data"]["resourceInfo"] = body
    record = make_harness().engine.handle(triage(event))
    assert record.outcome is Outcome.COMPLIANT
    assert record.arm_calls == 0 and emu.requests == []


def test_resource_notifications_event_that_looks_drifted_is_re_read_before_acting(emu, make_harness):
    from tests.support.samples import load

    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled"))  # ARM: already fixed
    event = load("eventgrid/arn-cloudevents-resources-created-or-updated.json")
    stale = drifted_account(publicNetworkAccess="Enabled")
    stale.update(id=ACCOUNT_ID, type="Microsoft.CognitiveServices/accounts")
    event["data"]["resourceInfo"] = stale
    record = make_harness().engine.handle(triage(event))
    assert record.outcome is Outcome.COMPLIANT
    assert [r.method for r in emu.requests] == ["GET"]
