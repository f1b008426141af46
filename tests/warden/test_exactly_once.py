"""Exactly once, for real: the Engine against the ARM emulator (HTTPS) and Azurite, with duplicate
deliveries, two concurrent workers, a worker that dies between claim and action, and Table Storage outages."""
from __future__ import annotations

import copy
import json
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from emulator import EmulatorCredential
from tests.support.fixtures import ACCOUNT_ID, BOT_APPID, BOT_OID, drifted_account
from tests.support.samples import arm_event
from warden.arm import ArmClient
from warden.config import ArmSettings, from_mapping
from warden.engine import Engine, EventBusy
from warden.events import triage
from warden.model import Action, Outcome
from warden.remediation_log import TableRecorder
from warden.runtime import RecordOnlyTicketSink, Runtime
from warden.state import Claim, MemoryState
from warden.table_state import LEASE_ROW, StorageSettings, TableNames, TableState, event_partition

WRITE = "Microsoft.CognitiveServices/accounts/write"
PUBLIC, IDENTITY = "cogsvc-public-network", "cogsvc-no-managed-identity"


class Clock:
    """The engine's clock, moved by the test (a lease expires when the test says so)."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@dataclass
class Worker:
    engine: Engine
    state: TableState
    recorder: TableRecorder
    arm: ArmClient

    @property
    def runtime(self) -> Runtime:
        return Runtime(self.engine.config, self.engine)


@pytest.fixture
def make_worker(emu, azurite, table_prefix):
    """`make_worker(...)`: one worker as a Function instance has it: its own Engine, ARM client, Table client,
    TableState and TableRecorder, all against the same emulator and storage account."""
    arms: list[ArmClient] = []
    config = from_mapping({"self_principal_ids": [BOT_OID, BOT_APPID],
                           "arm": {"endpoint": emu.base_url, "lro_wait_seconds": 1, "backoff_factor": 0.01}})

    def build(connection_string: str | None = None, lease: timedelta = timedelta(minutes=5), clock=None,
              state_class: type[TableState] = TableState) -> Worker:
        service = StorageSettings(connection_string=connection_string or azurite).service_client(
            retry_total=1, retry_backoff_factor=0.05)
        names = TableNames(table_prefix)
        state = state_class(service, names=names, lease=lease)
        recorder = TableRecorder(service, names=names, state=state)
        arm = ArmClient(EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden"),
                        ArmSettings(endpoint=emu.base_url, lro_wait_seconds=1, backoff_factor=0.01),
                        connection_verify=emu.ca_pem_path)
        arms.append(arm)
        engine = Engine(config, arm, recorder, RecordOnlyTicketSink(), state,
                        **({"clock": clock} if clock else {}))
        return Worker(engine, state, recorder, arm)

    yield build
    for arm in arms:
        arm.close()


def account(name: str) -> str:
    return ACCOUNT_ID.replace("oai-prod", name)


def successful_writes(emu) -> Counter:
    return Counter(r.path.lower() for r in emu.requests if r.method in ("PATCH", "PUT") and r.status < 300)


def lease(worker: Worker, event_id: str):
    return worker.state.events_table.get_entity(event_partition(event_id), LEASE_ROW)


# -- 1,000 deliveries, 30% duplicates, two workers ------------------------------------------------

def test_thousand_deliveries_with_duplicates_on_two_workers_act_on_every_drift_once_and_record_every_event_once(
        emu, make_worker):
    rng = random.Random(20261129)
    names = [f"acct-{i:03d}" for i in range(120)]
    drift: dict[str, str] = {}
    for index, name in enumerate(names):
        if index % 6 == 0:
            body, drift[account(name)] = drifted_account(account(name), publicNetworkAccess="Enabled"), PUBLIC
        elif index % 6 == 1:
            body = drifted_account(account(name), publicNetworkAccess="Disabled")
            body.pop("identity")
            drift[account(name)] = IDENTITY
        else:
            body = drifted_account(account(name), publicNetworkAccess="Disabled")
        emu.put_resource(account(name), body)
    targets = [account(n) for n in names] * 5 + rng.choices([account(n) for n in names], k=100)
    originals = [arm_event(target, WRITE, name=f"user{rng.randint(1, 9)}@contoso.com") for target in targets]
    assert len(originals) == 700
    duplicates = [copy.deepcopy(rng.choice(originals)) for _ in range(300)]
    deliveries: queue.Queue = queue.Queue()
    for event in rng.sample(originals + duplicates, k=1000):
        deliveries.put(event)

    workers = [make_worker(), make_worker()]
    outcomes: list[Counter] = [Counter(), Counter()]
    redelivered = [0, 0]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        worker = workers[index]
        while True:
            try:
                event = deliveries.get_nowait()
            except queue.Empty:
                return
            try:
                record = worker.engine.handle(triage(event))
                outcomes[index][record.outcome.value] += 1
            except EventBusy:  # the other worker holds it: Event Grid delivers it again later
                redelivered[index] += 1
                deliveries.put(event)
                time.sleep(0.002)
            except BaseException as error:  # noqa: BLE001 - surfaced below
                errors.append(error)
                return

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - started
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)

    # Every drift acted on exactly once: one successful write per drifted resource, none anywhere else.
    writes = successful_writes(emu)
    assert writes == Counter({resource_id.lower(): 1 for resource_id in drift}), writes
    for resource_id, check in drift.items():
        body = emu.get_resource(resource_id)
        assert body["properties"]["publicNetworkAccess"] == "Disabled" and body["identity"]["type"] == "SystemAssigned"

    # Every event recorded exactly once; each revert appears once in the log.
    entries = workers[0].recorder.query(limit=None)
    recorded = Counter(e.event["dw_event_id"] for e in entries)
    assert set(recorded) == {e["id"] for e in originals}
    assert set(recorded.values()) == {1}
    reverts = Counter((a["dw_resource_id"].lower(), a["dw_check_id"]) for e in entries for a in e.actions
                      if a["dw_action"] == "reverted")
    assert reverts == Counter({(r.lower(), c): 1 for r, c in drift.items()})
    assert sum(o["reverted"] for o in outcomes) == len(drift)
    assert all(lease(workers[1], event["id"])["Status"] == "done" for event in originals[:50])
    print(f"\n1000 deliveries, 2 workers: {elapsed:.1f} s, {sum(redelivered)} busy redeliveries, "
          f"outcomes {dict(outcomes[0] + outcomes[1])}")
    assert elapsed < 90


# -- a worker dies between claim and action -------------------------------------------------------

class WorkerDied(BaseException):
    """Stands for the process going away: not an Exception, so nothing in the engine can record it."""


class DiesAfterClaim(TableState):
    """A worker whose process ends right after it took the event, before it acts (once)."""

    died = False

    def reverts_since(self, resource_id, check_id, since):  # the flap lookup, right before the revert
        if not self.died:
            self.died = True
            raise WorkerDied()
        return super().reverts_since(resource_id, check_id, since)


def test_crash_after_claim_before_action_is_completed_by_the_redelivery_after_the_lease_expires(emu, make_worker):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    clock = Clock()
    dying = make_worker(lease=timedelta(seconds=60), clock=clock, state_class=DiesAfterClaim)
    survivor = make_worker(lease=timedelta(seconds=60), clock=clock)
    event = arm_event(ACCOUNT_ID, WRITE, name="alice@contoso.com")

    with pytest.raises(WorkerDied):
        dying.engine.handle(triage(event))
    assert successful_writes(emu) == Counter()  # it died before acting
    assert lease(survivor, event["id"])["Status"] == "taken"

    with pytest.raises(EventBusy):  # redelivered while the dead worker's lease runs: retry later
        survivor.engine.handle(triage(event))
    clock.advance(seconds=61)
    record = survivor.engine.handle(triage(event))  # the redelivery after the lease expired takes it over

    assert record.outcome is Outcome.REVERTED
    assert successful_writes(emu) == Counter({ACCOUNT_ID.lower(): 1})
    taken_over = lease(survivor, event["id"])
    assert taken_over["Status"] == "done" and taken_over["Attempts"] == 2
    assert survivor.engine.handle(triage(event)).outcome is Outcome.IGNORED  # later duplicates: done, no record
    (entry,) = survivor.recorder.query()
    assert entry.outcome == "reverted" and [a["dw_action"] for a in entry.actions] == ["reverted"]


# -- Table Storage outages ------------------------------------------------------------------------

@pytest.mark.parametrize("outage", ["503", "connection refused"])
def test_table_storage_unavailable_fails_the_event_so_event_grid_redelivers_and_nothing_is_lost_once_back(
        emu, make_worker, storage_proxy, outage):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    worker = make_worker(connection_string=storage_proxy.connection_string)
    event = arm_event(ACCOUNT_ID, WRITE, name="alice@contoso.com")
    if outage == "503":
        storage_proxy.mode = "unavailable"
    else:
        storage_proxy.down()

    with pytest.raises(Exception) as raised:  # the trigger fails: the host answers Event Grid with an error
        worker.runtime.handle_event(event)
    if outage == "503":
        assert isinstance(raised.value, HttpResponseError) and raised.value.status_code == 503
    else:
        assert isinstance(raised.value, ServiceRequestError)
    assert [r for r in emu.requests if r.method != "GET"] == []  # nothing acted on while state is unknown

    storage_proxy.heal()
    record = worker.runtime.handle_event(event)  # Event Grid's redelivery
    assert record.outcome is Outcome.REVERTED
    assert worker.runtime.handle_event(event).outcome is Outcome.IGNORED  # a further duplicate
    (entry,) = worker.recorder.query()
    assert entry.event["dw_event_id"] == event["id"] and entry.outcome == "reverted"
    assert successful_writes(emu) == Counter({ACCOUNT_ID.lower(): 1})


def test_table_storage_failing_after_the_revert_keeps_the_revert_in_the_log_and_the_redelivery_completes(
        emu, make_worker, storage_proxy, table_prefix):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    clock = Clock()
    worker = make_worker(connection_string=storage_proxy.connection_string, lease=timedelta(seconds=60), clock=clock)
    event = arm_event(ACCOUNT_ID, WRITE, name="alice@contoso.com")
    # Storage answers the claim and the pending-revert read, then goes down: the revert's bookkeeping and
    # the record fail after ARM already applied the PATCH.
    storage_proxy.fail_after(lambda method, path: method == "GET" and f"/{table_prefix}state(" in path)

    with pytest.raises(Exception):
        worker.runtime.handle_event(event)
    assert successful_writes(emu) == Counter({ACCOUNT_ID.lower(): 1})
    assert worker.recorder.spooled == 1

    storage_proxy.heal()
    with pytest.raises(EventBusy):  # redelivered at once: the failed attempt's lease still runs
        worker.runtime.handle_event(event)
    clock.advance(seconds=61)
    record = worker.runtime.handle_event(event)
    assert record.outcome is Outcome.COMPLIANT  # already reverted: no second write
    assert successful_writes(emu) == Counter({ACCOUNT_ID.lower(): 1})

    first, second = worker.recorder.query()
    assert first.outcome == "failed" and "ServerBusy" in first.event["dw_error"]
    assert [(a["dw_action"], a["dw_check_id"]) for a in first.actions] == [("reverted", PUBLIC)]
    assert json.loads(first.actions[0]["dw_after"]) == {"properties.publicNetworkAccess": "Disabled"}
    assert second.outcome == "compliant" and second.event["dw_event_id"] == event["id"]
    assert worker.state.claim_event(event["id"], clock.now) is Claim.DONE


# -- the engine keeps what it did when the state store fails after an ARM write ---------------------

class StateDownAfterWrite(MemoryState):
    """Stands for Table Storage failing right after ARM accepted the bot's write."""

    def note_revert(self, resource_id, check_id, entry):
        raise ConnectionError("state store unreachable")

    def note_pending(self, pending):
        raise ConnectionError("state store unreachable")


@pytest.mark.parametrize("lro, action", [("sync", Action.REVERTED), ("async", Action.PENDING)])
def test_state_failing_after_an_accepted_write_records_the_event_failed_with_the_write_in_it(
        emu, make_harness, lro, action):
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.set_lro(None, lro)
    harness = make_harness({"arm": {"lro_wait_seconds": 0.1}}, state=StateDownAfterWrite())

    record = harness.engine.handle(triage(arm_event(ACCOUNT_ID, WRITE)))

    assert record.outcome is Outcome.FAILED and record.retry_requested  # Event Grid redelivers
    assert "state store unreachable" in record.error
    assert [(a.action, a.check_id) for a in record.actions] == [(action, PUBLIC)]
    assert harness.recorder.events == [record]
