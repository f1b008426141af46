"""Triage of every ARM operation name in drift-catalog.md section 3: case-insensitive, child resources and
actions mapped to the covered resource they change, key and secret retrievals carrying their caller."""
from __future__ import annotations

import pytest

from tests.support.samples import arm_event
from warden.events import triage
from warden.model import ChangeKind, Verdict

SUB = "00000000-1111-2222-3333-444444444444"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers"
CS = "Microsoft.CognitiveServices"
ML = "Microsoft.MachineLearningServices"
ACCOUNT = f"{RG}/{CS}/accounts/oai-prod"
WS = f"{RG}/{ML}/workspaces/ws1"
EP = f"{WS}/onlineEndpoints/ep1"
CI = f"{WS}/computes/ci1"
DS = f"{WS}/datastores/blobstore"
SERVERLESS = f"{WS}/serverlessEndpoints/sl1"
REGISTRY = f"{RG}/{ML}/registries/reg1"

WRITE = "Microsoft.Resources.ResourceWriteSuccess"
ACTION = "Microsoft.Resources.ResourceActionSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"

T_ACCOUNT = f"{CS}/accounts"
T_WS = f"{ML}/workspaces"
T_EP = f"{ML}/workspaces/onlineEndpoints"
T_COMPUTE = f"{ML}/workspaces/computes"
T_DS = f"{ML}/workspaces/datastores"
T_SERVERLESS = f"{ML}/workspaces/serverlessEndpoints"
T_REGISTRY = f"{ML}/registries"

