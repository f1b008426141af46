"""The engine on Azure Machine Learning resources, end to end through the real ARM client against the emulator.

Workspaces revert by minimal PATCH with If-Match (200 or 202 + Azure-AsyncOperation); online endpoints revert
only on opt-in, by a full PUT round trip with If-Match; computes cannot be reverted: tickets with the recreate
steps, plus opt-in containment (stop a running compute instance). Key and secret retrievals are recorded
naming the caller. The checks themselves are tested in tests/remediators.
"""
from __future__ import annotations

import copy
import threading
import time
from typing import Any

import pytest

from emulator import EmulatorCredential
from tests.support.fixtures import BOT_APPID, SUBSCRIPTION
from tests.support.samples import arm_body, arm_event
from warden import generate
from warden.arm import ArmClient
from warden.config import ConfigError, from_mapping
from warden.events import triage
from warden.model import Action, Outcome

RG = "rg-ml"
ML = "Microsoft.MachineLearningServices"
WS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/{ML}/workspaces/testworkspace"
EP = f"{WS}/onlineEndpoints/testEndpointName"
CI = f"{WS}/computes/compute123"
CLUSTER = f"{WS}/computes/cpu-cluster"
DS = f"{WS}/datastores/blobstore"
SERVERLESS = f"{WS}/serverlessEndpoints/serverless-1"
REGISTRY = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/{ML}/registries/shared-models"
API = "api-version=2025-12-01"

WS_WRITE = f"{ML}/workspaces/write"
EP_WRITE = f"{ML}/workspaces/onlineEndpoints/write"
COMPUTE_WRITE = f"{ML}/workspaces/computes/write"
ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess"


class MemoryTickets:
    """A ticket sink that keeps what it was given."""

    def __init__(self) -> None:
        self.opened: list[Any] = []

    def open(self, ticket) -> str:
        self.opened.append(ticket)
        return f"memory:{ticket.key}"

    def resolve(self, resource_id, check_ids, note) -> None:
        pass

    def by_check(self, check_id: str):
        (ticket,) = [t for t in self.opened if t.check_id == check_id]
        return ticket


@pytest.fixture
def tickets() -> MemoryTickets:
    return MemoryTickets()


@pytest.fixture
def seeded(emu) -> dict[str, str]:
    """The published ML samples seeded in the emulator; {sample file: resource id}."""
    return emu.seed_from_samples(SUBSCRIPTION, RG)


def event(resource_id: str, operation: str, name: str = "dev@contoso.com", **kwargs):
    return triage(arm_event(resource_id, operation, name=name, **kwargs))


def writes(emu):
    return [r for r in emu.requests if r.method in ("PATCH", "PUT", "POST")]


def actions_of(record) -> list[tuple[str, Action]]:
    return [(a.check_id, a.action) for a in record.actions]


# Workspaces ------------------------------------------------------------------------------------

def workspace(emu, **properties: Any) -> dict[str, Any]:
    """The published workspace GET (Approved private endpoint, managed VNet, identity) with identity-based
    system datastores, then `properties` applied; stored in the emulator."""
    body = arm_body("ml-workspace-get.spec-example-2025-12-01.json")
    body["properties"]["systemDatastoresAuthMode"] = "Identity"
    body["properties"].update(properties)
    return emu.put_resource(WS, body)


def test_workspace_public_access_revert_answered_202_is_polled_within_the_bound_and_verified_by_reread(
        emu, seeded, make_harness):
    stored = workspace(emu, publicNetworkAccess="Enabled")
    emu.set_lro(WS, "async")
    emu.async_polls = 1
    harness = make_harness({"arm": {"lro_wait_seconds": 5}})

    record = harness.engine.handle(event(WS, WS_WRITE))

    assert record.outcome is Outcome.REVERTED
    (patch,) = writes(emu)
    assert (patch.status, patch.body) == (202, {"properties": {"publicNetworkAccess": "Disabled"}})
    assert patch.headers.get("If-Match") == stored["etag"]
    after_patch = emu.requests[emu.requests.index(patch) + 1:]
    assert any("/operationStatuses/" in r.path for r in after_patch), "the Azure-AsyncOperation URL was polled"
    assert after_patch[-1].method == "GET" and after_patch[-1].path.lower() == WS.lower()  # verified by re-read
    (action,) = record.actions
    assert (action.check_id, action.action) == ("aml-ws-public-network", Action.REVERTED)
    assert action.before == {"properties.publicNetworkAccess": "Enabled"}
    assert action.after == {"properties.publicNetworkAccess": "Disabled"}
    assert emu.get_resource(WS)["properties"]["publicNetworkAccess"] == "Disabled"


