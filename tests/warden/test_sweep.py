"""The reconciliation sweep against the emulator: Resource Graph (paging, 429, quota headers, lag, 1/0 booleans),
ARM listings of the child types Resource Graph lacks, the engine's re-read before any action, and the sweep
racing an event for the same resource."""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from emulator import EmulatorCredential
from tests.support.fixtures import BOT_APPID, BOT_OID, SUBSCRIPTION, drifted_account
from tests.support.samples import arm_event
from warden import cli, sweep_cli
from warden.events import triage
from warden.model import Action, Outcome
from warden.runtime import Runtime
from warden.state import Claim, MemoryState
from warden.sweep import (ARM_LISTED_TYPES, ResourceGraph, Sweeper, SweepOptions, arm_shape, graph_query,
                          sweep_event_id)

ACCOUNTS = "Microsoft.CognitiveServices/accounts"
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
COMPUTES = f"{WORKSPACES}/computes"
DATASTORES = f"{WORKSPACES}/datastores"
GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"


def account_id(name: str, group: str = "rg-ai") -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{ACCOUNTS}/{name}"


def compliant_account(resource_id: str) -> dict:
    return drifted_account(resource_id, publicNetworkAccess="Disabled")


def public_account(resource_id: str) -> dict:
    """Public network access Enabled with an Approved private endpoint: the default mode reverts it."""
    return drifted_account(resource_id, publicNetworkAccess="Enabled")


class Tickets:
    def __init__(self):
        self.opened = []

    def open(self, ticket):
        self.opened.append(ticket)
        return f"T-{len(self.opened)}"

    def resolve(self, resource_id, check_ids, note):
        pass


@pytest.fixture
def graph(emu):
    clients = []

    def build(harness):
        client = ResourceGraph(EmulatorCredential(oid=BOT_OID, appid=BOT_APPID), harness.config.arm,
                               connection_verify=emu.ca_pem_path)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def sweeper(make_harness, graph):
    """`sweeper(config=..., state=...)` -> (Sweeper, Harness) wired to the emulator with the real clients."""

    def build(config=None, state=None, **kwargs):
        raw = {"scope": {"subscriptions": [SUBSCRIPTION]}, **(config or {})}
        raw["arm"] = {"retry_after_cap_seconds": 0.05, **raw.get("arm", {})}
        harness = make_harness(raw, tickets=Tickets(), state=state)
        return Sweeper(harness.engine, graph(harness), **kwargs), harness

    return build


def graph_posts(emu):
    return [r for r in emu.requests if r.method == "POST" and r.path.lower() == GRAPH_PATH.lower()]


def arm_requests(emu, method=None):
    return [r for r in emu.requests if r.path.lower() != GRAPH_PATH.lower() and (method is None or r.method == method)]


# -- enumeration -------------------------------------------------------------------------------------

def test_pages_through_every_resource_graph_page_with_skip_tokens(emu, sweeper):
    ids = [account_id(f"acct-{i:02d}") for i in range(23)]
    for resource_id in ids:
        emu.put_resource(resource_id, compliant_account(resource_id))
    run, harness = sweeper()

    summary = run.run(SweepOptions(page_size=5))

    posts = graph_posts(emu)
    assert len(posts) == 5 and summary.graph_pages == 5 and summary.graph_rows == 23
    assert "$skipToken" not in posts[0].body["options"]
    assert all(p.body["options"].get("$skipToken") for p in posts[1:])
    assert all(p.body["options"]["$top"] == 5 for p in posts)
    assert {r.resource_id.lower() for r in harness.recorder.events} == {i.lower() for i in ids}
    assert summary.resources == 23 and summary.outcomes == {"compliant": 23}
    assert arm_requests(emu) == []  # clean rows are cleared without a single ARM call


def test_only_a_drifted_resource_is_re_read_through_arm_before_the_revert(emu, sweeper):
    clean = [account_id(f"clean-{i}") for i in range(4)]
    for resource_id in clean:
        emu.put_resource(resource_id, compliant_account(resource_id))
    drifted = account_id("public-1")
    etag = emu.put_resource(drifted, public_account(drifted))["etag"]
    run, harness = sweeper()

    summary = run.run()

    calls = [(r.method, r.path.lower()) for r in arm_requests(emu)]
    assert calls == [("GET", drifted.lower()), ("PATCH", drifted.lower())]  # the re-read comes first
    patch = arm_requests(emu, "PATCH")[0]
    assert patch.headers.get("If-Match") == etag and patch.body == {"properties": {"publicNetworkAccess": "Disabled"}}
    record = next(r for r in harness.recorder.events if r.resource_id.lower() == drifted.lower())
    assert record.outcome is Outcome.REVERTED and record.source == "sweep"
    assert all(a.source == "sweep" for a in record.actions)
    assert summary.outcomes == {"compliant": 4, "reverted": 1}
    assert summary.checks == {"cogsvc-public-network": {"reverted": 1}}
    assert summary.arm_calls == 2