# (event type, resourceUri as ARM sends it, operationName exactly as the catalog spells it,
#  expected target resource, its type, change kind)
SECTION_3 = [
    (WRITE, ACCOUNT, f"{CS}/accounts/write", ACCOUNT, T_ACCOUNT, ChangeKind.WRITE),
    (WRITE, f"{ACCOUNT}/privateEndpointConnections/pe1", f"{CS}/accounts/privateEndpointConnections/write",
     ACCOUNT, T_ACCOUNT, ChangeKind.WRITE),
    (DELETE, f"{ACCOUNT}/privateEndpointConnections/pe1", f"{CS}/accounts/privateEndpointConnections/delete",
     ACCOUNT, T_ACCOUNT, ChangeKind.WRITE),
    (ACTION, f"{ACCOUNT}/listKeys", f"{CS}/accounts/listKeys/action", ACCOUNT, T_ACCOUNT, ChangeKind.ACTION),
    (ACTION, f"{ACCOUNT}/regenerateKey", f"{CS}/accounts/regenerateKey/action", ACCOUNT, T_ACCOUNT, ChangeKind.ACTION),
    (ACTION, f"{ACCOUNT}/joinPerimeter", f"{CS}/accounts/joinPerimeter/action", ACCOUNT, T_ACCOUNT, ChangeKind.ACTION),
    (ACTION, f"{ACCOUNT}/networkSecurityPerimeterConfigurations/nsp1/reconcile",
     f"{CS}/accounts/networkSecurityPerimeterConfigurations/reconcile/action", ACCOUNT, T_ACCOUNT, ChangeKind.ACTION),
    (DELETE, ACCOUNT, f"{CS}/accounts/delete", ACCOUNT, T_ACCOUNT, ChangeKind.DELETE),
    (WRITE, WS, f"{ML}/workspaces/write", WS, T_WS, ChangeKind.WRITE),
    (WRITE, f"{WS}/privateEndpointConnections/pe1", f"{ML}/workspaces/privateEndpointConnections/write",
     WS, T_WS, ChangeKind.WRITE),
    (DELETE, f"{WS}/privateEndpointConnections/pe1", f"{ML}/workspaces/privateEndpointConnections/delete",
     WS, T_WS, ChangeKind.WRITE),
    (ACTION, f"{WS}/listKeys", f"{ML}/workspaces/listKeys/action", WS, T_WS, ChangeKind.ACTION),
    (ACTION, f"{WS}/resynckeys", f"{ML}/workspaces/resynckeys/action", WS, T_WS, ChangeKind.ACTION),
    (ACTION, f"{WS}/listStorageAccountKeys", f"{ML}/workspaces/listStorageAccountKeys/action", WS, T_WS,
     ChangeKind.ACTION),
    (ACTION, f"{WS}/provisionManagedNetwork", f"{ML}/workspaces/provisionManagedNetwork/action", WS, T_WS,
     ChangeKind.ACTION),
    (WRITE, CI, f"{ML}/workspaces/computes/write", CI, T_COMPUTE, ChangeKind.WRITE),
    (ACTION, f"{CI}/listKeys", f"{ML}/workspaces/computes/listKeys/action", CI, T_COMPUTE, ChangeKind.ACTION),
    (ACTION, f"{CI}/start", f"{ML}/workspaces/computes/start/action", CI, T_COMPUTE, ChangeKind.ACTION),
    (ACTION, f"{CI}/stop", f"{ML}/workspaces/computes/stop/action", CI, T_COMPUTE, ChangeKind.ACTION),
    (ACTION, f"{CI}/restart", f"{ML}/workspaces/computes/restart/action", CI, T_COMPUTE, ChangeKind.ACTION),
    (WRITE, EP, f"{ML}/workspaces/onlineEndpoints/write", EP, T_EP, ChangeKind.WRITE),
    (ACTION, f"{EP}/listkeys", f"{ML}/workspaces/onlineendpoints/listkeys/action", EP, T_EP, ChangeKind.ACTION),
    (ACTION, f"{EP}/regeneratekeys", f"{ML}/workspaces/onlineendpoints/regeneratekeys/action", EP, T_EP,
     ChangeKind.ACTION),
    (ACTION, f"{EP}/token", f"{ML}/workspaces/onlineendpoints/token/action", EP, T_EP, ChangeKind.ACTION),
    (WRITE, DS, f"{ML}/workspaces/datastores/write", DS, T_DS, ChangeKind.WRITE),
    (ACTION, f"{DS}/listsecrets", f"{ML}/workspaces/datastores/listsecrets/action", DS, T_DS, ChangeKind.ACTION),
    (ACTION, f"{WS}/connections/conn1/listsecrets", f"{ML}/workspaces/connections/listsecrets/action", WS, T_WS,
     ChangeKind.ACTION),
    (WRITE, SERVERLESS, f"{ML}/workspaces/serverlessEndpoints/write", SERVERLESS, T_SERVERLESS, ChangeKind.WRITE),
    (ACTION, f"{SERVERLESS}/listKeys", f"{ML}/workspaces/serverlessEndpoints/listKeys/action", SERVERLESS,
     T_SERVERLESS, ChangeKind.ACTION),
    (ACTION, f"{SERVERLESS}/regenerateKeys", f"{ML}/workspaces/serverlessEndpoints/regenerateKeys/action",
     SERVERLESS, T_SERVERLESS, ChangeKind.ACTION),
    (WRITE, REGISTRY, f"{ML}/registries/write", REGISTRY, T_REGISTRY, ChangeKind.WRITE),
    (WRITE, f"{REGISTRY}/privateEndpointConnections/pe1", f"{ML}/registries/privateEndpointConnections/write",
     REGISTRY, T_REGISTRY, ChangeKind.WRITE),
    (DELETE, WS, f"{ML}/workspaces/delete", WS, T_WS, ChangeKind.DELETE),
    (DELETE, CI, f"{ML}/workspaces/computes/delete", CI, T_COMPUTE, ChangeKind.DELETE),
    (DELETE, EP, f"{ML}/workspaces/onlineEndpoints/delete", EP, T_EP, ChangeKind.DELETE),
]

KEY_RETRIEVALS = [row for row in SECTION_3 if row[0] == ACTION and any(
    verb in row[2].lower() for verb in ("listkeys", "regeneratekey", "resynckeys", "liststorageaccountkeys",
                                        "listsecrets", "/token/"))]