def test_workspace_public_access_revert_past_the_lro_bound_is_pending_then_verified_by_the_echo(
        emu, seeded, make_harness):
    workspace(emu, publicNetworkAccess="Enabled")
    emu.set_lro(WS, "async")
    emu.async_polls = 1000  # ARM keeps answering InProgress for longer than the handler may wait
    harness = make_harness({"arm": {"lro_wait_seconds": 0.3}})

    started = time.monotonic()
    record = harness.engine.handle(event(WS, WS_WRITE))

    assert time.monotonic() - started < 5
    assert record.outcome is Outcome.PENDING
    assert actions_of(record) == [("aml-ws-public-network", Action.PENDING)]
    assert record.actions[0].after == {"properties.publicNetworkAccess": "Disabled"}
    assert emu.get_resource(WS)["properties"]["publicNetworkAccess"] == "Enabled"  # not applied yet

    assert emu.complete_operations() == 1
    assert emu.flush_events()
    echo = emu.events[-1]
    assert echo["data"]["claims"]["appid"] == BOT_APPID
    emu.clear_requests()
    verified = harness.engine.handle(triage(echo))
    assert verified.outcome is Outcome.SELF_CAUSED
    assert actions_of(verified) == [("aml-ws-public-network", Action.VERIFIED)]
    assert writes(emu) == []


def test_workspace_public_access_without_an_approved_private_endpoint_becomes_a_ticket(
        emu, seeded, make_harness, tickets):
    body = arm_body("ml-workspace-get.spec-example-2025-12-01.json")
    connection = body["properties"]["privateEndpointConnections"][0]
    connection["properties"]["privateLinkServiceConnectionState"]["status"] = "Pending"
    workspace(emu, publicNetworkAccess="Enabled", privateEndpointConnections=body["properties"]["privateEndpointConnections"])
    harness = make_harness(tickets=tickets)

    record = harness.engine.handle(event(WS, WS_WRITE, name="mallory@contoso.com"))

    assert writes(emu) == []
    assert record.outcome is Outcome.TICKETED
    assert ("aml-ws-public-network", Action.TICKETED) in actions_of(record)
    assert ("aml-ws-private-endpoint-missing", Action.REPORTED) in actions_of(record)
    ticket = tickets.by_check("aml-ws-public-network")
    assert "no Approved private endpoint" in ticket.why_not_reverted
    assert ticket.changed_by["name"] == "mallory@contoso.com"


def test_system_datastores_on_the_account_key_become_a_ticket_by_default(emu, seeded, make_harness, tickets):
    workspace(emu, systemDatastoresAuthMode="AccessKey")
    record = make_harness(tickets=tickets).engine.handle(event(WS, WS_WRITE))
    assert writes(emu) == []
    assert actions_of(record) == [("aml-ws-system-datastore-key-auth", Action.TICKETED)]
    assert tickets.by_check("aml-ws-system-datastore-key-auth").why_not_reverted.startswith("mode ticket (revert is opt-in")


def test_opted_in_workspace_reverts_share_one_minimal_patch_with_if_match(emu, seeded, make_harness):
    stored = workspace(emu, publicNetworkAccess="Enabled", systemDatastoresAuthMode="AccessKey")
    harness = make_harness({"modes": {"aml-ws-system-datastore-key-auth": "revert"}})

    record = harness.engine.handle(event(WS, WS_WRITE))

    assert record.outcome is Outcome.REVERTED
    (patch,) = writes(emu)
    assert patch.method == "PATCH" and patch.query["api-version"] == "2025-12-01"
    assert patch.body == {"properties": {"publicNetworkAccess": "Disabled", "systemDatastoresAuthMode": "Identity"}}
    assert patch.headers.get("If-Match") == stored["etag"]
    assert sorted(actions_of(record)) == [("aml-ws-public-network", Action.REVERTED),
                                          ("aml-ws-system-datastore-key-auth", Action.REVERTED)]
    after = emu.get_resource(WS)
    assert after["properties"]["systemDatastoresAuthMode"] == "Identity"
    assert after["properties"]["managedNetwork"] == stored["properties"]["managedNetwork"]  # PATCH merged


