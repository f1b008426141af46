"""Microsoft.MachineLearningServices/workspaces: Azure Machine Learning workspaces and AI Foundry hubs/projects.

Scenarios (each has a test of the same name in tests/remediators/test_ml_workspace.py):
- public network access, absent counts as Enabled: revert when an Approved workspace private endpoint
  exists; without one -> ticket that says why
- allowPublicAccessWhenBehindVnet true (legacy) -> ticket; not revertible (absent from the PATCH schema)
- no Approved private endpoint -> report (a Foundry project inherits its hub's: not applicable)
- managed VNet isolation not AllowOnlyApprovedOutbound, absent counts as Disabled -> ticket; not
  revertible (enabling it means deleting every compute and managed online endpoint first)
  (a Foundry project inherits its hub's: not applicable)
- system datastores reached with the storage account key (AccessKey, absent counts as key-based)
  -> ticket; revert on opt-in to Identity, guarded by the workspace having a managed identity
- no managed identity (or user-assigned only without a primary identity) -> ticket; not revertible
- keys fetched (listKeys / resynckeys / listStorageAccountKeys) while the system datastores are not
  identity-based -> ticket naming the caller
- connection secrets fetched (connections/listsecrets) -> a key-retrieval operation of this kind, so
  the workspace is re-read and evaluated; it has no check of its own (connection auth is not visible
  in the workspace JSON)
"""
from __future__ import annotations

from typing import Any, Mapping

from remediators import props
from remediators.base import (
    Check,
    CheckContext,
    Evaluation,
    Fix,
    Guard,
    ManualFix,
    Mode,
    NOT_APPLICABLE,
    OperationRole,
    PolicyRef,
    PropertyChange,
    ResourceKind,
    Severity,
    approved_private_endpoints,
    failed,
    passed,
    private_endpoint_guard,
)

TYPE = "Microsoft.MachineLearningServices/workspaces"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

KEY_OPERATIONS = (
    f"{TYPE}/listKeys/action",
    f"{TYPE}/resynckeys/action",
    f"{TYPE}/listStorageAccountKeys/action",
)
CONNECTION_SECRETS_OPERATION = f"{TYPE}/connections/listsecrets/action"

_PATCH_URL = "https://management.azure.com<workspace-id>?api-version=2025-12-01"


def _is_project(resource: Mapping[str, Any]) -> bool:
    """An AI Foundry hub-based project: its network isolation belongs to its hub."""
    return props.equals(props.get(resource, "kind"), "Project")


# aml-ws-public-network -------------------------------------------------------------------------