def test_resource_graph_429_is_retried_then_the_sweep_completes(emu, sweeper):
    for i in range(7):
        emu.put_resource(account_id(f"acct-{i}"), compliant_account(account_id(f"acct-{i}")))
    fault = emu.inject_fault(method="POST", path_contains="ResourceGraph", status=429, headers={"Retry-After": "1"},
                             times=1)
    run, _ = sweeper()

    summary = run.run(SweepOptions(page_size=5))

    assert fault.hits == 1
    assert [p.status for p in graph_posts(emu)] == [429, 200, 200]
    assert summary.complete and summary.resources == 7
    assert summary.graph_pages == 2 and summary.graph_requests == 3


def test_resource_graph_failing_after_the_retries_leaves_an_incomplete_summary(emu, sweeper):
    emu.put_resource(account_id("acct-1"), compliant_account(account_id("acct-1")))
    emu.inject_fault(method="POST", path_contains="ResourceGraph", status=429, headers={"Retry-After": "1"}, times=None)
    run, harness = sweeper({"arm": {"max_retries": 1}})

    summary = run.run()

    assert not summary.complete and "429" in summary.error
    assert summary.needs_attention and harness.recorder.events == []


def test_pauses_when_the_resource_graph_quota_is_spent_instead_of_running_into_429(emu, sweeper):
    for i in range(12):
        emu.put_resource(account_id(f"acct-{i:02d}"), compliant_account(account_id(f"acct-{i:02d}")))
    emu.graph.quota_per_window = 2
    emu.graph.window_seconds = 0.4
    emu.graph.enforce_quota = True
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        time.sleep(seconds)

    run, _ = sweeper({"arm": {"max_retries": 0}}, sleep=sleep, quota_pause_cap=0.45)
    summary = run.run(SweepOptions(page_size=3))

    assert summary.complete, summary.error
    assert summary.graph_pages == 4 and summary.resources == 12
    assert summary.quota_pauses >= 1 and pauses and all(0 < p <= 0.45 for p in pauses)
    assert all(p.status == 200 for p in graph_posts(emu))


def test_without_the_quota_pause_the_same_sweep_hits_429(emu, sweeper):
    """The counterpart of the test above: it shows the pause is what keeps the sweep under the quota."""
    for i in range(12):
        emu.put_resource(account_id(f"acct-{i:02d}"), compliant_account(account_id(f"acct-{i:02d}")))
    emu.graph.quota_per_window = 2
    emu.graph.window_seconds = 5
    emu.graph.enforce_quota = True
    run, _ = sweeper({"arm": {"max_retries": 0}}, sleep=lambda s: None, quota_pause_cap=0)

    summary = run.run(SweepOptions(page_size=3))

    assert not summary.complete and "429" in summary.error


# -- Resource Graph lags ARM: ARM decides -------------------------------------------------------------

def test_resource_deleted_between_the_graph_row_and_the_arm_read_is_recorded_gone_without_a_write(emu, sweeper):
    drifted = account_id("public-gone")
    emu.put_resource(drifted, public_account(drifted))
    emu.freeze_graph()  # Resource Graph still lists it after ARM deleted it
    emu.delete_resource(drifted)
    run, harness = sweeper()

    summary = run.run()

    (record,) = harness.recorder.events
    assert record.outcome is Outcome.GONE and record.source == "sweep"
    assert [(r.method, r.status) for r in arm_requests(emu)] == [("GET", 404)]
    assert summary.outcomes == {"gone": 1}


def test_graph_says_drifted_but_arm_says_fixed_ends_compliant_without_a_write(emu, sweeper):
    resource_id = account_id("fixed-meanwhile")
    emu.put_resource(resource_id, public_account(resource_id))
    emu.freeze_graph()
    emu.put_resource(resource_id, compliant_account(resource_id))  # fixed in ARM; the graph has not caught up
    run, harness = sweeper()

    summary = run.run()

    (record,) = harness.recorder.events
    assert record.outcome is Outcome.COMPLIANT
    assert [r.method for r in arm_requests(emu)] == ["GET"]
    assert summary.drifted == 0 and summary.outcomes == {"compliant": 1}


