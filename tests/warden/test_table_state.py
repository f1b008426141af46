"""TableState against Azurite: event leases, revert history, pending reverts, resource leases, settings."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from tests.support.azurite import RequestCounter
from tests.support.fixtures import ACCOUNT_ID, drifted_account
from tests.support.samples import arm_event
from warden.config import ConfigError
from warden.events import triage
from warden.model import Action, Outcome
from warden.state import Claim, PendingRevert, RevertEntry
from warden.table_state import (LEASE_ROW, StorageSettings, TableNames, TableState, event_partition,
                                resource_partition, storage_from_env)

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
CHECK = "cogsvc-public-network"


@pytest.fixture
def make_state(azurite, table_prefix):
    """`make_state(lease=..., hook=...)`: a TableState with its own client (as each worker has)."""
    def build(lease: timedelta = timedelta(minutes=5), hook=None, connection_string: str | None = None) -> TableState:
        options = {"raw_request_hook": hook} if hook else {}
        service = StorageSettings(connection_string=connection_string or azurite).service_client(**options)
        return TableState(service, names=TableNames(table_prefix), lease=lease)
    return build


# -- event leases --------------------------------------------------------------------------------------

def test_claim_is_taken_once_and_a_completed_event_is_done_for_every_redelivery(make_state):
    state = make_state()
    assert state.claim_event("evt-1", T0) is Claim.TAKEN
    state.complete_event("evt-1", T0)
    assert state.claim_event("evt-1", T0) is Claim.DONE
    assert make_state().claim_event("evt-1", T0 + timedelta(days=3)) is Claim.DONE


def test_unexpired_lease_is_busy_and_an_expired_one_is_taken_over(make_state):
    first, second = make_state(lease=timedelta(seconds=30)), make_state(lease=timedelta(seconds=30))
    assert first.claim_event("evt-2", T0) is Claim.TAKEN
    assert second.claim_event("evt-2", T0 + timedelta(seconds=29)) is Claim.BUSY
    assert second.claim_event("evt-2", T0 + timedelta(seconds=31)) is Claim.TAKEN  # the first worker died
    lease = second.events_table.get_entity(event_partition("evt-2"), LEASE_ROW)
    assert lease["Attempts"] == 2 and lease["Owner"] == second.owner
    first.complete_event("evt-2", T0 + timedelta(seconds=40))  # too late: its lease is gone, nothing changes
    assert second.events_table.get_entity(event_partition("evt-2"), LEASE_ROW)["Status"] == "taken"


def test_released_event_is_taken_again_at_once(make_state):
    state = make_state()
    assert state.claim_event("evt-3", T0) is Claim.TAKEN
    state.release_event("evt-3")
    assert make_state().claim_event("evt-3", T0) is Claim.TAKEN


def test_two_workers_racing_for_the_same_events_never_both_take_one(make_state):
    workers = [make_state(lease=timedelta(seconds=1)) for _ in range(2)]
    events = [f"race-{i}" for i in range(60)]
    results: dict[int, dict[str, Claim]] = {0: {}, 1: {}}
    barrier = threading.Barrier(2)

    def run(index: int, now: datetime) -> None:
        barrier.wait()
        for event_id in events:
            results[index][event_id] = workers[index].claim_event(event_id, now)

    for now in (T0, T0 + timedelta(seconds=5)):  # first fresh leases, then a takeover race on expired ones
        threads = [threading.Thread(target=run, args=(i, now)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for event_id in events:
            claims = sorted([results[0][event_id], results[1][event_id]])
            assert claims == sorted([Claim.TAKEN, Claim.BUSY]), (event_id, claims)


# -- revert history and pending reverts ----------------------------------------------------------------

def test_revert_history_is_kept_per_resource_and_check_and_read_within_the_window(make_state):
    state = make_state()
    other = ACCOUNT_ID + "-other"
    state.note_revert(ACCOUNT_ID, CHECK, RevertEntry(T0 - timedelta(hours=30), "pipeline"))
    state.note_revert(ACCOUNT_ID, CHECK, RevertEntry(T0 - timedelta(hours=2), "alice"))
    state.note_revert(ACCOUNT_ID, "cogsvc-no-managed-identity", RevertEntry(T0, "bob"))
    state.note_revert(other, CHECK, RevertEntry(T0, "carol"))
    fresh = make_state()  # another worker reads what this one wrote
    entries = fresh.reverts_since(ACCOUNT_ID.upper(), CHECK, T0 - timedelta(hours=24))  # ids compare case-insensitively
    assert [e.caller for e in entries] == ["alice"]
    assert [e.caller for e in fresh.reverts_since(other, CHECK, T0 - timedelta(days=2))] == ["carol"]


def test_concurrent_revert_notes_lose_no_entry(make_state):
    workers = [make_state() for _ in range(3)]
    barrier = threading.Barrier(3)

    def note(index: int) -> None:
        barrier.wait()
        for n in range(8):
            workers[index].note_revert(ACCOUNT_ID, CHECK, RevertEntry(T0 + timedelta(seconds=n), f"w{index}"))

    threads = [threading.Thread(target=note, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    entries = make_state().reverts_since(ACCOUNT_ID, CHECK, T0 - timedelta(hours=1))
    assert len(entries) == 24
    assert sorted({e.caller for e in entries}) == ["w0", "w1", "w2"]


def test_pending_revert_is_taken_by_exactly_one_worker(make_state):
    first, second = make_state(), make_state()
    first.note_pending(PendingRevert(ACCOUNT_ID, (CHECK,), "evt-9", T0, "token"))
    first.note_pending(PendingRevert(ACCOUNT_ID, (CHECK,), "evt-9", T0, "token"))  # noted twice: kept once
    barrier, taken = threading.Barrier(2), {}

    def take(name: str, state: TableState) -> None:
        barrier.wait()
        taken[name] = state.take_pending(ACCOUNT_ID.lower())

    threads = [threading.Thread(target=take, args=(n, s)) for n, s in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(v) for v in taken.values()) == [0, 1]
    (entry,) = taken["a"] or taken["b"]
    assert entry == PendingRevert(ACCOUNT_ID, (CHECK,), "evt-9", T0, "token")
    assert make_state().take_pending(ACCOUNT_ID) == []


def test_resource_lease_is_reentrant_case_insensitive_and_released_only_by_its_holder(make_state):
    state, other = make_state(lease=timedelta(minutes=5)), make_state(lease=timedelta(minutes=5))
    assert state.claim_resource(ACCOUNT_ID, "a", T0) is Claim.TAKEN
    assert state.claim_resource(ACCOUNT_ID.upper(), "a", T0) is Claim.TAKEN
    assert other.claim_resource(ACCOUNT_ID, "b", T0) is Claim.BUSY
    other.release_resource(ACCOUNT_ID, "b")  # not b's to release
    assert other.claim_resource(ACCOUNT_ID, "b", T0 + timedelta(minutes=1)) is Claim.BUSY
    assert other.claim_resource(ACCOUNT_ID, "b", T0 + timedelta(minutes=6)) is Claim.TAKEN  # a's lease expired
    other.release_resource(ACCOUNT_ID, "b")
    assert state.claim_resource(ACCOUNT_ID, "c", T0) is Claim.TAKEN


def test_keys_never_contain_a_slash_and_entities_keep_the_ids_in_clear(make_state):
    state = make_state()
    state.note_revert(ACCOUNT_ID, CHECK, RevertEntry(T0, "alice"))
    state.claim_event("/weird/event/id", T0)
    assert "/" not in resource_partition(ACCOUNT_ID) and "/" not in event_partition("/weird/event/id")
    entity = state.state_table.get_entity(resource_partition(ACCOUNT_ID), "state")
    assert entity["ResourceId"] == ACCOUNT_ID
    assert state.events_table.get_entity(event_partition("/weird/event/id"), LEASE_ROW)["EventId"] == "/weird/event/id"


def test_tables_are_created_on_first_use_once_per_process(make_state):
    counter = RequestCounter()
    state = make_state(hook=counter)
    state.claim_event("evt-t", T0)
    creates = [url for method, url in counter.requests if url.rstrip("/").endswith("/Tables")]
    assert len(creates) == 1
    counter.requests.clear()
    make_state(hook=counter).claim_event("evt-u", T0)  # a second worker in this process: cached
    assert [m for m, _ in counter.requests] == ["POST"]


# -- outages -------------------------------------------------------------------------------------------

def test_storage_answering_503_raises_instead_of_guessing(make_state, storage_proxy):
    state = make_state(connection_string=storage_proxy.connection_string)
    storage_proxy.mode = "unavailable"
    with pytest.raises(HttpResponseError) as raised:
        state.claim_event("evt-503", T0)
    assert raised.value.status_code == 503


def test_storage_refusing_connections_raises(make_state, storage_proxy):
    state = make_state(connection_string=storage_proxy.connection_string)
    storage_proxy.down()
    with pytest.raises(ServiceRequestError):
        state.take_pending(ACCOUNT_ID)


# -- flap detection through the real engine ------------------------------------------------------------

def test_flap_resource_reopened_four_times_is_reverted_three_times_then_ticketed_naming_the_callers(
        emu, make_harness, make_state):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled"))
    tickets = RecordingTickets()
    harness = make_harness(tickets=tickets, state=make_state())
    callers = ["deploy-pipeline", "deploy-pipeline", "bob@contoso.com", "deploy-pipeline"]
    outcomes = []
    for who in callers:
        emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))  # somebody re-opens it
        outcomes.append(harness.engine.handle(triage(arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write",
                                                               name=who))))
    assert [r.outcome for r in outcomes] == [Outcome.REVERTED] * 3 + [Outcome.TICKETED]
    (ticketed,) = outcomes[-1].actions
    assert ticketed.action is Action.TICKETED and ticketed.check_id == CHECK
    assert "reverted 3 times" in ticketed.reason and "limit 3" in ticketed.reason
    assert "deploy-pipeline" in ticketed.reason and "bob@contoso.com" in ticketed.reason
    assert [t.check_id for t in tickets.opened] == [CHECK]
    assert "deploy-pipeline" in tickets.opened[0].why_not_reverted
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"  # left for a human


class RecordingTickets:
    def __init__(self):
        self.opened = []

    def open(self, ticket):
        self.opened.append(ticket)
        return f"TEST-{len(self.opened)}"

    def resolve(self, resource_id, check_ids, note):
        pass


# -- settings ------------------------------------------------------------------------------------------

def test_storage_settings_absent_means_memory_state():
    assert storage_from_env({}) is None


def test_storage_settings_from_an_account_name_are_identity_based():
    settings = storage_from_env({"DRIFTWARDEN_STORAGE_ACCOUNT": "stdriftwarden01", "AZURE_CLIENT_ID": "client-1",
                                 "DRIFTWARDEN_EVENT_LEASE_SECONDS": "90", "DRIFTWARDEN_TABLE_PREFIX": "dwprod"})
    assert settings.endpoint == "https://stdriftwarden01.table.core.windows.net"
    assert settings.connection_string is None and settings.managed_identity_client_id == "client-1"
    assert settings.lease == timedelta(seconds=90) and settings.names.events == "dwprodevents"


@pytest.mark.parametrize("env, words", [
    ({"DRIFTWARDEN_STORAGE_ACCOUNT": "x", "DRIFTWARDEN_STORAGE_CONNECTION_STRING": "a=b"}, "not both"),
    ({"DRIFTWARDEN_STORAGE_ACCOUNT": "Bad_Name!"}, "not a storage account name"),
    ({"DRIFTWARDEN_STORAGE_ACCOUNT": "http://st.table.core.windows.net"}, "needs https"),
    ({"DRIFTWARDEN_STORAGE_CONNECTION_STRING": "AccountName=devstoreaccount1"}, "no AccountKey"),
    ({"DRIFTWARDEN_STORAGE_CONNECTION_STRING": "AccountKey=abc"}, "neither TableEndpoint nor AccountName"),
    ({"DRIFTWARDEN_STORAGE_ACCOUNT": "stok", "DRIFTWARDEN_EVENT_LEASE_SECONDS": "soon"}, "seconds from 1 to 3600"),
    ({"DRIFTWARDEN_STORAGE_ACCOUNT": "stok", "DRIFTWARDEN_TABLE_PREFIX": "a-b"}, "letters and digits"),
])
def test_storage_settings_errors_say_what_to_change(env, words):
    with pytest.raises(ConfigError, match=words) as raised:
        storage_from_env(env)
    assert "abc" not in str(raised.value)  # never echo a key


def test_storage_settings_never_show_the_key(azurite):
    settings = storage_from_env({"DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite})
    assert "AccountKey" not in settings.describe() and settings.describe().startswith("http://127.0.0.1:")
