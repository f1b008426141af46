"""Decision rate on one core: triage + checks + exemptions + decide over in-memory resources (no I/O).

Builds a few thousand realistic Event Grid deliveries (ARM subscription events in the Event Grid schema and in
CloudEvents 1.0, Resource Notifications events carrying the body, key retrievals, deletes, uncovered types,
out-of-scope subscriptions, failed operations, malformed events, the bot's own echoes) over a generated estate of
AI resources of every covered kind (some drifted, some exempt, some with refused exemptions), then times the
engine's pure path with the public pieces:

    warden.events.triage(event, scope)
      -> remediators.kind_for(type).checks -> check.evaluate(resource, ctx)   (modes off skipped, n/a dropped)
      -> warden.exemptions.read(resource, now, max_days)
      -> config.is_self(...)      (echo: no decision)
      -> warden.policy.decide(check, evaluation, mode, exemption, guard, flap, dry_run) for each failing check

The resource body comes from a dict (the engine would GET it from ARM, or take a Resource Notifications payload);
the flap state is "no revert in the window" (the engine reads it from the state store). Everything else is the
code the engine runs.

    .venv/bin/python bench/bench_decisions.py [--events 5000] [--runs 5] [--profile]

Prints figures only; it never asserts timing.
"""
from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import remediators  # noqa: E402
from emulator.estate import build_estate  # noqa: E402
from emulator.samples import load_sample, samples_dir  # noqa: E402
from remediators.base import CheckContext, Mode, OperationRole  # noqa: E402
from warden import exemptions  # noqa: E402
from warden.config import from_mapping  # noqa: E402
from warden.events import triage  # noqa: E402
from warden.model import ChangeKind, Verdict  # noqa: E402
from warden.policy import Decision, FlapState, decide  # noqa: E402

GOAL_EVENTS_PER_S = 30_000
CUSTODIAN_HANDLER_RATE = 2_900  # Cloud Custodian's Azure handler, events/s (figure given by the design work)

SUB = "00000000-0000-4000-8000-00000000e57a"  # the estate generator's default subscription
OTHER_SUB = "99999999-0000-4000-8000-000000000099"  # outside the configured scope
BOT_OID = "0b07c0de-0000-4000-8000-00000000b071"
BOT_APPID = "0b07c0de-0000-4000-8000-0000000a99a1"
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
SERVERLESS = f"{WORKSPACES}/serverlessEndpoints"
REGISTRIES = "Microsoft.MachineLearningServices/registries"

PEOPLE = [("alice@contoso.com", "a11ce000-0000-4000-8000-000000000001", "04b07795-8ddb-461a-bbee-02f9e1bf7b46"),
          ("deploy-pipeline", "c1c1c1c1-0000-4000-8000-000000000002", "c1c1c1c1-0000-4000-8000-0000000000a2"),
          ("bob@contoso.com", "b0b00000-0000-4000-8000-000000000003", "04b07795-8ddb-461a-bbee-02f9e1bf7b46")]

# Share of each event class in the generated traffic (weights, normalised).
MIX = {
    "write (Event Grid schema)": 44,
    "write (CloudEvents)": 8,
    "Resource Notifications upsert": 7,
    "key retrieval action": 8,
    "child write (private endpoint connection)": 3,
    "delete": 2,
    "echo of the bot's write": 5,
    "ignored: uncovered type": 8,
    "ignored: deployment / failed / other type": 5,
    "ignored: out of scope": 3,
    "invalid": 7,
}


# --- the estate ---------------------------------------------------------------------------------

def _sample_file(prefix: str) -> str:
    return next(p.name for p in sorted((samples_dir() / "arm").glob(f"{prefix}*.json")))