def test_int_booleans_in_graph_rows_are_read_as_booleans(emu, sweeper, graph):
    clean = account_id("flags-clean")
    emu.put_resource(clean, compliant_account(clean))  # disableLocalAuth true -> 1 in the row
    keyed = account_id("flags-keyed")
    emu.put_resource(keyed, drifted_account(keyed, publicNetworkAccess="Disabled", disableLocalAuth=False))  # -> 0
    emu.graph_int_booleans = True
    run, harness = sweeper()
    rows = graph(harness).page(graph_query([ACCOUNTS]), [SUBSCRIPTION], 10, None).rows
    assert sorted(r["properties"]["disableLocalAuth"] for r in rows) == [0, 1]  # the rows really carry 1/0
    assert {r["type"] for r in rows} == {ACCOUNTS.lower()}
    emu.clear_requests()

    summary = run.run()

    by_id = {r.resource_id.lower(): r for r in harness.recorder.events}
    assert by_id[clean.lower()].outcome is Outcome.COMPLIANT
    assert by_id[keyed.lower()].outcome is Outcome.TICKETED
    assert [a.check_id for a in by_id[keyed.lower()].actions] == ["cogsvc-local-auth"]
    assert all(r.resource_type == ACCOUNTS for r in harness.recorder.events)  # proper-cased from the registry
    assert [(r.method, r.path.lower()) for r in arm_requests(emu)] == [("GET", keyed.lower())]
    assert summary.checks == {"cogsvc-local-auth": {"ticketed": 1}}


def test_arm_shape_keeps_properties_and_takes_the_registry_type():
    import remediators

    kind = remediators.kind_for("microsoft.cognitiveservices/accounts")
    row = {"id": account_id("x").replace("resourceGroups", "resourcegroups"), "name": "x",
           "type": "microsoft.cognitiveservices/accounts", "tenantId": "t", "resourceGroup": "rg-ai",
           "subscriptionId": SUBSCRIPTION, "kind": "OpenAI", "location": "eastus", "sku": {"name": "S0"},
           "identity": None, "tags": {"a": "b"}, "managedBy": "", "properties": {"disableLocalAuth": 1}}
    body = arm_shape(row, kind)
    assert body["type"] == ACCOUNTS and body["properties"] == {"disableLocalAuth": 1}
    assert body["id"].split("/")[3] == "resourceGroups"  # canonical id form
    assert "tenantId" not in body and "identity" not in body and "managedBy" not in body
    assert body["kind"] == "OpenAI" and body["tags"] == {"a": "b"}


def test_a_row_repeated_across_pages_is_handled_once(make_harness):
    """Resource Graph pages are not a snapshot: a resource can shift into the next page while the sweep reads."""
    from warden.sweep import GraphPage

    first, second = account_id("dup-1"), account_id("dup-2")
    rows = [{"id": i, "name": i.rsplit("/", 1)[1], "type": ACCOUNTS.lower(), "properties": compliant_account(i)["properties"],
             "identity": {"type": "SystemAssigned"}} for i in (first, second)]

    class ShiftingGraph:
        def page(self, query, subscriptions, top, skip_token):
            if skip_token is None:
                return GraphPage(rows[:1], "next", 2, 10, 5.0)
            return GraphPage([rows[0], rows[1]], None, 2, 9, 5.0)

    harness = make_harness({"scope": {"subscriptions": [SUBSCRIPTION]}}, tickets=Tickets())
    summary = Sweeper(harness.engine, ShiftingGraph()).run()

    assert sorted(r.resource_id for r in harness.recorder.events) == sorted([first, second])
    assert summary.resources == 2 and summary.graph_rows == 3


# -- child types Resource Graph does not hold ---------------------------------------------------------