def _public_network(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.publicNetworkAccess")
    if props.equals(value, "Disabled"):
        return passed("public network access is Disabled", properties__publicNetworkAccess=value)
    shown = "absent (defaults to Enabled)" if value is None else repr(value)
    return failed(f"public network access is {shown}", properties__publicNetworkAccess=value)


PUBLIC_NETWORK = Check(
    id="aml-ws-public-network",
    title="Workspace public network access is enabled",
    severity=Severity.HIGH,
    risk="The workspace APIs (Studio, SDK, CLI, data and model access) are reachable from the internet.",
    blast_radius=(
        "High: Studio, SDK and CLI from public networks lose access; without an Approved workspace private "
        "endpoint nobody can reach the workspace APIs. Reverted only when an Approved private endpoint exists."
    ),
    manual_fix=ManualFix(
        cli="az ml workspace update -g <rg> -n <workspace> --public-network-access Disabled",
        bicep="properties: { publicNetworkAccess: 'Disabled' }",
        portal="Workspace (or hub) > Networking > Public access > Public network access: Disabled",
    ),
    policies=(
        PolicyRef("438c38d2-3772-465a-a9cc-7a6666a275ce", "Azure Machine Learning Workspaces should disable public network access", "Audit"),
        PolicyRef("a10ee784-7409-4941-b091-663697637c0f", "Configure Azure Machine Learning Workspaces to disable public network access", "Modify"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_public_network,
    default_mode=Mode.REVERT,
    fix=Fix(
        changes=lambda r: (PropertyChange("properties.publicNetworkAccess", "Disabled", ("Disabled",)),),
        write_action=WRITE,
        guard=private_endpoint_guard,
    ),
)


# aml-ws-public-behind-vnet ---------------------------------------------------------------------

def _public_behind_vnet(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.allowPublicAccessWhenBehindVnet")
    if props.truthy(value) is True:
        return failed(f"allowPublicAccessWhenBehindVnet is {value!r}: the workspace is public although it is behind a VNet",
                      properties__allowPublicAccessWhenBehindVnet=value)
    shown = "absent (defaults to false)" if value is None else repr(value)
    return passed(f"allowPublicAccessWhenBehindVnet is {shown}", properties__allowPublicAccessWhenBehindVnet=value)


PUBLIC_BEHIND_VNET = Check(
    id="aml-ws-public-behind-vnet",
    title="Public access allowed although the workspace is behind a VNet (legacy setting)",
    severity=Severity.HIGH,
    risk="The legacy switch reopens a private-link workspace to the internet, bypassing its private endpoint.",
    blast_radius=(
        "High: same as closing public network access; changing it needs a full PUT of the workspace, "
        "so a human does it (preferably by setting publicNetworkAccess to Disabled)."
    ),
    manual_fix=ManualFix(
        cli="az ml workspace update -g <rg> -n <workspace> --public-network-access Disabled, and redeploy the "
            "workspace (PUT: az deployment group create with the Bicep below) with allowPublicAccessWhenBehindVnet false",
        bicep="properties: { publicNetworkAccess: 'Disabled', allowPublicAccessWhenBehindVnet: false }",
        portal="Workspace > Networking > Public access > Public network access: Disabled",
    ),
    policies=(),
    benchmark="MCSB NS-2",
    evaluate=_public_behind_vnet,
    default_mode=Mode.TICKET,
    not_revertible_because=(
        "allowPublicAccessWhenBehindVnet is not in the workspace PATCH schema (WorkspacePropertiesUpdateParameters): "
        "only a full PUT of the workspace can change it"
    ),
)


# aml-ws-private-endpoint-missing ---------------------------------------------------------------

def _private_endpoint(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _is_project(resource):
        return NOT_APPLICABLE  # a Foundry project is reached through its hub's private endpoints
    count = approved_private_endpoints(resource)
    if count:
        return passed(f"{count} Approved private endpoint connection(s)", approved_private_endpoints=count)
    return failed("no Approved private endpoint connection", approved_private_endpoints=0)


PRIVATE_ENDPOINT_MISSING = Check(
    id="aml-ws-private-endpoint-missing",
    title="No Approved workspace private endpoint",
    severity=Severity.MEDIUM,
    risk="Without a private endpoint the workspace is reachable only through its public endpoint, and public access cannot be safely closed.",
    blast_radius="n/a: creating a private endpoint needs a subnet and private DNS zones, so a human does it.",
    manual_fix=ManualFix(
        cli="az network private-endpoint create -g <rg> -n <pe-name> --vnet-name <vnet> --subnet <subnet> "
            "--private-connection-resource-id <workspace-id> --group-id amlworkspace --connection-name <name> "
            "(then link privatelink.api.azureml.ms and privatelink.notebooks.azure.net)",
        bicep="resource pe 'Microsoft.Network/privateEndpoints@2023-11-01' = { ... groupIds: [ 'amlworkspace' ] ... }",
        portal="Workspace (or hub) > Networking > Private endpoint connections > + Private endpoint",
    ),
    policies=(
        PolicyRef("45e05259-1eb5-4f70-9574-baf73e9d219b", "Azure Machine Learning workspaces should use private link", "Audit"),
        PolicyRef("7838fd83-5cbb-4b5d-888c-bfa240972597", "Configure Azure Machine Learning workspaces with private endpoints", "DeployIfNotExists"),
        PolicyRef("ee40564d-486e-4f68-a5ca-7a621edae0fb", "Configure Azure Machine Learning workspace to use private DNS zones", "DeployIfNotExists"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_private_endpoint,
    default_mode=Mode.REPORT,
    not_revertible_because="a private endpoint needs a subnet and private DNS zones chosen by a human",
)


# aml-ws-managed-network ------------------------------------------------------------------------

def _managed_network(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _is_project(resource):
        return NOT_APPLICABLE  # a Foundry project uses its hub's managed network
    value = props.get(resource, "properties.managedNetwork.isolationMode")
    if props.equals(value, "AllowOnlyApprovedOutbound"):
        return passed("managed VNet allows only approved outbound traffic",
                      properties__managedNetwork__isolationMode=value)
    if props.equals(value, "AllowInternetOutbound"):
        return failed("managed VNet is on but allows all internet outbound traffic (AllowInternetOutbound)",
                      properties__managedNetwork__isolationMode=value)
    shown = "absent (no managed VNet)" if value is None else repr(value)
    return failed(f"managed VNet isolation is {shown}", properties__managedNetwork__isolationMode=value)


MANAGED_NETWORK = Check(
    id="aml-ws-managed-network",
    title="Managed VNet does not restrict outbound traffic to approved destinations",
    severity=Severity.MEDIUM,
    risk="Computes and endpoints of the workspace can send data to any internet destination (exfiltration path).",
    blast_radius=(
        "Very high: enabling the managed VNet on an existing workspace requires deleting all compute "
        "instances, clusters and managed online endpoints first, and outbound rules must be designed."
    ),
    manual_fix=ManualFix(
        cli="Delete the workspace's computes and managed online endpoints, then "
            "az ml workspace update -g <rg> -n <workspace> --managed-network allow_only_approved_outbound; "
            "az ml workspace provision-network -g <rg> -n <workspace>; add outbound rules; recreate computes",
        bicep="properties: { managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound', outboundRules: { ... } } }",
        portal="Workspace (or hub) > Networking > Workspace managed outbound access > Allow only approved outbound",
    ),
    policies=(
        PolicyRef("6ddb1705-c8cf-450e-aa4b-19ad6703c440",
                  "Azure Machine Learning and Ai Studio should use Allow Only Approved Outbound Managed Vnet mode "
                  "(assign with isolationMode = AllowOnlyApprovedOutbound; its default is Disabled)", "Audit"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_managed_network,
    default_mode=Mode.TICKET,
    not_revertible_because=(
        "very high blast radius: turning on the managed VNet requires deleting every compute and managed "
        "online endpoint of the workspace first, and its outbound rules need a human design"
    ),
)


# aml-ws-system-datastore-key-auth --------------------------------------------------------------

_IDENTITY_BASED_DATASTORE_MODES = ("Identity", "UserDelegationSAS")


def _system_datastore_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.systemDatastoresAuthMode")
    if props.equals(value, "Identity"):
        return passed("system datastores use the workspace identity", properties__systemDatastoresAuthMode=value)
    if props.equals(value, "UserDelegationSAS"):
        return passed("system datastores use user-delegation SAS (signed with Entra ID, not the account key)",
                      properties__systemDatastoresAuthMode=value)
    shown = "absent (key-based)" if value is None else repr(value)
    return failed(f"system datastores authenticate with the storage account key: systemDatastoresAuthMode is {shown}",
                  properties__systemDatastoresAuthMode=value)


def _has_identity_guard(resource: Mapping[str, Any]) -> Guard:
    value = props.get(resource, "identity.type")
    if props.identity_types(value) & {"systemassigned", "userassigned"}:
        return Guard(True, f"the workspace has a managed identity ({value}) to reach its storage with")
    return Guard(False, "the workspace has no managed identity: identity-based datastores would lose all access")


SYSTEM_DATASTORE_KEY_AUTH = Check(
    id="aml-ws-system-datastore-key-auth",
    title="System datastores use the storage account key",
    severity=Severity.MEDIUM,
    risk="The workspace stores and hands out the default storage account's key, which grants full, unaudited access to all its data.",
    blast_radius=(
        "Medium-high: the workspace identity and every user and compute then need Storage data-plane roles "
        "on the default storage account; without them Studio, jobs and notebooks cannot read the default datastores."
    ),
    manual_fix=ManualFix(
        cli="Grant 'Storage Blob Data Contributor' / 'Storage File Data Privileged Contributor' to the workspace "
            f"identity, users and computes, then az rest --method patch --url \"{_PATCH_URL}\" "
            "--body '{\"properties\":{\"systemDatastoresAuthMode\":\"Identity\"}}'",
        bicep="properties: { systemDatastoresAuthMode: 'Identity' }",
        portal="Grant the storage roles (Storage account > Access control (IAM)), then Workspace > JSON view / CLI "
               "to set systemDatastoresAuthMode to Identity",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_system_datastore_auth,
    default_mode=Mode.TICKET,
    fix=Fix(
        changes=lambda r: (PropertyChange("properties.systemDatastoresAuthMode", "Identity", _IDENTITY_BASED_DATASTORE_MODES),),
        write_action=WRITE,
        guard=_has_identity_guard,
    ),
)


# aml-ws-no-managed-identity --------------------------------------------------------------------

def _managed_identity(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "identity.type")
    primary = props.get(resource, "properties.primaryUserAssignedIdentity")
    kinds = props.identity_types(value)
    evidence = {"identity__type": value, "properties__primaryUserAssignedIdentity": primary}
    if "systemassigned" in kinds:
        return passed(f"managed identity {value!r}", **evidence)
    if "userassigned" in kinds:
        if props.text(primary):
            return passed(f"user-assigned identity {primary!r} is the primary identity", **evidence)
        return failed("user-assigned identity only, but no primaryUserAssignedIdentity: the workspace has no identity to act with",
                      **evidence)
    shown = "absent" if value is None else repr(value)
    return failed(f"no managed identity: identity.type is {shown}", **evidence)


NO_MANAGED_IDENTITY = Check(
    id="aml-ws-no-managed-identity",
    title="Workspace has no managed identity",
    severity=Severity.MEDIUM,
    risk="Without a managed identity the workspace reaches storage, Key Vault and the registry with secrets instead of Entra ID.",
    blast_radius=(
        "High: changing the workspace identity needs role assignments on its storage account, Key Vault and "
        "container registry; until they exist the workspace cannot use them."
    ),
    manual_fix=ManualFix(
        cli="az identity create -g <rg> -n <uai>; grant it the workspace's roles on storage, Key Vault and ACR; then "
            f"az rest --method patch --url \"{_PATCH_URL}\" --body '{{\"identity\":{{\"type\":\"UserAssigned\","
            "\"userAssignedIdentities\":{\"<uai-id>\":{}}},\"properties\":{\"primaryUserAssignedIdentity\":\"<uai-id>\"}}'",
        bicep="identity: { type: 'UserAssigned', userAssignedIdentities: { '<uai-id>': {} } }, "
              "properties: { primaryUserAssignedIdentity: '<uai-id>' }",
        portal="Workspace > Identity: assign an identity after granting it roles on storage, Key Vault and ACR",
    ),
    policies=(
        PolicyRef("5f0c7d88-c7de-45b8-ac49-db49e72eaa78", "Azure Machine Learning workspaces should use user-assigned managed identity", "Audit"),
    ),
    benchmark="MCSB IM-3",
    evaluate=_managed_identity,
    default_mode=Mode.TICKET,
    not_revertible_because=(
        "changing the workspace identity needs role assignments on storage, Key Vault and the container "
        "registry that the bot cannot choose"
    ),
)


# aml-ws-key-retrieval --------------------------------------------------------------------------

def _key_retrieval(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if ctx.operation is None or ctx.operation.lower() not in {op.lower() for op in KEY_OPERATIONS}:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.systemDatastoresAuthMode")
    operation = ctx.operation.rsplit("/", 2)[-2]
    who = ctx.caller or "an unknown caller"
    if props.equals(value, "Identity"):
        return passed(f"{who} called {operation}, but the system datastores use the workspace identity",
                      properties__systemDatastoresAuthMode=value)
    shown = "absent (key-based)" if value is None else repr(value)
    return failed(f"{who} called {operation} while systemDatastoresAuthMode is {shown}: "
                  "storage keys are in use instead of an identity",
                  properties__systemDatastoresAuthMode=value)


KEY_RETRIEVAL = Check(
    id="aml-ws-key-retrieval",
    title="Workspace keys retrieved while system datastores are not identity-based",
    severity=Severity.HIGH,
    risk="Someone fetched or resynchronised the workspace's storage, registry or insights keys: a client depends on keys, or keys may be leaving the tenant.",
    blast_radius="n/a: a key retrieval cannot be undone; the lasting fix is aml-ws-system-datastore-key-auth after moving the caller to Entra ID.",
    manual_fix=ManualFix(
        cli="Move the caller to Entra ID (role 'AzureML Data Scientist' plus storage data roles), rotate the storage "
            "keys with az storage account keys renew, run az ml workspace sync-keys, then set systemDatastoresAuthMode to Identity",
        bicep="properties: { systemDatastoresAuthMode: 'Identity' }",
        portal="Workspace > Access control (IAM) > add a role for the caller; Storage account > Access keys > Rotate key",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_key_retrieval,
    default_mode=Mode.TICKET,
    not_revertible_because="a key retrieval already happened; nothing to revert (fix aml-ws-system-datastore-key-auth instead)",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning workspace / AI Foundry hub or project",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/privateEndpointConnections/write": OperationRole.EVALUATE,
        f"{TYPE}/privateEndpointConnections/delete": OperationRole.EVALUATE,
        f"{TYPE}/provisionManagedNetwork/action": OperationRole.EVALUATE,
        f"{TYPE}/listKeys/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/resynckeys/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/listStorageAccountKeys/action": OperationRole.KEY_RETRIEVAL,
        CONNECTION_SECRETS_OPERATION: OperationRole.KEY_RETRIEVAL,
    },
    checks=(
        PUBLIC_NETWORK,
        PUBLIC_BEHIND_VNET,
        PRIVATE_ENDPOINT_MISSING,
        MANAGED_NETWORK,
        SYSTEM_DATASTORE_KEY_AUTH,
        NO_MANAGED_IDENTITY,
        KEY_RETRIEVAL,
    ),
)