def _ids(row) -> str:
    return row[2]


@pytest.mark.parametrize("event_type, uri, operation, target, target_type, kind", SECTION_3, ids=[_ids(r) for r in SECTION_3])
@pytest.mark.parametrize("casing", ["as-published", "lower", "upper"])
def test_every_catalog_operation_is_relevant_for_the_resource_it_changes(
        event_type, uri, operation, target, target_type, kind, casing):
    cased = {"as-published": operation, "lower": operation.lower(), "upper": operation.upper()}[casing]
    result = triage(arm_event(uri, cased, event_type=event_type))

    assert result.verdict is Verdict.RELEVANT, result.reason
    change = result.change
    assert change.resource_id == target
    assert change.resource_type == target_type
    assert change.kind is kind
    assert change.operation == cased


@pytest.mark.parametrize("event_type, uri, operation, target, target_type, kind", KEY_RETRIEVALS,
                         ids=[_ids(r) for r in KEY_RETRIEVALS])
def test_key_and_secret_retrievals_are_key_retrieval_signals_that_carry_the_caller(
        event_type, uri, operation, target, target_type, kind):
    result = triage(arm_event(uri, operation, event_type=event_type, name="mallory@contoso.com",
                              oid="22222222-aaaa-bbbb-cccc-000000000002"))
    assert result.verdict is Verdict.RELEVANT
    assert result.reason.startswith("key-retrieval:")
    assert result.change.caller.name == "mallory@contoso.com"
    assert result.change.caller.object_id == "22222222-aaaa-bbbb-cccc-000000000002"
    assert "mallory@contoso.com" in result.change.caller.display()


def test_the_registry_declares_exactly_the_catalog_key_and_secret_retrievals():
    import remediators
    from remediators.base import OperationRole

    declared = {op for kind in remediators.kinds() for op, role in kind.operations.items()
                if role is OperationRole.KEY_RETRIEVAL}
    assert declared == {row[2].lower() for row in KEY_RETRIEVALS}


def test_lower_case_resource_uri_maps_to_the_canonical_kind_and_keeps_the_id():
    uri = f"/subscriptions/{SUB}/resourcegroups/rg-ml/providers/microsoft.machinelearningservices/workspaces/ws1/onlineendpoints/ep1/listkeys"
    result = triage(arm_event(uri, f"{ML}/workspaces/onlineendpoints/listkeys/action", event_type=ACTION))
    assert result.verdict is Verdict.RELEVANT
    assert result.change.resource_type == T_EP
    assert result.change.resource_id.lower() == EP.lower()


def test_template_deployment_write_is_ignored_the_resource_write_follows():
    result = triage(arm_event(f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.Resources/deployments/d1",
                              "Microsoft.Resources/deployments/write"))
    assert result.verdict is Verdict.IGNORED and "correlationId" in result.reason


@pytest.mark.parametrize("uri, operation", [
    (f"{WS}/computes/ci1/applicationSharingPolicy", f"{ML}/workspaces/computes/updateSchedules/action"),
    (f"{WS}/jobs/job1", f"{ML}/workspaces/jobs/write"),
    (f"{EP}/deployments/blue", f"{ML}/workspaces/onlineEndpoints/deployments/write"),
    (f"{EP}/score", f"{ML}/workspaces/onlineEndpoints/score/action"),
])
def test_ml_operations_that_change_no_checked_property_are_ignored(uri, operation):
    result = triage(arm_event(uri, operation, event_type=ACTION if operation.endswith("/action") else WRITE))
    assert result.verdict is Verdict.IGNORED
    assert "does not affect" in result.reason


def test_deleting_a_child_of_a_workspace_re_evaluates_the_workspace_not_deletes_it():
    result = triage(arm_event(f"{WS}/privateEndpointConnections/pe1",
                              f"{ML}/workspaces/privateEndpointConnections/delete", event_type=DELETE))
    assert result.change.kind is ChangeKind.WRITE
    assert result.change.resource_id == WS
