"""ARM calls per event, by event class, counted where ARM would see them.

Starts the ARM emulator (HTTPS on 127.0.0.1), wires an Engine to it the way tests/support/fixtures.py does
(the real ArmClient with the emulator's credential and CA, MemoryRecorder, MemoryState), seeds Cognitive
Services accounts, and hands the engine one event of each class. For each event it prints the requests the
emulator received (`emu.requests`), the engine's own count (`EventRecord.arm_calls`) and the outcome.

Expected: irrelevant 0, compliant 1 GET, revert GET + PATCH (polls only when ARM answers 202), compliant
Resource Notifications event 0 (its payload clears the resource), echo 1 GET.

    .venv/bin/python bench/bench_arm_calls.py

Prints figures only; it never asserts anything about them.
"""
from __future__ import annotations

import copy
import json
import logging
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emulator import ArmEmulator, EmulatorCredential  # noqa: E402
from emulator.samples import load_sample, samples_dir  # noqa: E402
from tests.support.fixtures import BOT_APPID, BOT_OID, SUBSCRIPTION, drifted_account  # noqa: E402
from tests.support.samples import arm_event  # noqa: E402
from warden.arm import ArmClient  # noqa: E402
from warden.config import from_mapping  # noqa: E402
from warden.engine import Engine  # noqa: E402
from warden.events import triage  # noqa: E402
from warden.records import MemoryRecorder  # noqa: E402
from warden.state import MemoryState  # noqa: E402

ACCOUNTS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts"
TYPE = "Microsoft.CognitiveServices/accounts"
WRITE = f"{TYPE}/write"
LIST_KEYS = f"{TYPE}/listKeys/action"
LRO_WAIT_SECONDS = 0.5  # the handler's bound on waiting for a 202 (production default: 5 s)


class Tickets:
    """Tickets kept in memory: a ticket is not an ARM call, so the count is unaffected by where it goes."""

    def __init__(self) -> None:
        self.opened: list[Any] = []

    def open(self, ticket) -> str:
        self.opened.append(ticket)
        return f"mem:{len(self.opened)}"

    def resolve(self, resource_id, check_ids, note) -> None:
        pass


EXPECTED_CALLS = {"0": 0, "1 GET": 1, "GET + PATCH": 2}  # the variable ones (polls) are not compared


@dataclass
class Row:
    label: str
    expected: str
    requests: list[tuple[str, str, int]]  # (method, what, status)
    engine_calls: int
    outcome: str
    ms: float


def _what(path: str, query: dict[str, str]) -> str:
    if "/operationStatuses/" in path or "/operationResults/" in path:
        return "poll"
    return "resource" if not path.rstrip("/").endswith(("listKeys", "regenerateKey")) else "action"


def _sample_event(name: str) -> dict[str, Any]:
    document = json.loads((samples_dir() / "eventgrid" / name).read_text(encoding="utf-8"))
    return document[0] if isinstance(document, list) else document


ARN_FIELDS = ("id", "name", "type", "location", "tags", "properties")  # data.resourceInfo in the published sample


def _arn_event(body: dict[str, Any], fields: tuple[str, ...] = ARN_FIELDS) -> dict[str, Any]:
    """A Resource Notifications CreatedOrUpdated event (the published sample) carrying this resource's body,
    cut to the fields the published `resourceInfo` has (no `identity`, `sku`, `kind`)."""
    event = _sample_event("arn-cloudevents-resources-created-or-updated.json")
    event.update(id=str(uuid.uuid4()), subject=body["id"], source=f"/subscriptions/{SUBSCRIPTION}")
    event["data"]["resourceInfo"] = {k: copy.deepcopy(body[k]) for k in fields if k in body}
    return event


def _online_endpoint(resource_id: str) -> dict[str, Any]:
    """The published online endpoint GET, made compliant (Entra ID tokens, no public access)."""
    body = load_sample("ml-online-endpoint-get.spec-example-2025-12-01.json")
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"].update(authMode="AADToken", publicNetworkAccess="Disabled", provisioningState="Succeeded")
    return body


def _deployment_event() -> dict[str, Any]:
    deployment = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.Resources/deployments/main-1"
    return arm_event(deployment, "Microsoft.Resources/deployments/write")


