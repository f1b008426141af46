"""The durable remediation log (TableRecorder) against Azurite: what it stores, in how many round trips,
how it commits the event's lease, what it keeps through an outage, and the query the CLI reads."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from tests.support.azurite import RequestCounter
from tests.support.fixtures import ACCOUNT_ID
from warden.model import Action, ActionRecord, Caller, EventRecord, Outcome
from warden.records import action_fields, event_fields
from warden.remediation_log import TableRecorder, exemptions_from, parse_since, query_log
from warden.state import Claim
from warden.table_state import LEASE_ROW, StorageSettings, TableNames, TableState, event_partition
from warden.telemetry import SCHEMA, flatten

NOW = datetime.now(timezone.utc)
ALICE = Caller("a11ce000-0000-4000-8000-000000000001", "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "alice@contoso.com",
               "203.0.113.7")
PIPELINE = Caller("c1c1c1c1-0000-4000-8000-000000000002", "c1c1c1c1-0000-4000-8000-0000000000a2", "deploy-pipeline")


@pytest.fixture
def store(azurite, table_prefix):
    """`store(hook=None, connection_string=None)` -> (TableState, TableRecorder) sharing one client, as a worker has."""
    def build(hook=None, connection_string=None, lease=timedelta(minutes=5)):
        options = {"raw_request_hook": hook} if hook else {}
        service = StorageSettings(connection_string=connection_string or azurite).service_client(**options)
        names = TableNames(table_prefix)
        state = TableState(service, names=names, lease=lease)
        return state, TableRecorder(service, names=names, state=state)
    return build


def action(check: str = "cogsvc-public-network", kind: Action = Action.REVERTED, event_id: str = "evt-1",
           resource_id: str = ACCOUNT_ID, caller: Caller = ALICE, **extra) -> ActionRecord:
    fields = dict(event_id=event_id, correlation_id="corr-1", resource_id=resource_id,
                  resource_type="Microsoft.CognitiveServices/accounts", check_id=check, severity="high", mode="revert",
                  action=kind, reason="mode revert: 1 Approved private endpoint connection", caller=caller,
                  detail="public network access is 'Enabled'", before={"properties.publicNetworkAccess": "Enabled"},
                  after={"properties.publicNetworkAccess": "Disabled"})
    fields.update(extra)
    return ActionRecord(**fields)


def event(outcome: Outcome = Outcome.REVERTED, event_id: str = "evt-1", actions=None, resource_id: str = ACCOUNT_ID,
          caller: Caller = ALICE, **extra) -> EventRecord:
    record = EventRecord(event_id, "corr-1", "Microsoft.Resources.ResourceWriteSuccess", resource_id,
                         "Microsoft.CognitiveServices/accounts", "Microsoft.CognitiveServices/accounts/write", outcome,
                         extra.pop("reason", f"{outcome.value}: cogsvc-public-network"), caller,
                         actions=list(actions if actions is not None else [action(event_id=event_id, resource_id=resource_id,
                                                                                  caller=caller)]))
    for key, value in extra.items():
        setattr(record, key, value)
    return record


# -- what is stored, in how many round trips ---------------------------------------------------------

def test_event_and_its_actions_commit_with_the_lease_in_one_round_trip(store):
    counter = RequestCounter()
    state, recorder = store(hook=counter)
    assert state.claim_event("evt-1", NOW) is Claim.TAKEN
    counter.requests.clear()

    recorder.record(event(actions=[action(), action("cogsvc-no-managed-identity")]))
    state.complete_event("evt-1", NOW)

    assert [(m, u.rsplit("/", 1)[-1]) for m, u in counter.requests] == [("POST", "$batch")]
    assert state.events_table.get_entity(event_partition("evt-1"), LEASE_ROW)["Status"] == "done"
    assert state.claim_event("evt-1", NOW) is Claim.DONE
    (entry,) = recorder.query()
    assert entry.outcome == "reverted" and [a["dw_check_id"] for a in entry.actions] == [
        "cogsvc-public-network", "cogsvc-no-managed-identity"]


def test_every_field_of_the_event_and_action_records_is_kept(store):
    _, recorder = store()
    exemption = {"status": "refused", "checks": ["cogsvc-public-network"], "until": "2026-01-01T23:59:59+00:00",
                 "reason": "", "problem": "exemption expired at 2026-01-01T23:59:59+00:00"}
    record = event(Outcome.TICKETED, actions=[action(kind=Action.TICKETED, ticket="INC-42", exemption=exemption,
                                                     error=None, dry_run=False)],
                   duration_ms=12.5, arm_calls=2, exemption=exemption)
    recorder.record(record)
    (entry,) = recorder.query()
    stored_event, (stored_action,) = entry.event, entry.actions
    expected_event = flatten(event_fields(record, datetime.fromisoformat(stored_event["dw_time"])))
    expected_action = flatten(action_fields(record.actions[0], datetime.fromisoformat(stored_action["dw_time"])))
    assert stored_event == expected_event and stored_action == expected_action
    assert set(stored_event) | set(stored_action) <= set(SCHEMA)
    for name in ("dw_event_id", "dw_correlation_id", "dw_time", "dw_resource_id", "dw_resource_type", "dw_outcome",
                 "dw_reason", "dw_caller_oid", "dw_caller_appid", "dw_caller_name", "dw_caller_ip", "dw_duration_ms",
                 "dw_exemption_status", "dw_exemption_until", "dw_exemption_problem"):
        assert name in stored_event, name
    for name in ("dw_check_id", "dw_mode", "dw_action", "dw_reason", "dw_dry_run", "dw_before", "dw_after",
                 "dw_ticket", "dw_exemption_checks", "dw_exemption_until", "dw_severity", "dw_detail"):
        assert name in stored_action, name
    assert json.loads(stored_action["dw_before"]) == {"properties.publicNetworkAccess": "Enabled"}
    assert stored_action["dw_ticket"] == "INC-42" and stored_action["dw_dry_run"] == "false"


def test_a_failed_attempt_and_its_redelivery_are_both_kept_and_only_the_success_completes(store):
    state, recorder = store()
    assert state.claim_event("evt-f", NOW) is Claim.TAKEN
    recorder.record(event(Outcome.FAILED, event_id="evt-f", actions=[], error="ARM 503", reason="ArmError: 503"))
    state.release_event("evt-f")
    assert state.claim_event("evt-f", NOW) is Claim.TAKEN
    recorder.record(event(Outcome.REVERTED, event_id="evt-f"))
    state.complete_event("evt-f", NOW)
    assert [e.outcome for e in recorder.query()] == ["failed", "reverted"]
    assert state.claim_event("evt-f", NOW) is Claim.DONE


def test_lease_taken_over_by_another_worker_keeps_this_attempts_records_without_completing(store):
    slow, _ = store(lease=timedelta(seconds=1))
    fast_state, _ = store(lease=timedelta(seconds=1))
    slow_state, slow_recorder = slow, TableRecorder(slow._service, names=slow.names, state=slow)
    assert slow_state.claim_event("evt-l", NOW) is Claim.TAKEN
    assert fast_state.claim_event("evt-l", NOW + timedelta(seconds=2)) is Claim.TAKEN  # slow's lease expired
    slow_recorder.record(event(event_id="evt-l"))  # what the slow worker did is still recorded
    slow_state.complete_event("evt-l", NOW)
    assert slow_state.events_table.get_entity(event_partition("evt-l"), LEASE_ROW)["Status"] == "taken"
    assert [e.outcome for e in slow_recorder.query()] == ["reverted"]


# -- outages -----------------------------------------------------------------------------------------

def test_records_written_while_storage_is_down_are_kept_and_written_once_it_is_back(store, storage_proxy):
    state, recorder = store(connection_string=storage_proxy.connection_string)
    recorder.record(event(event_id="evt-before"))
    storage_proxy.mode = "unavailable"
    with pytest.raises(HttpResponseError):
        recorder.record(event(event_id="evt-during"))
    assert recorder.spooled == 1
    storage_proxy.heal()
    recorder.record(event(event_id="evt-after"))
    assert recorder.spooled == 0
    assert sorted(e.event["dw_event_id"] for e in recorder.query()) == ["evt-after", "evt-before", "evt-during"]


def test_a_spooled_record_completes_its_lease_when_written_later(store, storage_proxy):
    state, recorder = store(connection_string=storage_proxy.connection_string)
    assert state.claim_event("evt-s", NOW) is Claim.TAKEN
    storage_proxy.mode = "unavailable"
    with pytest.raises(HttpResponseError):
        recorder.record(event(event_id="evt-s"))
    storage_proxy.heal()
    assert recorder.flush() == 0
    assert state.claim_event("evt-s", NOW + timedelta(hours=1)) is Claim.DONE  # the redelivery finds it done
    assert [e.outcome for e in recorder.query()] == ["reverted"]


# -- the query ---------------------------------------------------------------------------------------

@pytest.fixture
def seeded(store):
    _, recorder = store()
    other = ACCOUNT_ID.replace("oai-prod", "oai-dev")
    recorder.record(event(Outcome.REVERTED, event_id="e1"))
    recorder.record(event(Outcome.TICKETED, event_id="e2", resource_id=other, caller=PIPELINE,
                          actions=[action("cogsvc-local-auth", Action.TICKETED, event_id="e2", resource_id=other,
                                          caller=PIPELINE, ticket="INC-7")]))
    recorder.record(event(Outcome.COMPLIANT, event_id="e3", actions=[], reason="all checks pass"))
    return recorder


def test_query_filters_by_resource_check_outcome_and_caller(seeded):
    assert [e.event["dw_event_id"] for e in seeded.query()] == ["e1", "e2", "e3"]
    assert [e.event["dw_event_id"] for e in seeded.query(resource="OAI-DEV")] == ["e2"]
    assert [e.event["dw_event_id"] for e in seeded.query(check="cogsvc-local-auth")] == ["e2"]
    assert [e.event["dw_event_id"] for e in seeded.query(outcome="compliant")] == ["e3"]
    assert [e.event["dw_event_id"] for e in seeded.query(outcome="ticketed")] == ["e2"]
    assert [e.event["dw_event_id"] for e in seeded.query(caller="pipeline")] == ["e2"]
    assert [e.event["dw_event_id"] for e in seeded.query(caller="a11ce000")] == ["e1", "e3"]
    assert [e.event["dw_event_id"] for e in seeded.query(limit=1)] == ["e3"]


def test_query_since_filters_in_the_service(seeded):
    assert len(seeded.query(since=datetime.now(timezone.utc) - timedelta(minutes=5))) == 3
    assert seeded.query(since=datetime.now(timezone.utc) + timedelta(minutes=5)) == []


def test_query_of_a_log_nothing_was_written_to_is_empty(azurite, table_prefix):
    service = StorageSettings(connection_string=azurite).service_client()
    assert query_log(service.get_table_client(f"{table_prefix}events")) == []


@pytest.mark.parametrize("text, delta", [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)),
                                         ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2))])
def test_since_accepts_durations(text, delta):
    assert parse_since(text, NOW) == NOW - delta


def test_since_accepts_dates_and_refuses_words():
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="duration"):
        parse_since("yesterday", NOW)


# -- exemptions as the log saw them ------------------------------------------------------------------

def test_exemptions_show_status_days_left_and_who_set_them(store):
    _, recorder = store()
    honoured = {"status": "honoured", "checks": ["cogsvc-public-network"],
                "until": (NOW + timedelta(days=10)).isoformat(), "reason": "vendor test (SEC-1)", "problem": None}
    refused = {"status": "refused", "checks": ["*"], "until": None, "reason": "",
               "problem": "tag warden-exempt-until is missing: an exemption needs an expiry (YYYY-MM-DD)"}
    a, b, c = (ACCOUNT_ID.replace("oai-prod", n) for n in ("vendor", "nodate", "gone"))
    recorder.record(event(Outcome.EXEMPT, event_id="x1", resource_id=a, caller=ALICE, actions=[], exemption=honoured))
    recorder.record(event(Outcome.EXEMPT, event_id="x2", resource_id=a, caller=PIPELINE, actions=[], exemption=honoured))
    recorder.record(event(Outcome.TICKETED, event_id="x3", resource_id=b, caller=PIPELINE, actions=[], exemption=refused))
    recorder.record(event(Outcome.EXEMPT, event_id="x4", resource_id=c, actions=[], exemption=honoured))
    recorder.record(event(Outcome.COMPLIANT, event_id="x5", resource_id=c, actions=[]))  # tags removed since

    views = {v.resource_id: v for v in exemptions_from(recorder.query(), datetime.now(timezone.utc))}
    assert set(views) == {a, b}
    assert views[a].status == "honoured" and views[a].set_by == "alice@contoso.com" and 9 < views[a].days_left <= 10
    assert views[b].status == "refused" and "missing" in views[b].problem and views[b].days_left is None
    everything = exemptions_from(recorder.query(), datetime.now(timezone.utc), include_removed=True)
    assert {v.resource_id: v.status for v in everything}[c] == "removed"
    later = exemptions_from(recorder.query(), datetime.now(timezone.utc) + timedelta(days=11))
    assert {v.resource_id: v.status for v in later}[a] == "expired"