def test_system_datastores_revert_is_held_back_without_a_workspace_identity(emu, seeded, make_harness, tickets):
    body = arm_body("ml-workspace-get.spec-example-2025-12-01.json")
    body["properties"].update(systemDatastoresAuthMode="AccessKey", primaryUserAssignedIdentity="")
    body["identity"] = {"type": "None"}
    emu.put_resource(WS, body)
    harness = make_harness({"modes": {"aml-ws-system-datastore-key-auth": "revert",
                                      "aml-ws-no-managed-identity": "report"}}, tickets=tickets)
    record = harness.engine.handle(event(WS, WS_WRITE))
    assert writes(emu) == []
    assert ("aml-ws-system-datastore-key-auth", Action.TICKETED) in actions_of(record)
    assert "no managed identity" in tickets.by_check("aml-ws-system-datastore-key-auth").why_not_reverted


# Online endpoints: PUT round trip ---------------------------------------------------------------

def online_endpoint(emu, **properties: Any) -> dict[str, Any]:
    """The published endpoint GET made a managed endpoint (no attached compute), then `properties` applied."""
    body = arm_body("ml-online-endpoint-get.spec-example-2025-12-01.json")
    body["location"] = "eastus2euap"
    body["tags"] = {"team": "scoring"}
    body["properties"].pop("compute")
    body["properties"].update(provisioningState="Succeeded", authMode="AADToken", publicNetworkAccess="Disabled")
    body["properties"].update(properties)
    return emu.put_resource(EP, body)


def _without(body: dict[str, Any], *paths: str) -> dict[str, Any]:
    result = copy.deepcopy(body)
    for path in paths:
        node = result
        *parents, leaf = path.split(".")
        for part in parents:
            node = node[part]
        node.pop(leaf, None)
    return result


ENVELOPE = ("id", "name", "type", "etag", "systemData", "properties.provisioningState")


def test_online_endpoint_findings_are_tickets_by_default_and_nothing_is_written(emu, seeded, make_harness, tickets):
    online_endpoint(emu, authMode="Key", publicNetworkAccess="Enabled")
    record = make_harness(tickets=tickets).engine.handle(event(EP, EP_WRITE))
    assert writes(emu) == []
    assert sorted(actions_of(record)) == [("aml-oe-key-auth", Action.TICKETED),
                                          ("aml-oe-public-network", Action.TICKETED)]


@pytest.mark.parametrize("drift, modes, reverted", [
    ({"publicNetworkAccess": "Enabled"}, {"aml-oe-public-network": "revert"},
     {"publicNetworkAccess": "Disabled"}),
    ({"authMode": "Key"}, {"aml-oe-key-auth": "revert"}, {"authMode": "AADToken"}),
    ({"authMode": "Key", "publicNetworkAccess": "Enabled"},
     {"aml-oe-key-auth": "revert", "aml-oe-public-network": "revert"},
     {"authMode": "AADToken", "publicNetworkAccess": "Disabled"}),
])
def test_online_endpoint_opt_in_put_revert_preserves_every_other_property(
        emu, seeded, make_harness, drift, modes, reverted):
    before = online_endpoint(emu, **drift)
    harness = make_harness({"modes": modes})

    record = harness.engine.handle(event(EP, EP_WRITE))

    assert record.outcome is Outcome.REVERTED
    assert sorted(a.check_id for a in record.actions) == sorted(modes)
    (put,) = writes(emu)
    assert put.method == "PUT" and put.status == 200
    assert put.headers.get("If-Match") == before["etag"]
    # The PUT body is the GET body with only the reverted properties replaced; the ARM envelope's read-only
    # fields (id, name, type, etag, systemData, provisioningState) are left out, everything else (including
    # the RP's read-only scoringUri/swaggerUri and the identity's principalId) goes back exactly.
    expected = _without(before, *ENVELOPE)
    expected["properties"].update(reverted)
    assert put.body == expected
    assert put.body["properties"]["scoringUri"] == before["properties"]["scoringUri"]
    # ARM's stored resource differs from before only in the reverted properties and ARM's own stamps.
    after = emu.get_resource(EP)
    assert after["etag"] != before["etag"]
    changed = {k for k in after["properties"] if after["properties"][k] != before["properties"].get(k)}
    assert changed == set(reverted)
    assert _without(after, "etag", "systemData", "properties") == _without(before, "etag", "systemData", "properties")

    # The echo of the PUT is the bot's own: re-read, no second write.
    assert emu.flush_events()
    emu.clear_requests()
    assert harness.engine.handle(triage(emu.events[-1])).outcome is Outcome.SELF_CAUSED
    assert writes(emu) == []


