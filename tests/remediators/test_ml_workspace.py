"""Scenarios of remediators/ml_workspace.py on the published workspace samples and hand-made variants."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_workspace as ws
from remediators.base import CheckContext, Mode, OperationRole

GET = "ml-workspace-get.spec-example-2025-12-01"
UPDATE = "ml-workspace-update.spec-example-2025-12-01"
NO_OP = CheckContext()


def workspace(**properties: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w",
        "type": ws.TYPE,
        "name": "w",
        "properties": properties,
    }


def approved_pe(status: str = "Approved") -> dict[str, Any]:
    return {"name": "pe", "properties": {"privateLinkServiceConnectionState": {"status": status}}}


# Registration and declared shape ----------------------------------------------------------------

def test_kind_is_registered_under_the_workspace_type():
    assert remediators.kind_for("microsoft.machinelearningservices/WORKSPACES") is ws.KIND
    assert ws.KIND.api_version == "2025-12-01"
    assert ws.KIND.read_action == "Microsoft.MachineLearningServices/workspaces/read"


def test_check_ids_and_default_modes_follow_the_catalog():
    declared = {c.id: (c.default_mode, c.revertible) for c in ws.KIND.checks}
    assert declared == {
        "aml-ws-public-network": (Mode.REVERT, True),
        "aml-ws-public-behind-vnet": (Mode.TICKET, False),
        "aml-ws-private-endpoint-missing": (Mode.REPORT, False),
        "aml-ws-managed-network": (Mode.TICKET, False),
        "aml-ws-system-datastore-key-auth": (Mode.TICKET, True),
        "aml-ws-no-managed-identity": (Mode.TICKET, False),
        "aml-ws-key-retrieval": (Mode.TICKET, False),
    }


@pytest.mark.parametrize("check", ws.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == ws.TYPE
    assert check_metadata_problems(check, "aml-") == []


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/workspaces/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/delete", OperationRole.DELETE),
    ("Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/privateEndpointConnections/delete", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/provisionManagedNetwork/action", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/listKeys/action", OperationRole.KEY_RETRIEVAL),
    ("microsoft.machinelearningservices/workspaces/listkeys/action", OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/resynckeys/action", OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/listStorageAccountKeys/action", OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action", OperationRole.KEY_RETRIEVAL),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert ws.KIND.role_of(operation) is role


def test_unrelated_operation_has_no_role():
    assert ws.KIND.role_of("Microsoft.MachineLearningServices/workspaces/computes/write") is None


# The published GET sample --------------------------------------------------------------------------

def test_published_workspace_passes_every_network_and_identity_check(arm_sample):
    resource = arm_sample(GET)
    for check in (ws.PUBLIC_NETWORK, ws.PUBLIC_BEHIND_VNET, ws.PRIVATE_ENDPOINT_MISSING,
                  ws.MANAGED_NETWORK, ws.NO_MANAGED_IDENTITY):
        result = check.evaluate(resource, NO_OP)
        assert result.passed, (check.id, result.detail)


def test_published_workspace_fails_system_datastore_key_auth_because_the_mode_is_absent(arm_sample):
    result = ws.SYSTEM_DATASTORE_KEY_AUTH.evaluate(arm_sample(GET), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.systemDatastoresAuthMode": None}
    assert "absent" in result.detail


def test_published_workspace_counts_its_approved_private_endpoint(arm_sample):
    result = ws.PRIVATE_ENDPOINT_MISSING.evaluate(arm_sample(GET), NO_OP)
    assert result.observed == {"approved_private_endpoints": 1}


def test_update_response_without_isolation_mode_fails_managed_network(arm_sample):
    resource = arm_sample(UPDATE)
    assert ws.PUBLIC_NETWORK.evaluate(resource, NO_OP).passed
    result = ws.MANAGED_NETWORK.evaluate(resource, NO_OP)
    assert not result.passed
    assert result.observed == {"properties.managedNetwork.isolationMode": None}


# aml-ws-public-network -----------------------------------------------------------------------------

def test_public_network_fails_when_property_absent():
    result = ws.PUBLIC_NETWORK.evaluate(workspace(), NO_OP)
    assert not result.passed
    assert "absent" in result.detail
    assert result.observed == {"properties.publicNetworkAccess": None}


@pytest.mark.parametrize("value", ["Enabled", "enabled", "ENABLED"])
def test_public_network_fails_when_enabled_in_any_casing(value):
    assert not ws.PUBLIC_NETWORK.evaluate(workspace(publicNetworkAccess=value), NO_OP).passed


@pytest.mark.parametrize("value", ["Disabled", "disabled"])
def test_public_network_passes_when_disabled_in_any_casing(value):
    assert ws.PUBLIC_NETWORK.evaluate(workspace(publicNetworkAccess=value), NO_OP).passed


def test_public_network_reads_property_names_case_insensitively():
    resource = {"Properties": {"PublicNetworkAccess": "Disabled"}}
    assert ws.PUBLIC_NETWORK.evaluate(resource, NO_OP).passed


def test_public_network_revert_is_a_minimal_patch():
    fix = ws.PUBLIC_NETWORK.fix
    assert fix.method == "PATCH"
    assert fix.write_action == "Microsoft.MachineLearningServices/workspaces/write"
    assert fix.body(workspace(publicNetworkAccess="Enabled")) == {"properties": {"publicNetworkAccess": "Disabled"}}


def test_public_network_revert_is_guarded_by_an_approved_private_endpoint():
    guard = ws.PUBLIC_NETWORK.fix.guard
    assert guard(workspace(publicNetworkAccess="Enabled", privateEndpointConnections=[approved_pe()])).ok
    assert not guard(workspace(publicNetworkAccess="Enabled", privateEndpointConnections=[approved_pe("Pending")])).ok
    assert not guard(workspace(publicNetworkAccess="Enabled")).ok


def test_public_network_guard_accepts_lowercase_status_and_flattened_connections():
    flattened = {"privateLinkServiceConnectionState": {"status": "approved"}}
    assert ws.PUBLIC_NETWORK.fix.guard(workspace(privateEndpointConnections=[flattened])).ok


def test_public_network_guard_holds_on_the_published_sample(arm_sample):
    assert ws.PUBLIC_NETWORK.fix.guard(arm_sample(GET)).ok


# aml-ws-public-behind-vnet -------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, "true", "True", 1, "1"])
def test_public_behind_vnet_fails_when_allowed(value):
    result = ws.PUBLIC_BEHIND_VNET.evaluate(workspace(allowPublicAccessWhenBehindVnet=value), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.allowPublicAccessWhenBehindVnet": value}


@pytest.mark.parametrize("value", [False, "false", 0, "0"])
def test_public_behind_vnet_passes_when_disallowed(value):
    assert ws.PUBLIC_BEHIND_VNET.evaluate(workspace(allowPublicAccessWhenBehindVnet=value), NO_OP).passed


def test_public_behind_vnet_passes_when_absent_because_the_default_is_false():
    result = ws.PUBLIC_BEHIND_VNET.evaluate(workspace(), NO_OP)
    assert result.passed
    assert "absent" in result.detail


def test_public_behind_vnet_is_not_revertible_because_patch_lacks_it():
    assert ws.PUBLIC_BEHIND_VNET.fix is None
    assert "PATCH" in ws.PUBLIC_BEHIND_VNET.not_revertible_because


# aml-ws-private-endpoint-missing -------------------------------------------------------------------

@pytest.mark.parametrize("connections", [None, [], [approved_pe("Pending")], [approved_pe("Rejected")],
                                         [approved_pe("Disconnected")]])
def test_private_endpoint_missing_fails_without_an_approved_connection(connections):
    resource = workspace() if connections is None else workspace(privateEndpointConnections=connections)
    result = ws.PRIVATE_ENDPOINT_MISSING.evaluate(resource, NO_OP)
    assert not result.passed
    assert result.observed == {"approved_private_endpoints": 0}


def test_private_endpoint_missing_passes_with_one_approved_among_others():
    resource = workspace(privateEndpointConnections=[approved_pe("Pending"), approved_pe("APPROVED")])
    assert ws.PRIVATE_ENDPOINT_MISSING.evaluate(resource, NO_OP).passed


def test_private_endpoint_missing_is_not_applicable_to_a_foundry_project():
    resource = {**workspace(hubResourceId="/subscriptions/s/.../workspaces/hub"), "kind": "project"}
    assert not ws.PRIVATE_ENDPOINT_MISSING.evaluate(resource, NO_OP).applicable


def test_private_endpoint_missing_applies_to_a_foundry_hub():
    resource = {**workspace(), "kind": "Hub"}
    result = ws.PRIVATE_ENDPOINT_MISSING.evaluate(resource, NO_OP)
    assert result.applicable and not result.passed


# aml-ws-managed-network ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["Disabled", "disabled", "AllowInternetOutbound", "allowinternetoutbound"])
def test_managed_network_fails_unless_only_approved_outbound(mode):
    result = ws.MANAGED_NETWORK.evaluate(workspace(managedNetwork={"isolationMode": mode}), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.managedNetwork.isolationMode": mode}


def test_managed_network_fails_when_property_absent():
    assert not ws.MANAGED_NETWORK.evaluate(workspace(), NO_OP).passed


def test_managed_network_passes_with_allow_only_approved_outbound_in_any_casing():
    resource = workspace(ManagedNetwork={"IsolationMode": "allowOnlyApprovedOutbound"})
    assert ws.MANAGED_NETWORK.evaluate(resource, NO_OP).passed


def test_managed_network_is_not_applicable_to_a_foundry_project():
    resource = {**workspace(), "kind": "Project"}
    assert not ws.MANAGED_NETWORK.evaluate(resource, NO_OP).applicable


def test_managed_network_is_not_revertible_because_of_its_blast_radius():
    assert ws.MANAGED_NETWORK.fix is None
    assert "blast radius" in ws.MANAGED_NETWORK.not_revertible_because


def test_managed_network_cites_the_approved_outbound_policy():
    assert [p.definition_id for p in ws.MANAGED_NETWORK.policies] == ["6ddb1705-c8cf-450e-aa4b-19ad6703c440"]


# aml-ws-system-datastore-key-auth ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["AccessKey", "accesskey", "Unexpected"])
def test_system_datastore_key_auth_fails_for_key_and_unknown_modes(mode):
    assert not ws.SYSTEM_DATASTORE_KEY_AUTH.evaluate(workspace(systemDatastoresAuthMode=mode), NO_OP).passed


def test_system_datastore_key_auth_fails_when_property_absent():
    assert not ws.SYSTEM_DATASTORE_KEY_AUTH.evaluate(workspace(), NO_OP).passed


@pytest.mark.parametrize("mode", ["Identity", "identity", "UserDelegationSAS", "userdelegationsas"])
def test_system_datastore_key_auth_passes_for_identity_based_modes(mode):
    assert ws.SYSTEM_DATASTORE_KEY_AUTH.evaluate(workspace(systemDatastoresAuthMode=mode), NO_OP).passed


def test_system_datastore_key_auth_revert_patches_identity_mode_only():
    fix = ws.SYSTEM_DATASTORE_KEY_AUTH.fix
    assert fix.method == "PATCH"
    assert fix.body(workspace(systemDatastoresAuthMode="AccessKey")) == {
        "properties": {"systemDatastoresAuthMode": "Identity"}}


@pytest.mark.parametrize("identity, ok", [
    ({"type": "SystemAssigned,UserAssigned"}, True),
    ({"type": "userassigned"}, True),
    ({"type": "None"}, False),
    (None, False),
])
def test_system_datastore_key_auth_revert_requires_a_workspace_identity(identity, ok):
    resource = workspace(systemDatastoresAuthMode="AccessKey")
    if identity is not None:
        resource["identity"] = identity
    assert ws.SYSTEM_DATASTORE_KEY_AUTH.fix.guard(resource).ok is ok


# aml-ws-no-managed-identity ------------------------------------------------------------------------

@pytest.mark.parametrize("identity", [None, {}, {"type": "None"}, {"type": "none"}])
def test_no_managed_identity_fails_without_an_identity(identity):
    resource = workspace()
    if identity is not None:
        resource["identity"] = identity
    assert not ws.NO_MANAGED_IDENTITY.evaluate(resource, NO_OP).passed


@pytest.mark.parametrize("kind", ["SystemAssigned", "SystemAssigned,UserAssigned", "systemassigned, userassigned"])
def test_no_managed_identity_passes_with_a_system_assigned_identity(kind):
    resource = {**workspace(), "identity": {"type": kind}}
    assert ws.NO_MANAGED_IDENTITY.evaluate(resource, NO_OP).passed


def test_no_managed_identity_passes_with_a_primary_user_assigned_identity():
    resource = {**workspace(primaryUserAssignedIdentity="/subscriptions/s/.../uai"), "identity": {"type": "UserAssigned"}}
    assert ws.NO_MANAGED_IDENTITY.evaluate(resource, NO_OP).passed


@pytest.mark.parametrize("primary", [None, "", "  "])
def test_no_managed_identity_fails_when_user_assigned_has_no_primary(primary):
    properties = {} if primary is None else {"primaryUserAssignedIdentity": primary}
    resource = {**workspace(**properties), "identity": {"type": "UserAssigned"}}
    result = ws.NO_MANAGED_IDENTITY.evaluate(resource, NO_OP)
    assert not result.passed
    assert "primaryUserAssignedIdentity" in result.detail


# aml-ws-key-retrieval ------------------------------------------------------------------------------

LIST_KEYS = "Microsoft.MachineLearningServices/workspaces/listKeys/action"


def test_key_retrieval_is_not_applicable_without_an_operation():
    assert not ws.KEY_RETRIEVAL.evaluate(workspace(), NO_OP).applicable


def test_key_retrieval_is_not_applicable_to_a_write():
    ctx = CheckContext(operation="Microsoft.MachineLearningServices/workspaces/write", caller="alice")
    assert not ws.KEY_RETRIEVAL.evaluate(workspace(), ctx).applicable


@pytest.mark.parametrize("operation", [
    LIST_KEYS,
    LIST_KEYS.lower(),
    "Microsoft.MachineLearningServices/workspaces/resynckeys/action",
    "MICROSOFT.MACHINELEARNINGSERVICES/WORKSPACES/LISTSTORAGEACCOUNTKEYS/ACTION",
])
def test_key_retrieval_fails_and_names_the_caller_when_datastores_use_keys(operation):
    ctx = CheckContext(operation=operation, caller="alice@contoso.com")
    result = ws.KEY_RETRIEVAL.evaluate(workspace(systemDatastoresAuthMode="AccessKey"), ctx)
    assert result.applicable and not result.passed
    assert "alice@contoso.com" in result.detail
    assert operation.rsplit("/", 2)[-2] in result.detail


def test_key_retrieval_fails_when_datastore_mode_is_absent(arm_sample):
    result = ws.KEY_RETRIEVAL.evaluate(arm_sample(GET), CheckContext(operation=LIST_KEYS, caller="bob"))
    assert not result.passed


def test_key_retrieval_fails_for_user_delegation_sas_because_only_identity_is_keyless():
    ctx = CheckContext(operation=LIST_KEYS, caller="bob")
    assert not ws.KEY_RETRIEVAL.evaluate(workspace(systemDatastoresAuthMode="UserDelegationSAS"), ctx).passed


def test_key_retrieval_passes_when_datastores_use_identity():
    ctx = CheckContext(operation=LIST_KEYS, caller="bob")
    assert ws.KEY_RETRIEVAL.evaluate(workspace(systemDatastoresAuthMode="identity"), ctx).passed


def test_key_retrieval_says_unknown_caller_when_claims_lack_one():
    result = ws.KEY_RETRIEVAL.evaluate(workspace(), CheckContext(operation=LIST_KEYS))
    assert "unknown caller" in result.detail


def test_connection_secret_retrieval_has_no_datastore_finding():
    ctx = CheckContext(operation=ws.CONNECTION_SECRETS_OPERATION, caller="bob")
    assert not ws.KEY_RETRIEVAL.evaluate(workspace(), ctx).applicable


# Fix safety ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("check, failing", [
    (ws.PUBLIC_NETWORK, workspace(publicNetworkAccess="Enabled")),
    (ws.PUBLIC_NETWORK, workspace()),
    (ws.SYSTEM_DATASTORE_KEY_AUTH, workspace(systemDatastoresAuthMode="AccessKey")),
    (ws.SYSTEM_DATASTORE_KEY_AUTH, workspace()),
], ids=["public-enabled", "public-absent", "datastore-accesskey", "datastore-absent"])
def test_every_fix_writes_only_secure_values_and_makes_the_check_pass(check, failing, fix_problems):
    assert fix_problems(check, failing) == []


def test_every_revertible_check_is_covered_by_the_fix_safety_test():
    assert {c.id for c in ws.KIND.checks if c.revertible} == {ws.PUBLIC_NETWORK.id, ws.SYSTEM_DATASTORE_KEY_AUTH.id}


# The contract helpers catch what they are meant to catch -------------------------------------------

def test_fix_safety_helper_rejects_a_fix_that_writes_an_insecure_value(fix_problems):
    from dataclasses import replace

    from remediators.base import Fix, PropertyChange

    loosening = replace(ws.PUBLIC_NETWORK, fix=Fix(
        changes=lambda r: (PropertyChange("properties.publicNetworkAccess", "Enabled", ("Disabled",)),),
        write_action=ws.WRITE))
    problems = fix_problems(loosening, workspace(publicNetworkAccess="Enabled"))
    assert any("not in secure_values" in p for p in problems)
    assert any("still fails" in p for p in problems)


def test_metadata_helper_rejects_a_non_revertible_check_without_a_reason(check_metadata_problems):
    from dataclasses import replace

    broken = replace(ws.KIND.checks[1], id="ws_behind_vnet", risk="", not_revertible_because="")
    problems = check_metadata_problems(broken, "aml-")
    assert any("kebab-case" in p for p in problems)
    assert "risk is empty" in problems
    assert "not revertible but gives no reason" in problems