def run() -> list[Row]:
    rows: list[Row] = []
    with ArmEmulator() as emu:
        raw = {"self_principal_ids": [BOT_OID, BOT_APPID],
               "arm": {"endpoint": emu.base_url, "lro_wait_seconds": LRO_WAIT_SECONDS, "backoff_factor": 0.01}}
        config = from_mapping(raw)
        arm = ArmClient(EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden"), config.arm,
                        connection_verify=emu.ca_pem_path)
        tickets = Tickets()
        engine = Engine(config, arm, MemoryRecorder(), tickets, MemoryState())

        names = ("compliant", "drifted-sync", "drifted-async", "drifted-pending", "no-pe", "arn-drifted")
        ids = {name: f"{ACCOUNTS}/oai-{name}" for name in names}
        for name, rid in ids.items():
            public = "Disabled" if name == "compliant" else "Enabled"
            emu.put_resource(rid, drifted_account(rid, private_endpoint=name != "no-pe", publicNetworkAccess=public))
        endpoint = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.MachineLearningServices/" \
                   "workspaces/mlw-1/onlineEndpoints/scoring"
        emu.put_resource(endpoint, _online_endpoint(endpoint))
        emu.set_lro(ids["drifted-async"], "async")
        emu.set_lro(ids["drifted-pending"], "async")

        def handle(label: str, expected: str, event: Any) -> Any:
            emu.flush_events()
            emu.clear_requests()
            started = time.perf_counter()
            record = engine.handle(triage(event, config.scope))
            elapsed = (time.perf_counter() - started) * 1000
            seen = [(r.method, _what(r.path, r.query), r.status) for r in emu.requests]
            rows.append(Row(label, expected, seen, record.arm_calls, record.outcome.value, elapsed))
            return record

        def last_echo() -> dict[str, Any]:
            emu.flush_events()
            return copy.deepcopy(emu.events[-1])

        people = arm_event(ids["compliant"], WRITE)  # warm the client's TLS connection and token, not counted
        engine.handle(triage(people, config.scope))

        handle("irrelevant: write to an uncovered type (storage)", "0", _sample_event("egschema-resource-write-success.json"))
        handle("irrelevant: template deployment write", "0", _deployment_event())
        handle("invalid: malformed event", "0", {"id": "bad-1", "eventType": "Microsoft.Resources.ResourceWriteSuccess",
                                                 "eventTime": "2026-11-29T10:00:00Z", "data": {"operationName": "x"}})
        duplicate = arm_event(ids["compliant"], WRITE)
        handle("compliant: write", "1 GET", duplicate)
        handle("duplicate delivery of that event", "0", copy.deepcopy(duplicate))
        handle("compliant: listKeys (local auth disabled)", "1 GET",
               arm_event(f"{ids['compliant']}/listKeys", LIST_KEYS, event_type="Microsoft.Resources.ResourceActionSuccess"))
        handle("compliant: Resource Notifications, ML online endpoint", "0", _arn_event(emu.get_resource(endpoint)))
        handle("compliant: Resource Notifications, CS account", "0", _arn_event(emu.get_resource(ids["compliant"])))
        handle("  same, if resourceInfo also carried `identity`", "0",
               _arn_event(emu.get_resource(ids["compliant"]), ARN_FIELDS + ("identity",)))
        handle("drifted: Resource Notifications (payload) -> revert", "GET + PATCH",
               _arn_event(emu.get_resource(ids["arn-drifted"])))
        handle("revert, ARM answers 200 (sync)", "GET + PATCH", arm_event(ids["drifted-sync"], WRITE))
        handle("echo of the bot's revert", "1 GET", last_echo())

        emu.async_polls = 1
        handle("revert, ARM answers 202, done within the wait", "GET + PATCH + polls + GET",
               arm_event(ids["drifted-async"], WRITE))
        handle("echo of that revert", "1 GET", last_echo())

        emu.async_polls = 10_000  # still InProgress when the handler's wait bound runs out
        handle(f"revert, ARM answers 202, still running after {LRO_WAIT_SECONDS:g} s -> pending",
               "GET + PATCH + polls", arm_event(ids["drifted-pending"], WRITE))
        emu.complete_operations()  # ARM finishes the write later; its echo event arrives
        handle("echo confirming the pending revert", "1 GET", last_echo())

        handle("drifted, no private endpoint -> ticket", "1 GET", arm_event(ids["no-pe"], WRITE))
        handle("delete of a covered resource", "0",
               arm_event(ids["no-pe"], f"{TYPE}/delete", event_type="Microsoft.Resources.ResourceDeleteSuccess"))
        arm.close()
    return rows


def _shape(requests: list[tuple[str, str, int]]) -> str:
    parts: list[str] = []
    for method, what, status in requests:
        name = "poll" if what == "poll" else method
        text = f"{name}{'' if status in (200, 201) else f'({status})'}"
        if parts and parts[-1].split(" x")[0] == text and text.startswith("poll"):
            head, _, count = parts[-1].partition(" x")
            parts[-1] = f"{head} x{int(count or 1) + 1}"
        else:
            parts.append(text)
    return " + ".join(parts) or "-"


def main() -> int:
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    rows = run()
    width = max(len(r.label) for r in rows)
    print("Driftwarden: ARM requests per event (counted by the ARM emulator; engine = EventRecord.arm_calls)")
    print()
    print(f"{'event class':<{width}}  {'expected':<26} {'calls':>5} {'engine':>6} {'as expected':>11}  "
          f"{'requests seen by ARM':<34} {'outcome':<12} {'ms':>6}")
    for row in rows:
        wanted = EXPECTED_CALLS.get(row.expected)
        matches = "-" if wanted is None else ("yes" if wanted == len(row.requests) else "NO")
        print(f"{row.label:<{width}}  {row.expected:<26} {len(row.requests):>5} {row.engine_calls:>6} {matches:>11}  "
              f"{_shape(row.requests):<34} {row.outcome:<12} {row.ms:>6.1f}")
    print()
    print("Resource Notifications: the published data.resourceInfo carries id, name, type, location, tags and properties,\n"
          "no `identity`. A check that reads identity (cogsvc-no-managed-identity, the ML workspace identity checks) fails\n"
          "on such a payload, and the engine confirms by GET (a payload may clear a resource; only ARM may convict one).")
    print(f"poll = GET of the Azure-AsyncOperation status URL. Handler wait bound for a 202: {LRO_WAIT_SECONDS:g} s "
          f"(the polls of a still-running write depend on it). Run time {time.perf_counter() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