def test_online_endpoint_key_auth_revert_is_held_back_on_a_kubernetes_endpoint(emu, seeded, make_harness, tickets):
    online_endpoint(emu, authMode="Key", compute=f"{WS}/computes/aks-attached")
    record = make_harness({"modes": {"aml-oe-key-auth": "revert"}}, tickets=tickets).engine.handle(event(EP, EP_WRITE))
    assert writes(emu) == []
    assert actions_of(record) == [("aml-oe-key-auth", Action.TICKETED)]
    assert "Kubernetes" in tickets.by_check("aml-oe-key-auth").why_not_reverted


def _race_put(emu, harness, concurrent_body: dict[str, Any]):
    """Handle the event while another writer changes the endpoint between the bot's GET and its PUT."""
    emu.inject_fault(method="PUT", path_contains="/onlineEndpoints/testEndpointName", status=None, delay=0.5)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(record=harness.engine.handle(event(EP, EP_WRITE))))
    worker.start()
    deadline = time.monotonic() + 5
    while not any(r.method == "GET" for r in emu.requests) and time.monotonic() < deadline:
        time.sleep(0.005)
    emu.put_resource(EP, concurrent_body)  # lands while the bot's PUT waits: new etag
    worker.join(10)
    return result["record"]


def test_online_endpoint_put_answered_412_rereads_decides_again_and_keeps_the_concurrent_change(
        emu, seeded, make_harness):
    before = online_endpoint(emu, publicNetworkAccess="Enabled")
    concurrent = _without(before, "etag")
    concurrent["tags"] = {"team": "scoring", "owner": "data-team"}
    concurrent["properties"]["description"] = "changed while the bot was writing"

    record = _race_put(emu, make_harness({"modes": {"aml-oe-public-network": "revert"}}), concurrent)

    puts = [r for r in emu.requests if r.method == "PUT"]
    assert [p.status for p in puts] == [412, 200]
    assert puts[0].headers.get("If-Match") == before["etag"]
    assert puts[1].headers.get("If-Match") not in (None, before["etag"])
    assert puts[1].body["tags"] == {"team": "scoring", "owner": "data-team"}  # built from the re-read
    assert record.outcome is Outcome.REVERTED
    after = emu.get_resource(EP)
    assert after["properties"]["publicNetworkAccess"] == "Disabled"
    assert after["properties"]["description"] == "changed while the bot was writing"
    assert after["tags"] == {"team": "scoring", "owner": "data-team"}


def test_online_endpoint_put_answered_412_after_the_owner_fixed_it_ends_compliant(emu, seeded, make_harness):
    before = online_endpoint(emu, publicNetworkAccess="Enabled")
    fixed = _without(before, "etag")
    fixed["properties"]["publicNetworkAccess"] = "Disabled"

    record = _race_put(emu, make_harness({"modes": {"aml-oe-public-network": "revert"}}), fixed)

    assert [p.status for p in emu.requests if p.method == "PUT"] == [412]
    assert record.outcome is Outcome.COMPLIANT


# Computes: tickets and opt-in containment ------------------------------------------------------

def compute_instance(emu, state: str = "Running", disable_local_auth: bool = True, **inner: Any) -> dict[str, Any]:
    """The published compute instance (public SSH, Running, in a subnet), local auth and node public IP off."""
    body = arm_body("ml-compute-instance-get.spec-example-2025-12-01.json")
    body["properties"]["disableLocalAuth"] = disable_local_auth
    body["properties"]["properties"].update({"enableNodePublicIp": False, "state": state, **inner})
    return emu.put_resource(CI, body)


def stops(emu):
    return [r for r in emu.requests if r.method == "POST" and r.path.lower().endswith("/stop")]


def test_compute_instance_public_ssh_becomes_a_ticket_with_the_recreate_steps(emu, seeded, make_harness, tickets):
    compute_instance(emu)
    record = make_harness(tickets=tickets).engine.handle(event(CI, COMPUTE_WRITE, name="mallory@contoso.com"))

    assert writes(emu) == []
    assert record.outcome is Outcome.TICKETED
    assert actions_of(record) == [("aml-ci-ssh-public", Action.TICKETED)]
    ticket = tickets.by_check("aml-ci-ssh-public")
    assert ticket.blast_radius.startswith("Recreate")
    assert "az ml compute delete" in ticket.fix["cli"] and f"-g {RG} -w testworkspace" in ticket.fix["cli"]
    assert "--ssh-public-access-enabled false" in ticket.fix["cli"]
    assert "sshPublicAccess: 'Disabled'" in ticket.fix["bicep"]
    assert ticket.changed_by["name"] == "mallory@contoso.com"