def test_child_types_resource_graph_lacks_are_listed_through_arm_under_each_workspace(emu, sweeper):
    emu.page_size = 2  # child listings follow nextLink
    summary_estate = emu.generate_estate(60, drift_rate=0.0, subscription_id=SUBSCRIPTION, seed=7)
    ids = summary_estate["drifted_ids"]
    assert ids == {}
    computes = [r["id"] for r in emu.list_resources(COMPUTES)]
    datastores = [r["id"] for r in emu.list_resources(DATASTORES)]
    workspaces = [r["id"] for r in emu.list_resources(WORKSPACES)]
    assert computes and datastores
    target = datastores[0]
    body = emu.get_resource(target)
    body["properties"]["credentials"] = {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey"}}
    emu.put_resource(target, body)
    run, harness = sweeper()

    summary = run.run()

    query = graph_posts(emu)[0].body["query"].lower()
    assert "/computes" not in query and "/datastores" not in query and "workspaces'" in query
    listings = [r.path.lower() for r in arm_requests(emu, "GET") if r.path.lower().endswith(("/computes", "/datastores"))]
    assert sorted(set(listings)) == sorted({f"{w}/{c}".lower() for w in workspaces for c in ("computes", "datastores")})
    seen = {r.resource_id.lower() for r in harness.recorder.events}
    assert {c.lower() for c in computes + datastores} <= seen
    assert summary.by_type[COMPUTES] == len(computes) and summary.by_type[DATASTORES] == len(datastores)
    assert summary.resources == summary_estate["total"]
    (drifted,) = [r for r in harness.recorder.events if r.outcome is not Outcome.COMPLIANT]
    assert drifted.resource_id.lower() == target.lower() and drifted.outcome is Outcome.TICKETED
    # The listing is ARM's state, but only a GET right before acting may convict: one re-read, for the drifted one.
    single_gets = [r.path.lower() for r in arm_requests(emu, "GET") if not r.path.lower().endswith(("/computes", "/datastores"))]
    assert single_gets == [target.lower()]
    assert {t for t in ARM_LISTED_TYPES} == {COMPUTES.lower(), DATASTORES.lower()}


def test_type_filter_sweeps_only_the_named_types_and_still_finds_their_workspaces(emu, sweeper):
    emu.generate_estate(40, drift_rate=0.0, subscription_id=SUBSCRIPTION, seed=3)
    computes = emu.list_resources(COMPUTES)
    run, harness = sweeper()

    summary = run.run(SweepOptions(types=("microsoft.machinelearningservices/workspaces/COMPUTES",)))

    assert {r.resource_type for r in harness.recorder.events} == {COMPUTES}
    assert summary.resources == len(computes) and summary.types == [COMPUTES]
    assert not any(r.path.lower().endswith("/datastores") for r in emu.requests)


# -- same decision path and records as events ---------------------------------------------------------

def test_event_ids_are_unique_per_run_and_resource(emu, sweeper):
    first_id, second_id = account_id("a-1"), account_id("a-2")
    for resource_id in (first_id, second_id):
        emu.put_resource(resource_id, compliant_account(resource_id))
    run, harness = sweeper()

    first = run.run()
    second = run.run()

    ids = [r.event_id for r in harness.recorder.events]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert first.run_id != second.run_id
    assert all(i.startswith(f"sweep:{first.run_id}:") for i in ids[:2])
    assert sweep_event_id(first.run_id, first_id) == sweep_event_id(first.run_id, first_id.lower())
    assert "a-1" not in sweep_event_id(first.run_id, first_id)  # hashed: no resource name in the key
    assert all(r.outcome is Outcome.COMPLIANT for r in harness.recorder.events)  # never "duplicate delivery"
    assert {r.correlation_id for r in harness.recorder.events} == {first.run_id, second.run_id}


def test_dry_run_records_what_it_would_do_and_writes_nothing(emu, sweeper):
    resource_id = account_id("public-dry")
    emu.put_resource(resource_id, public_account(resource_id))
    run, harness = sweeper()

    summary = run.run(SweepOptions(dry_run=True))

    assert arm_requests(emu, "PATCH") == []
    (record,) = harness.recorder.events
    assert record.outcome is Outcome.DRY_RUN and record.actions[0].action is Action.WOULD_REVERT
    assert summary.dry_run and summary.checks == {"cogsvc-public-network": {"would-revert": 1}}
    assert not harness.engine.config.dry_run  # the engine passed in is left as it was


def test_summary_is_returned_and_logged_once_as_a_structured_record(emu, sweeper, caplog):
    clean, public = account_id("s-clean"), account_id("s-public")
    emu.put_resource(clean, compliant_account(clean))
    emu.put_resource(public, drifted_account(public, publicNetworkAccess="Enabled", disableLocalAuth=False))
    run, _ = sweeper()

    with caplog.at_level(logging.INFO, logger="driftwarden.sweep"):
        summary = run.run()

    logged = [r for r in caplog.records if r.name == "driftwarden.sweep"]
    assert len(logged) == 1
    data = json.loads(logged[0].getMessage())
    assert data["record"] == "sweep" and data["run_id"] == summary.run_id
    assert data["outcomes"] == {"compliant": 1, "reverted": 1}
    assert data["checks"] == {"cogsvc-local-auth": {"ticketed": 1}, "cogsvc-public-network": {"reverted": 1}}
    assert data["resources"] == 2 and data["drifted"] == 1 and data["complete"] is True
    assert "findings" not in data  # each finding is in the remediation log already
    assert summary.findings == [{"resource_id": summary.findings[0]["resource_id"], "type": ACCOUNTS,
                                 "outcome": "reverted", "event_id": summary.findings[0]["event_id"],
                                 "checks": {"cogsvc-public-network": "reverted", "cogsvc-local-auth": "ticketed"}}]
    assert "cogsvc-public-network" in summary.text() and "reverted 1" in summary.text()


def test_out_of_scope_resource_groups_are_not_handled(emu, sweeper):
    inside, outside = account_id("in", group="rg-ai"), account_id("out", group="rg-other")
    emu.put_resource(inside, compliant_account(inside))
    emu.put_resource(outside, public_account(outside))
    run, harness = sweeper({"scope": {"subscriptions": [SUBSCRIPTION], "resource_groups": ["rg-ai"]}})

    summary = run.run()

    assert [r.resource_id.lower() for r in harness.recorder.events] == [inside.lower()]
    assert "resourcegroup in~ ('rg-ai')" in graph_posts(emu)[0].body["query"].lower()
    assert arm_requests(emu) == []


def test_subscription_outside_the_configured_scope_is_refused(emu, sweeper):
    run, _ = sweeper()
    with pytest.raises(ValueError, match="outside the configured scope"):
        run.run(SweepOptions(subscriptions=("99999999-0000-0000-0000-000000000000",)))


# -- concurrency with events --------------------------------------------------------------------------

def race_sweep_against_an_event(emu, sweeper):
    """The event is mid-write (the emulator holds its PATCH in flight for 1 s) when the sweep reaches the same
    resource, from a second worker sharing the state store. Returns (PATCH requests, records, summary)."""
    resource_id = account_id("raced")
    emu.put_resource(resource_id, public_account(resource_id))
    state = MemoryState()
    run, sweep_harness = sweeper(state=state)
    _, event_harness = sweeper(state=state)
    held = emu.inject_fault(method="PATCH", path_contains="/accounts/raced", status=None, delay=1.0, times=1)
    event = triage(arm_event(resource_id, f"{ACCOUNTS}/write"))
    results = {}
    worker = threading.Thread(target=lambda: results.setdefault("event", event_harness.engine.handle(event)))

    worker.start()
    deadline = time.monotonic() + 5
    while held.hits == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert held.hits == 1, "the event's PATCH should be in flight"
    summary = run.run()
    worker.join(10)

    assert emu.get_resource(resource_id)["properties"]["publicNetworkAccess"] == "Disabled"
    return arm_requests(emu, "PATCH"), [results["event"], *sweep_harness.recorder.events], summary


def test_sweep_and_an_event_for_the_same_resource_at_once_act_once(emu, sweeper):
    patches, records, summary = race_sweep_against_an_event(emu, sweeper)

    applied = [p for p in patches if p.status < 300]
    assert len(applied) == 1
    assert all(p.status == 412 for p in patches if p not in applied)  # a loser is refused by If-Match, never applied
    reverted = [a for r in records for a in r.actions if a.action is Action.REVERTED]
    assert len(reverted) == 1
    assert sorted(r.outcome.value for r in records) in (["compliant", "reverted"], ["ignored", "reverted"])
    assert summary.complete


def test_resource_leased_by_an_event_is_skipped_by_the_sweep_and_recorded(emu, sweeper):
    resource_id = account_id("leased")
    emu.put_resource(resource_id, public_account(resource_id))
    state = MemoryState()
    assert state.claim_resource(resource_id, "event-123", datetime.now(timezone.utc)) is Claim.TAKEN
    run, harness = sweeper(state=state)

    summary = run.run()

    assert arm_requests(emu) == []
    (record,) = harness.recorder.events
    assert record.outcome is Outcome.IGNORED and record.source == "sweep" and "handling" in record.reason
    assert summary.skipped_busy == 1
    state.release_resource(resource_id, "event-123")
    assert run.run().outcomes == {"reverted": 1}


def test_memory_state_resource_lease():
    state, now = MemoryState(lease=timedelta(minutes=5)), datetime.now(timezone.utc)
    rid = account_id("lease")
    assert state.claim_resource(rid, "a", now) is Claim.TAKEN
    assert state.claim_resource(rid.upper(), "a", now) is Claim.TAKEN  # re-entrant, case-insensitive
    assert state.claim_resource(rid, "b", now) is Claim.BUSY
    state.release_resource(rid, "b")  # not b's to release
    assert state.claim_resource(rid, "b", now + timedelta(minutes=1)) is Claim.BUSY
    assert state.claim_resource(rid, "b", now + timedelta(minutes=6)) is Claim.TAKEN  # a's lease expired
    state.release_resource(rid, "b")
    assert state.claim_resource(rid, "c", now) is Claim.TAKEN


# -- the query ---------------------------------------------------------------------------------------

def test_graph_query_projects_id_and_quotes_values():
    query = graph_query(["Microsoft.CognitiveServices/accounts"], ["rg'x"])
    assert query.startswith("resources | where type in~ ('microsoft.cognitiveservices/accounts')")
    assert "resourceGroup in~ ('rg\\'x')" in query
    assert "| project id," in query


# -- python -m warden sweep --------------------------------------------------------------------------

@pytest.fixture
def cli_wiring(emu, make_harness, graph, monkeypatch):
    """Point `python -m warden sweep` at the emulator: the runtime and Resource Graph the CLI builds."""
    monkeypatch.setenv("DRIFTWARDEN_CONFIG_JSON", json.dumps({"scope": {"subscriptions": [SUBSCRIPTION]}}))
    harness = make_harness({"scope": {"subscriptions": [SUBSCRIPTION]}}, tickets=Tickets())
    monkeypatch.setattr(sweep_cli, "build_runtime", lambda: Runtime(harness.config, harness.engine))
    monkeypatch.setattr(sweep_cli, "build_graph", lambda config: graph(harness))
    return harness


def test_cli_sweep_prints_the_summary_and_exits_1_when_drift_needs_attention(emu, cli_wiring):
    emu.put_resource(account_id("c-1"), compliant_account(account_id("c-1")))
    keyed = account_id("c-2")
    emu.put_resource(keyed, drifted_account(keyed, publicNetworkAccess="Disabled", disableLocalAuth=False))
    out = io.StringIO()

    code = cli.main(["sweep", "--format", "json"], out)

    assert code == 1
    data = json.loads(out.getvalue())
    assert data["outcomes"] == {"compliant": 1, "ticketed": 1}
    assert data["subscriptions"] == [SUBSCRIPTION]
    assert data["findings"][0]["checks"] == {"cogsvc-local-auth": "ticketed"}


def test_cli_sweep_dry_run_text_exits_0_on_a_clean_estate_and_writes_nothing(emu, cli_wiring):
    emu.put_resource(account_id("c-1"), compliant_account(account_id("c-1")))
    out = io.StringIO()

    code = cli.main(["sweep", "--dry-run", "--subscription", SUBSCRIPTION, "--type", ACCOUNTS], out)

    assert code == 0
    assert "1 resources, 0 drifted" in out.getvalue() and "(dry run)" in out.getvalue()
    assert arm_requests(emu, "PATCH") == []


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--type", "Microsoft.Storage/storageAccounts"], "not covered"),
    (["sweep"], "no subscription"),
])
def test_cli_sweep_refuses_unusable_arguments(argv, message, monkeypatch, capsys):
    monkeypatch.delenv("DRIFTWARDEN_CONFIG_JSON", raising=False)
    monkeypatch.delenv("DRIFTWARDEN_CONFIG", raising=False)
    assert cli.main(argv, io.StringIO()) == 2
    assert message in capsys.readouterr().err


def test_progress_line_only_on_a_terminal(emu, cli_wiring, monkeypatch, capsys):
    emu.put_resource(account_id("c-1"), compliant_account(account_id("c-1")))

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    args = _parse(["sweep"])
    assert sweep_cli.run(args, io.StringIO(), err=pipe) == 0
    assert pipe.getvalue() == ""
    assert sweep_cli.run(args, io.StringIO(), err=tty) == 0
    assert "\rsweep [" in tty.getvalue() and "1/1 resources" in tty.getvalue()


def _parse(argv):
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    sweep_cli.add_parser(sub)
    return parser.parse_args(argv)
