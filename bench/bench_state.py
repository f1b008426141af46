"""Durable state and the remediation log: Table Storage round trips per event, and events/s end to end.

Starts Azurite (azurite-table, in memory, 127.0.0.1) and the ARM emulator (HTTPS, 127.0.0.1), wires Engines
to them the way the Function App does (TableState + TableRecorder sharing one TableServiceClient per worker,
the real ArmClient), and

1. hands one worker one event of each class and counts the HTTP requests its Table client sent (every
   attempt, through azure-core's raw_request_hook) and the ARM requests;
2. pushes 1,000 deliveries (30% duplicates, one account in six drifted) through 1 and 2 concurrent workers,
   and through 1 worker on MemoryState for comparison, and prints events/s.

    .venv/bin/python bench/bench_state.py [--deliveries 1000]

Needs `npm ci` (Azurite). Prints figures only; it never asserts anything about them.
"""
from __future__ import annotations

import argparse
import copy
import logging
import queue
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator import ArmEmulator, EmulatorCredential  # noqa: E402
from tests.support.fixtures import ACCOUNT_ID, BOT_APPID, BOT_OID, drifted_account  # noqa: E402
from tests.support.samples import arm_event  # noqa: E402
from warden.arm import ArmClient  # noqa: E402
from warden.config import ArmSettings, from_mapping  # noqa: E402
from warden.engine import Engine, EventBusy  # noqa: E402
from warden.events import triage  # noqa: E402
from warden.local_services import Azurite  # noqa: E402
from warden.records import MemoryRecorder  # noqa: E402
from warden.remediation_log import TableRecorder  # noqa: E402
from warden.runtime import RecordOnlyTicketSink  # noqa: E402
from warden.state import MemoryState  # noqa: E402
from warden.table_state import StorageSettings, TableNames, TableState  # noqa: E402

WRITE = "Microsoft.CognitiveServices/accounts/write"
LIST_KEYS = "Microsoft.CognitiveServices/accounts/listKeys/action"


def account(name: str) -> str:
    return ACCOUNT_ID.replace("oai-prod", name)


class RequestCount:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, request) -> None:
        with self.lock:
            self.count += 1


@dataclass
class Worker:
    engine: Engine
    table_requests: RequestCount
    arm: ArmClient


def make_worker(emu: ArmEmulator, connection_string: str | None, prefix: str) -> Worker:
    config = from_mapping({"self_principal_ids": [BOT_OID, BOT_APPID], "arm": {"endpoint": emu.base_url}})
    arm = ArmClient(EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden"),
                    ArmSettings(endpoint=emu.base_url, lro_wait_seconds=1), connection_verify=emu.ca_pem_path)
    counter = RequestCount()
    if connection_string is None:
        state, recorder = MemoryState(), MemoryRecorder()
    else:
        service = StorageSettings(connection_string=connection_string).service_client(raw_request_hook=counter)
        names = TableNames(prefix)
        state = TableState(service, names=names)
        recorder = TableRecorder(service, names=names, state=state)
    return Worker(Engine(config, arm, recorder, RecordOnlyTicketSink(), state), counter, arm)