def test_compute_instance_public_ssh_with_containment_is_ticketed_and_stopped(emu, seeded, make_harness, tickets):
    compute_instance(emu)
    harness = make_harness({"containment": ["aml-ci-ssh-public"]}, tickets=tickets)

    record = harness.engine.handle(event(CI, COMPUTE_WRITE))

    assert record.outcome is Outcome.CONTAINED
    assert actions_of(record) == [("aml-ci-ssh-public", Action.TICKETED), ("aml-ci-ssh-public", Action.CONTAINED)]
    (stop,) = writes(emu)
    assert (stop.method, stop.path, stop.query, stop.status) == ("POST", f"{CI}/stop", {"api-version": "2025-12-01"}, 200)
    assert emu.get_resource(CI)["properties"]["properties"]["state"] == "Stopped"
    contained = record.actions[1]
    assert contained.before["properties.properties.state"] == "Running"
    assert contained.after == {"properties.properties.state": "Stopped"}
    assert "stop" in contained.reason and not contained.dry_run
    assert len(tickets.opened) == 1  # the ticket still goes out

    # The stop's echo carries the bot's claims: self-caused, no second stop and no second ticket.
    assert emu.flush_events()
    echo = emu.events[-1]
    assert echo["data"]["operationName"].lower().endswith("/computes/stop/action")
    emu.clear_requests()
    assert harness.engine.handle(triage(echo)).outcome is Outcome.SELF_CAUSED
    assert writes(emu) == [] and len(tickets.opened) == 1


def test_containment_in_dry_run_is_recorded_would_contain_and_nothing_is_sent(emu, seeded, make_harness):
    compute_instance(emu)
    harness = make_harness({"dry_run": True, "containment": ["aml-ci-ssh-public"]})

    record = harness.engine.handle(event(CI, COMPUTE_WRITE))

    assert record.outcome is Outcome.DRY_RUN
    assert actions_of(record) == [("aml-ci-ssh-public", Action.WOULD_TICKET),
                                  ("aml-ci-ssh-public", Action.WOULD_CONTAIN)]
    assert all(a.dry_run for a in record.actions)
    assert writes(emu) == []
    assert emu.get_resource(CI)["properties"]["properties"]["state"] == "Running"


def test_containment_leaves_an_instance_that_is_not_running_to_the_ticket(emu, seeded, make_harness, tickets):
    compute_instance(emu, state="Stopped")
    record = make_harness({"containment": ["aml-ci-ssh-public"]}, tickets=tickets).engine.handle(
        event(CI, COMPUTE_WRITE))
    assert actions_of(record) == [("aml-ci-ssh-public", Action.TICKETED)]
    assert record.outcome is Outcome.TICKETED
    assert writes(emu) == []


def test_containment_is_not_done_without_opt_in_for_that_check(emu, seeded, make_harness, tickets):
    compute_instance(emu, disable_local_auth=False)
    harness = make_harness({"containment": ["aml-compute-local-auth"]}, tickets=tickets)
    record = harness.engine.handle(event(CI, COMPUTE_WRITE))
    # Two findings, one stop: only the opted-in check records containment.
    assert sorted(actions_of(record)) == [("aml-ci-ssh-public", Action.TICKETED),
                                          ("aml-compute-local-auth", Action.CONTAINED),
                                          ("aml-compute-local-auth", Action.TICKETED)]
    assert len(stops(emu)) == 1


def test_several_opted_in_findings_stop_the_instance_once(emu, seeded, make_harness, tickets):
    compute_instance(emu, enableNodePublicIp=True)
    harness = make_harness({"containment": ["aml-ci-ssh-public", "aml-compute-node-public-ip"]}, tickets=tickets)
    record = harness.engine.handle(event(CI, COMPUTE_WRITE))
    contained = [a.check_id for a in record.actions if a.action is Action.CONTAINED]
    assert sorted(contained) == ["aml-ci-ssh-public", "aml-compute-node-public-ip"]
    assert len(stops(emu)) == 1