def build_resources(n: int, rng: random.Random) -> dict[str, dict[str, Any]]:
    """Resource bodies by lower-cased id: the estate generator's five kinds plus serverless endpoints and
    registries, ~25% drifted; some carry honoured, expired or incomplete exemption tags."""
    estate, _ = build_estate(n, drift_rate=0.25, subscription_id=SUB, seed=7)
    resources = {rid: body for rid, body in estate}
    workspaces = [rid for rid, body in estate if body["type"] == WORKSPACES]
    serverless = load_sample(_sample_file("ml-serverless-endpoint-get"))
    for index in range(max(4, n // 25)):
        parent = rng.choice(workspaces)
        rid = f"{parent}/serverlessEndpoints/se-{index:04d}"
        body = copy.deepcopy(serverless)
        body.update(id=rid, name=rid.rsplit("/", 1)[1], type=SERVERLESS, location="eastus", tags={"env": "prod"})
        body["identity"] = {"type": "SystemAssigned"}
        body["properties"]["authMode"] = rng.choice(("Key", "AAD", "AAD", "AAD"))
        resources[rid] = body
    for index in range(max(2, n // 50)):
        rid = f"/subscriptions/{SUB}/resourceGroups/rg-ai-00/providers/{REGISTRIES}/reg-{index:03d}"
        resources[rid] = {
            "id": rid, "name": rid.rsplit("/", 1)[1], "type": REGISTRIES, "location": "eastus",
            "identity": {"type": "SystemAssigned"}, "tags": {"env": "prod"},
            "properties": {"publicNetworkAccess": rng.choice(("Disabled", "Disabled", "Enabled")),
                           "registryPrivateEndpointConnections": [{
                               "id": f"{rid}/privateEndpointConnections/pe-1",
                               "properties": {"registryPrivateLinkServiceConnectionState": {"status": "Approved"}}}]},
        }
    soon, past = (date.today() + timedelta(days=20)).isoformat(), (date.today() - timedelta(days=2)).isoformat()
    for rid, body in resources.items():
        roll = rng.random()
        tags = body.setdefault("tags", {})
        if roll < 0.06:
            tags.update({"warden-exempt": "*", "warden-exempt-until": soon,
                         "warden-exempt-reason": "vendor load test (SEC-1234)"})
        elif roll < 0.09:
            tags.update({"Warden-Exempt": "cogsvc-public-network, aml-ws-public-network",
                         "warden-exempt-until": past, "warden-exempt-reason": "migration window"})
        elif roll < 0.11:
            tags.update({"warden-exempt": "*", "warden-exempt-until": soon})  # no reason: refused
    return {rid.lower(): body for rid, body in resources.items()}


# --- the traffic --------------------------------------------------------------------------------

def _load_event(name: str) -> dict[str, Any]:
    document = json.loads((samples_dir() / "eventgrid" / name).read_text(encoding="utf-8"))
    return document[0] if isinstance(document, list) else document


class EventFactory:
    """Realistic events built from the published samples, re-pointed at the estate."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.egschema = _load_event("egschema-resource-write-success.json")
        self.cloudevent = _load_event("cloudevents-resource-write-success.json")
        self.arn = _load_event("arn-cloudevents-resources-created-or-updated.json")
        self.validation = _load_event("egschema-subscription-validation-event.json")

    def _stamp(self) -> str:
        moment = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc) + timedelta(seconds=self.rng.randrange(86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.rng.randrange(10**7):07d}Z"

    def _claims(self, claims: dict[str, Any], who: tuple[str, str, str]) -> None:
        name, oid, appid = who
        claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] = oid
        claims["appid"] = appid
        claims["name"] = name
        claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = name
        claims["ipaddr"] = f"203.0.113.{self.rng.randrange(1, 255)}"

    def arm(self, resource_id: str, operation: str, *, cloudevents: bool = False, who=None,
            event_type: str = "Microsoft.Resources.ResourceWriteSuccess", status: str = "Succeeded") -> dict[str, Any]:
        event = copy.deepcopy(self.cloudevent if cloudevents else self.egschema)
        subscription = resource_id.split("/")[2]
        event.update(id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), subject=resource_id)
        if cloudevents:
            event.update(type=event_type, time=self._stamp(), source=f"/subscriptions/{subscription}",
                         specversion="1.0")
            event.pop("topic", None)
        else:
            event.update(eventType=event_type, eventTime=self._stamp(), topic=f"/subscriptions/{subscription}")
        data = event["data"]
        data.update(resourceUri=resource_id, operationName=operation, subscriptionId=subscription, status=status,
                    resourceProvider=operation.split("/")[0], correlationId=str(uuid.uuid4()))
        data["authorization"].update(action=operation, scope=resource_id)
        self._claims(data["claims"], who or self.rng.choice(PEOPLE))
        return event

    def arn_upsert(self, body: dict[str, Any]) -> dict[str, Any]:
        event = copy.deepcopy(self.arn)
        subscription = body["id"].split("/")[2]
        event.update(id=str(uuid.uuid4()), subject=body["id"], source=f"/subscriptions/{subscription}",
                     time=self._stamp())
        info = {k: copy.deepcopy(body[k]) for k in ("id", "name", "type", "location", "tags", "properties")
                if k in body}
        event["data"]["resourceInfo"] = info
        event["data"]["operationalInfo"] = {"resourceEventTime": event["time"]}
        return event


def build_traffic(resources: dict[str, dict[str, Any]], count: int, seed: int = 11) -> tuple[list[Any], Counter]:
    rng = random.Random(seed)
    make = EventFactory(rng)
    bodies = list(resources.values())
    classes = list(MIX)
    weights = [MIX[c] for c in classes]
    bot = ("driftwarden", BOT_OID, BOT_APPID)
    events: list[Any] = []
    mix: Counter = Counter()

    def ops(body: dict[str, Any], role: OperationRole) -> list[str]:
        kind = remediators.kind_for(body["type"])
        return [op for op, r in kind.operations.items() if r is role]

    def real_op(body: dict[str, Any], suffix: str) -> str:
        return f"{body['type']}/{suffix}"

    for _ in range(count):
        cls = rng.choices(classes, weights)[0]
        body = rng.choice(bodies)
        rid = body["id"]
        if cls == "write (Event Grid schema)":
            event = make.arm(rid, real_op(body, "write"))
        elif cls == "write (CloudEvents)":
            event = make.arm(rid, real_op(body, "write"), cloudevents=True)
        elif cls == "Resource Notifications upsert":
            event = make.arn_upsert(body)
        elif cls == "key retrieval action":
            keys = ops(body, OperationRole.KEY_RETRIEVAL)
            if not keys:  # registries have no key operation: a write instead
                event = make.arm(rid, real_op(body, "write"))
            else:
                operation = rng.choice(keys)
                target = f"{rid}/{operation.rsplit('/', 2)[-2]}"
                event = make.arm(target, operation, event_type="Microsoft.Resources.ResourceActionSuccess")
        elif cls == "child write (private endpoint connection)":
            child = [op for op in ops(body, OperationRole.EVALUATE) if "privateendpointconnections" in op]
            if child:
                event = make.arm(f"{rid}/privateEndpointConnections/pe-{rng.randrange(99)}", rng.choice(child))
            else:
                event = make.arm(rid, real_op(body, "write"))
        elif cls == "delete":
            event = make.arm(rid, real_op(body, "delete"), event_type="Microsoft.Resources.ResourceDeleteSuccess")
        elif cls == "echo of the bot's write":
            event = make.arm(rid, real_op(body, "write"), who=bot)
        elif cls == "ignored: uncovered type":
            provider, kind = rng.choice((("Microsoft.Storage", "storageAccounts"), ("Microsoft.Compute", "virtualMachines"),
                                         ("Microsoft.KeyVault", "vaults"), ("Microsoft.Web", "sites")))
            target = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/{provider}/{kind}/x{rng.randrange(999)}"
            event = make.arm(target, f"{provider}/{kind}/write", cloudevents=rng.random() < 0.2)
        elif cls == "ignored: deployment / failed / other type":
            roll = rng.random()
            if roll < 0.4:
                deployment = f"/subscriptions/{SUB}/resourceGroups/rg-ai-00/providers/Microsoft.Resources/deployments/d{rng.randrange(99)}"
                event = make.arm(deployment, "Microsoft.Resources/deployments/write")
            elif roll < 0.7:
                event = make.arm(rid, real_op(body, "write"), event_type="Microsoft.Resources.ResourceWriteFailure",
                                 status="Failed")
            elif roll < 0.9:
                event = make.arm(rid, real_op(body, "write"), status="Canceled")
            else:
                event = copy.deepcopy(make.validation)
        elif cls == "ignored: out of scope":
            event = make.arm(rid.replace(SUB, OTHER_SUB), real_op(body, "write"))
        else:  # invalid
            event = make.arm(rid, real_op(body, "write"))
            roll = rng.random()
            if roll < 0.25:
                del event["data"]["operationName"]
            elif roll < 0.45:
                del event["eventTime"]
            elif roll < 0.6:
                event["data"]["resourceUri"] = event["subject"] = "not/an/arm/id"
            elif roll < 0.75:
                event = {"id": event["id"], "data": event["data"]}  # neither schema
            elif roll < 0.9:
                event["data"] = "not an object"
            else:
                event = ["not", "an", "event"]
        mix[cls] += 1
        events.append(event)
    return events, mix


# --- the pure path ------------------------------------------------------------------------------

class Pipeline:
    """The engine's pure decision path, assembled from the public pieces."""

    def __init__(self, resources: dict[str, dict[str, Any]]):
        self.config = from_mapping({"self_principal_ids": [BOT_OID, BOT_APPID], "scope": {"subscriptions": [SUB]}})
        self.resources = resources
        self.kind_for = remediators.kind_for

    def read(self, change) -> tuple[dict[str, Any] | None, list]:
        """The body the checks see and their findings. A Resource Notifications payload may clear a resource,
        but only ARM's current state may convict one: when a payload fails a check, the engine GETs the
        resource and evaluates again (here: the stored body)."""
        stored = self.resources.get(change.resource_id.lower())
        if change.payload is None:
            return stored, (self.evaluate(change, stored) if stored is not None else [])
        findings = self.evaluate(change, change.payload)
        if all(e.passed for _, _, e in findings):
            return change.payload, findings
        return stored, (self.evaluate(change, stored) if stored is not None else [])

    def evaluate(self, change, resource):
        config = self.config
        ctx = CheckContext(operation=change.operation, caller=change.caller.display())
        findings = []
        for check in self.kind_for(change.resource_type).checks:
            mode = config.mode(check.id)
            if mode is Mode.OFF:
                continue
            evaluation = check.evaluate(resource, ctx)
            if evaluation.applicable:
                findings.append((check, mode, evaluation))
        return findings

    def plan(self, findings, exemption, resource):
        config = self.config
        plans = []
        for check, mode, evaluation in findings:
            if evaluation.passed:
                continue
            guard = check.fix.guard(resource) if check.fix is not None and check.fix.guard is not None else None
            flap = FlapState(0, config.flap_max_reverts) if mode is Mode.REVERT else None
            plans.append(decide(check, evaluation, mode, exemption, guard, flap, config.dry_run))
        return plans

    def handle(self, event: Any) -> str:
        """One event through the whole pure path; returns its outcome class."""
        config = self.config
        result = triage(event, config.scope)
        change = result.change
        if result.verdict is not Verdict.RELEVANT or change is None:
            return result.verdict.value
        if change.kind is ChangeKind.DELETE:
            return "gone"
        now = datetime.now(timezone.utc)
        resource, findings = self.read(change)
        if resource is None:
            return "gone"
        exemption = exemptions.read(resource, now, config.exemption_max_days)
        if config.is_self(change.caller.object_id, change.caller.app_id):
            return "self-caused"
        plans = self.plan(findings, exemption, resource)
        if not plans:
            return "compliant"
        return max((p.decision for p in plans), key=_DECISION_RANK.__getitem__).value


_DECISION_RANK = {Decision.NONE: 0, Decision.EXEMPT: 1, Decision.REPORT: 2, Decision.TICKET: 3, Decision.REVERT: 4}
_OUTCOME_OF = {"revert": "reverted", "ticket": "ticketed", "report": "reported"}


def agreement_with_engine(pipeline: Pipeline, events: list[Any]) -> tuple[int, Counter]:
    """Run the real Engine.handle on every event (ARM = the in-memory bodies, nothing written back) and count
    the events whose outcome the pure path predicts; the mismatches by (pure path, engine)."""
    from warden.arm import ArmResource, WriteResult
    from warden.engine import Engine
    from warden.records import MemoryRecorder
    from warden.state import MemoryState

    resources = pipeline.resources

    class InMemoryArm:
        calls = 0

        def get(self, resource_id, api_version):
            self.calls += 1
            return ArmResource(copy.deepcopy(resources[resource_id.lower()]), None)

        def patch(self, resource_id, api_version, body, etag):
            self.calls += 1
            current = copy.deepcopy(resources[resource_id.lower()])
            for path, value in _leaves(body):
                node = current
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = value
            return WriteResult(True, current, 200)

        def put(self, resource_id, api_version, body, etag):
            self.calls += 1
            return WriteResult(True, copy.deepcopy(dict(body)), 200)

    class Tickets:
        def open(self, ticket):
            return "bench"

        def resolve(self, resource_id, check_ids, note):
            pass

    agree, mismatches = 0, Counter()
    for event in events:
        predicted = pipeline.handle(event)
        engine = Engine(pipeline.config, InMemoryArm(), MemoryRecorder(), Tickets(), MemoryState())
        actual = engine.handle(triage(event, pipeline.config.scope)).outcome.value
        if _OUTCOME_OF.get(predicted, predicted) == actual:
            agree += 1
        else:
            mismatches[(predicted, actual)] += 1
    return agree, mismatches


def _leaves(body: Any, prefix: tuple[str, ...] = ()):
    for key, value in body.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


# --- measurement --------------------------------------------------------------------------------

def _pin(cpu: int | None) -> str:
    if cpu is None:
        return "single thread, not pinned"
    try:
        os.sched_setaffinity(0, {cpu})
        return f"single thread, pinned to cpu {cpu}"
    except (AttributeError, OSError) as error:
        return f"single thread, not pinned ({error})"


def timed(fn, items, clock=time.perf_counter) -> float:
    started = clock()
    for item in items:
        fn(item)
    return clock() - started


def timed_both(fn, items) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one pass. CPU time is what other load on the machine
    disturbs least: the two differ when something else competes for the core."""
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        fn(item)
    return time.perf_counter() - wall, time.process_time() - cpu


def stages(pipeline: Pipeline, events: list[Any], runs: int) -> list[tuple[str, float, int]]:
    """Each stage timed on its own pass (no timers inside the loop): (stage, median seconds, items)."""
    config = pipeline.config
    triaged = [triage(e, config.scope) for e in events]
    changes = [t.change for t in triaged
               if t.verdict is Verdict.RELEVANT and t.change is not None and t.change.kind is not ChangeKind.DELETE]
    read = [(c, *pipeline.read(c)) for c in changes]
    read = [(c, r, f) for c, r, f in read if r is not None]
    now = datetime.now(timezone.utc)
    bodies = [r for _, r, _ in read]
    to_decide = [(f, exemptions.read(r, now, config.exemption_max_days), r) for c, r, f in read
                 if not config.is_self(c.caller.object_id, c.caller.app_id)]

    def median(fn, items):  # CPU time: the stage split is the least disturbed by other load
        return statistics.median(timed(fn, items, time.process_time) for _ in range(runs))

    return [
        ("triage (all events)", median(lambda e: triage(e, config.scope), events), len(events)),
        ("checks (relevant, with a body)", median(pipeline.read, changes), len(changes)),
        ("exemptions.read", median(lambda r: exemptions.read(r, now, config.exemption_max_days), bodies), len(bodies)),
        ("decide (failing findings)", median(lambda fer: pipeline.plan(*fer), to_decide), len(to_decide)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--resources", type=int, default=800)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pin", type=int, default=None, metavar="CPU", help="pin the process to this cpu")
    parser.add_argument("--profile", action="store_true", help="also print the cProfile hot spots of one run")
    parser.add_argument("--no-engine-check", action="store_true",
                        help="skip the cross-check of the pure path against Engine.handle")
    args = parser.parse_args(argv)

    load = os.getloadavg()
    pinned = _pin(args.pin)
    rng = random.Random(3)
    resources = build_resources(args.resources, rng)
    events, mix = build_traffic(resources, args.events)
    pipeline = Pipeline(resources)
    outcomes = Counter(pipeline.handle(e) for e in events)  # also the warm-up
    sizes = [len(json.dumps(e)) for e in events if isinstance(e, dict)]

    gc.collect()
    passes = [timed_both(pipeline.handle, events) for _ in range(args.runs)]
    durations = [wall for wall, _ in passes]
    median = statistics.median(durations)
    rate = len(events) / median
    cpu_rate = len(events) / statistics.median(cpu for _, cpu in passes)
    breakdown = stages(pipeline, events, args.runs)

    kinds = Counter(body["type"].split("/", 1)[1] for body in resources.values())
    print(f"Driftwarden decision rate: triage + checks + exemptions + decide, in-process, one core ({pinned})")
    print(f"  load average before the run {load[0]:.2f} on {os.cpu_count()} cpus (other work on the machine slows the wall clock)")
    print(f"  python {sys.version.split()[0]}; {len(events)} events (median {statistics.median(sizes):.0f} bytes), "
          f"{len(resources)} resources: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print("  traffic: " + ", ".join(f"{k} {v}" for k, v in mix.items()))
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items(), key=lambda kv: -kv[1])))
    if not args.no_engine_check:
        agree, mismatches = agreement_with_engine(pipeline, events)
        print(f"  same outcome as Engine.handle (in-memory ARM): {agree}/{len(events)} events"
              + ("" if not mismatches else "; differ: " + ", ".join(f"{a}->{b} {n}" for (a, b), n in mismatches.items())))
    print()
    print(f"  {'runs (wall clock)':<34} " + "  ".join(f"{len(events) / d:,.0f}" for d in durations) + "  events/s")
    print(f"  {'median (wall clock)':<34} {rate:,.0f} events/s  ({median / len(events) * 1e6:.1f} us/event)")
    print(f"  {'median (process CPU time)':<34} {cpu_rate:,.0f} events/s  ({1e6 / cpu_rate:.1f} us/event)")
    print(f"  {'goal':<34} >= {GOAL_EVENTS_PER_S:,} events/s and >= 10x Custodian's {CUSTODIAN_HANDLER_RATE:,}/s: "
          f"{rate / CUSTODIAN_HANDLER_RATE:.1f}x -> {'met' if rate >= GOAL_EVENTS_PER_S else 'NOT met'}")
    print()
    total = sum(seconds for _, seconds, _ in breakdown)
    print(f"  {'stage (CPU time, median)':<34} {'items':>6} {'us/item':>8} {'us/event':>9} {'share':>6}")
    for name, seconds, items in breakdown:
        per_item = seconds / items * 1e6 if items else 0.0
        print(f"  {name:<34} {items:>6} {per_item:>8.2f} {seconds / len(events) * 1e6:>9.2f} {seconds / total:>6.0%}")
    print(f"  {'sum of stages':<34} {'':>6} {'':>8} {total / len(events) * 1e6:>9.2f}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        timed(pipeline.handle, events)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print("\ncProfile, one run, by own time:")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