def round_trips(emu: ArmEmulator, connection_string: str) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    worker = make_worker(emu, connection_string, prefix)
    emu.put_resource(account("warmup"), drifted_account(account("warmup"), publicNetworkAccess="Disabled"))
    worker.engine.handle(triage(arm_event(account("warmup"), WRITE)))  # creates the tables (once per process)
    exempt = drifted_account(account("exempt"), publicNetworkAccess="Enabled")
    exempt["tags"] = {"warden-exempt": "*", "warden-exempt-reason": "bench",
                      "warden-exempt-until": (date.today() + timedelta(days=30)).isoformat()}
    seeds = {
        "compliant": drifted_account(account("compliant"), publicNetworkAccess="Disabled"),
        "revert": drifted_account(account("revert"), publicNetworkAccess="Enabled"),
        "ticket": drifted_account(account("ticket"), publicNetworkAccess="Disabled", disableLocalAuth=False),
        "exempt": exempt,
        "keys": drifted_account(account("keys"), publicNetworkAccess="Disabled", disableLocalAuth=False),
    }
    for name, body in seeds.items():
        emu.put_resource(account(name), body)
    cases = [
        ("compliant write", arm_event(account("compliant"), WRITE)),
        ("revert (public network)", arm_event(account("revert"), WRITE)),
        ("ticket (local auth)", arm_event(account("ticket"), WRITE)),
        ("exempt", arm_event(account("exempt"), WRITE)),
        ("key retrieval -> ticket", arm_event(account("keys"), LIST_KEYS,
                                              event_type="Microsoft.Resources.ResourceActionSuccess")),
    ]
    duplicate = copy.deepcopy(cases[0][1])
    cases.append(("duplicate delivery", duplicate))
    echo_source = arm_event(account("revert"), WRITE, oid=BOT_OID, appid=BOT_APPID, name="driftwarden")
    cases.append(("echo of the bot's write", echo_source))
    cases.append(("irrelevant (storage account)", arm_event(
        account("x").replace("Microsoft.CognitiveServices/accounts", "Microsoft.Storage/storageAccounts"),
        "Microsoft.Storage/storageAccounts/write")))

    print("Table Storage round trips per event (one worker, tables already created)")
    print(f"  {'event':32} {'table':>5} {'ARM':>4}  outcome")
    for name, event in cases:
        before, arm_before = worker.table_requests.count, worker.arm.calls
        record = worker.engine.handle(triage(event))
        print(f"  {name:32} {worker.table_requests.count - before:>5} {worker.arm.calls - arm_before:>4}  "
              f"{record.outcome.value}")
    print("  (hot path of a relevant event: lease insert + pending-revert read + one transaction holding the event\n"
          "   record, its action records and the lease completion; a revert adds one revert-history write)")


def throughput(emu: ArmEmulator, connection_string: str | None, workers_count: int, deliveries: int,
               seed: int) -> tuple[float, float, int]:
    rng = random.Random(seed)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    names = [f"tp{seed}-{i:03d}" for i in range(120)]
    for index, name in enumerate(names):
        body = drifted_account(account(name), publicNetworkAccess="Enabled" if index % 6 == 0 else "Disabled")
        emu.put_resource(account(name), body)
    unique = int(deliveries * 0.7)
    originals = [arm_event(account(rng.choice(names)), WRITE) for _ in range(unique)]
    items = originals + [copy.deepcopy(rng.choice(originals)) for _ in range(deliveries - unique)]
    rng.shuffle(items)
    work: queue.Queue = queue.Queue()
    for item in items:
        work.put(item)
    workers = [make_worker(emu, connection_string, prefix) for _ in range(workers_count)]
    workers[0].engine.handle(triage(arm_event(account(names[1]), WRITE)))  # table creation outside the timing
    table_before = sum(w.table_requests.count for w in workers)
    handled = [0]
    lock = threading.Lock()

    def run(worker: Worker) -> None:
        while True:
            try:
                event = work.get_nowait()
            except queue.Empty:
                return
            try:
                worker.engine.handle(triage(event))
            except EventBusy:
                work.put(event)
                time.sleep(0.001)
                continue
            with lock:
                handled[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    table = sum(w.table_requests.count for w in workers) - table_before
    for worker in workers:
        worker.arm.close()
    return handled[0] / elapsed, elapsed, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with Azurite() as azurite, ArmEmulator() as emu:
        round_trips(emu, azurite.connection_string)
        print()
        print(f"End to end, {args.deliveries} deliveries (30% duplicates, 1 account in 6 drifted), ARM emulator + "
              f"Azurite on loopback")
        print(f"  {'setup':34} {'events/s':>9} {'seconds':>8} {'table req/delivery':>19}")
        for label, connection, count, seed in (("MemoryState, 1 worker (baseline)", None, 1, 1),
                                               ("TableState + log, 1 worker", azurite.connection_string, 1, 2),
                                               ("TableState + log, 2 workers", azurite.connection_string, 2, 3)):
            rate, elapsed, table = throughput(emu, connection, count, args.deliveries, seed)
            per = f"{table / args.deliveries:.2f}" if connection else "-"
            print(f"  {label:34} {rate:>9.0f} {elapsed:>8.1f} {per:>19}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