def test_containment_answered_202_is_recorded_contained_while_arm_is_still_stopping(
        emu, seeded, make_harness, tickets):
    compute_instance(emu)
    emu.set_lro(CI, "async")
    emu.async_polls = 1000
    harness = make_harness({"containment": ["aml-ci-ssh-public"], "arm": {"lro_wait_seconds": 0.3}}, tickets=tickets)

    record = harness.engine.handle(event(CI, COMPUTE_WRITE))

    assert record.outcome is Outcome.CONTAINED
    contained = record.actions[-1]
    assert contained.action is Action.CONTAINED and "still applying" in contained.reason
    assert [s.status for s in stops(emu)] == [202]
    emu.complete_operations()
    assert emu.get_resource(CI)["properties"]["properties"]["state"] == "Stopped"


def test_containment_refused_by_arm_fails_the_event_so_it_is_redelivered(emu, seeded, make_harness, tickets):
    compute_instance(emu)
    emu.inject_fault(method="POST", path_contains="/stop", status=403, times=10)
    record = make_harness({"containment": ["aml-ci-ssh-public"]}, tickets=tickets).engine.handle(
        event(CI, COMPUTE_WRITE))
    assert record.outcome is Outcome.FAILED and record.retry_requested
    assert actions_of(record) == [("aml-ci-ssh-public", Action.TICKETED), ("aml-ci-ssh-public", Action.FAILED)]
    assert "403" in record.actions[1].error


def test_compute_cluster_is_never_stopped_even_with_containment(emu, seeded, make_harness, tickets):
    emu.put_resource(CLUSTER, {"location": "eastus2euap", "properties": {
        "computeType": "AmlCompute", "disableLocalAuth": False, "provisioningState": "Succeeded",
        "properties": {"vmSize": "STANDARD_DS3_V2", "enableNodePublicIp": False, "remoteLoginPortPublicAccess": "Disabled",
                       "subnet": {"id": "/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/s"},
                       "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}})
    record = make_harness({"containment": ["aml-compute-local-auth"]}, tickets=tickets).engine.handle(
        event(CLUSTER, COMPUTE_WRITE))
    assert actions_of(record) == [("aml-compute-local-auth", Action.TICKETED)]
    assert writes(emu) == []


# Datastores, registries, serverless endpoints: never written -----------------------------------

@pytest.mark.parametrize("resource_id, operation, expected", [
    (DS, f"{ML}/workspaces/datastores/write", [("aml-datastore-credential-auth", Action.TICKETED)]),
    (REGISTRY, f"{ML}/registries/write", [("aml-registry-public-network", Action.TICKETED)]),
    (SERVERLESS, f"{ML}/workspaces/serverlessEndpoints/write", [("aml-serverless-key-auth", Action.REPORTED)]),
])
def test_datastore_registry_and_serverless_findings_become_tickets_or_reports_without_a_write(
        emu, seeded, make_harness, tickets, resource_id, operation, expected):
    emu.put_resource(REGISTRY, {"location": "eastus2euap", "properties": {"publicNetworkAccess": "Enabled"}})
    record = make_harness(tickets=tickets).engine.handle(event(resource_id, operation))
    assert actions_of(record) == expected
    assert writes(emu) == []


# Key and secret retrieval: recorded naming the caller ------------------------------------------

@pytest.mark.parametrize("target, operation, check_id", [
    (WS, f"{ML}/workspaces/listKeys/action", "aml-ws-key-retrieval"),
    (WS, f"{ML}/workspaces/resynckeys/action", "aml-ws-key-retrieval"),
    (WS, f"{ML}/workspaces/listStorageAccountKeys/action", "aml-ws-key-retrieval"),
    (EP, f"{ML}/workspaces/onlineendpoints/listkeys/action", "aml-oe-key-retrieval"),
    (EP, f"{ML}/workspaces/onlineendpoints/regeneratekeys/action", "aml-oe-key-retrieval"),
    (EP, f"{ML}/workspaces/onlineendpoints/token/action", "aml-oe-key-retrieval"),
    (DS, f"{ML}/workspaces/datastores/listsecrets/action", "aml-datastore-secret-retrieval"),
    (CI, f"{ML}/workspaces/computes/listKeys/action", "aml-compute-key-retrieval"),
])
def test_key_and_secret_retrieval_is_recorded_as_keys_used_instead_of_identity_naming_the_caller(
        emu, seeded, make_harness, tickets, target, operation, check_id):
    workspace(emu, systemDatastoresAuthMode="AccessKey")
    online_endpoint(emu, authMode="Key")
    action_uri = f"{target}/{operation.rsplit('/', 2)[-2]}"
    record = make_harness(tickets=tickets).engine.handle(
        event(action_uri, operation, name="mallory@contoso.com", event_type=ACTION_SUCCESS))

    assert record.resource_id.lower() == target.lower()
    assert record.caller.name == "mallory@contoso.com"
    (action,) = [a for a in record.actions if a.check_id == check_id]
    assert action.action is Action.TICKETED
    assert "mallory@contoso.com" in action.detail
    assert action.caller.name == "mallory@contoso.com"
    assert writes(emu) == []


def test_connection_secret_retrieval_re_evaluates_the_workspace_and_names_the_caller(emu, seeded, make_harness):
    workspace(emu)
    record = make_harness().engine.handle(event(f"{WS}/connections/openai-conn/listsecrets",
                                                f"{ML}/workspaces/connections/listsecrets/action",
                                                name="mallory@contoso.com", event_type=ACTION_SUCCESS))
    assert record.resource_id.lower() == WS.lower()
    assert record.caller.name == "mallory@contoso.com"
    assert record.outcome is Outcome.COMPLIANT


def test_scoring_keys_fetched_through_arm_emit_a_lowercase_operation_the_engine_records(
        emu, seeded, make_harness, tickets):
    online_endpoint(emu, authMode="Key")
    harness = make_harness({"modes": {"aml-oe-key-auth": "off"}}, tickets=tickets)
    user = ArmClient(EmulatorCredential(oid="22222222-aaaa-bbbb-cccc-000000000002", name="Mallory",
                                        upn="mallory@contoso.com"), harness.config.arm,
                     connection_verify=emu.ca_pem_path)
    try:
        user.post_action(EP, "listKeys", "2025-12-01")
    finally:
        user.close()
    assert emu.flush_events()
    emitted = emu.events[-1]
    assert emitted["data"]["operationName"] == f"{ML}/workspaces/onlineendpoints/listkeys/action"

    record = harness.engine.handle(triage(emitted))

    assert record.resource_id.lower() == EP.lower()
    assert actions_of(record) == [("aml-oe-key-retrieval", Action.TICKETED)]
    assert "mallory@contoso.com" in record.actions[0].detail


# Containment configuration and the custom role --------------------------------------------------

def test_containment_config_accepts_only_checks_that_declare_a_containment():
    config = from_mapping({"containment": ["aml-ci-ssh-public", "aml-compute-local-auth"]})
    assert config.contains("aml-ci-ssh-public") and not config.contains("aml-compute-no-vnet")
    with pytest.raises(ConfigError, match="aml-ws-public-network.*declares no containment.*aml-ci-ssh-public"):
        from_mapping({"containment": ["aml-ws-public-network"]})
    with pytest.raises(ConfigError, match='unknown check id "nope"'):
        from_mapping({"containment": ["nope"]})
    with pytest.raises(ConfigError, match="containment: must be a list"):
        from_mapping({"containment": "aml-ci-ssh-public"})
    with pytest.raises(ConfigError, match="mode report.*ticket"):
        from_mapping({"containment": ["aml-ci-ssh-public"], "modes": {"aml-ci-ssh-public": "report"}})


def test_every_write_a_fix_or_containment_sends_is_in_the_generated_role():
    import remediators

    ml_checks = [c for c in remediators.all_checks() if c.resource_type.startswith(ML)]
    with_containment = [c.id for c in ml_checks if c.containment is not None]
    assert sorted(with_containment) == ["aml-ci-ssh-public", "aml-compute-local-auth",
                                        "aml-compute-no-vnet", "aml-compute-node-public-ip"]
    granted = {a.lower() for a in generate.role_actions(containment_check_ids=with_containment)}
    for check in ml_checks:
        if check.fix is not None:
            assert check.fix.write_action.lower() in granted
        if check.containment is not None:
            assert check.containment.rbac_action.lower() in granted
            assert check.containment.rbac_action.lower().endswith(f"/{check.containment.action}/action")
    stop = f"{ML}/workspaces/computes/stop/action".lower()
    assert stop in granted
    assert stop not in {a.lower() for a in generate.role_actions()}  # only when opted in
