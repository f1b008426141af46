"""Microsoft.CognitiveServices/accounts: Azure OpenAI, Azure AI services and AI Foundry resources.

Scenarios (each has a test of the same name in tests/remediators/test_cognitive_account.py):
- public access with an Approved private endpoint -> revert; without one -> ticket that says why
- network ACLs open while public access is on -> ticket (revert on opt-in keeps the allowlists)
- local (key) auth allowed, absent counts as allowed -> ticket (revert on opt-in)
- no managed identity -> revert (low blast radius)
- no Approved private endpoint -> report
- keys fetched (listKeys / regenerateKey) while local auth is allowed -> ticket naming the caller
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

TYPE = "Microsoft.CognitiveServices/accounts"
API_VERSION = "2025-09-01"
WRITE = f"{TYPE}/write"

KEY_OPERATIONS = (f"{TYPE}/listKeys/action", f"{TYPE}/regenerateKey/action")


# cogsvc-public-network -------------------------------------------------------------------------

def _public_network(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.publicNetworkAccess")
    if props.equals(value, "Disabled"):
        return passed("public network access is Disabled", properties__publicNetworkAccess=value)
    shown = "absent (defaults to Enabled)" if value is None else repr(value)
    return failed(f"public network access is {shown}", properties__publicNetworkAccess=value)


PUBLIC_NETWORK = Check(
    id="cogsvc-public-network",
    title="Public network access is enabled",
    severity=Severity.HIGH,
    risk="The account's data plane (model inference, keys, fine-tuning data) is reachable from the internet.",
    blast_radius=(
        "High: only private endpoints keep working; IP/VNet firewall rules and the portal playground from "
        "the internet stop working. Reverted only when an Approved private endpoint exists."
    ),
    manual_fix=ManualFix(
        cli="az resource update --ids <resource-id> --set properties.publicNetworkAccess=Disabled",
        bicep="properties: { publicNetworkAccess: 'Disabled' }",
        portal="Resource > Networking > Firewalls and virtual networks > Allow access from: Disabled",
    ),
    policies=(
        PolicyRef("47ba1dd7-28d9-4b07-a8d5-9813bed64e0c", "Configure Cognitive Services accounts to disable public network access", "Modify"),
        PolicyRef("037eea7a-bd0a-46c5-9a66-03aea78705d3", "Azure AI Services resources should restrict network access", "Audit"),
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


# cogsvc-network-acls-open ----------------------------------------------------------------------

def _network_acls_open(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    access = props.get(resource, "properties.publicNetworkAccess")
    action = props.get(resource, "properties.networkAcls.defaultAction")
    if props.equals(access, "Disabled"):
        return passed("public network access is Disabled, so network rules do not apply",
                      properties__networkAcls__defaultAction=action)
    if props.equals(action, "Deny"):
        return passed("network rules deny by default (selected networks only)",
                      properties__networkAcls__defaultAction=action)
    shown = "absent (allows all)" if action is None else repr(action)
    return failed(f"public network access is on and the network rules' default action is {shown}",
                  properties__networkAcls__defaultAction=action)


def _deny_by_default(resource: Mapping[str, Any]) -> tuple[PropertyChange, ...]:
    return (PropertyChange("properties.networkAcls.defaultAction", "Deny", ("Deny",)),)


def _whole_network_acls(resource: Mapping[str, Any]) -> dict[str, Any]:
    """ARM replaces networkAcls as a whole: send the current rules with defaultAction Deny (as `az` does)."""
    current = props.get(resource, "properties.networkAcls")
    acls: dict[str, Any] = dict(current) if isinstance(current, Mapping) else {}
    for key in [k for k in acls if k.lower() == "defaultaction"]:
        del acls[key]
    acls["defaultAction"] = "Deny"
    acls.setdefault("ipRules", [])
    acls.setdefault("virtualNetworkRules", [])
    return {"properties": {"networkAcls": acls}}


NETWORK_ACLS_OPEN = Check(
    id="cogsvc-network-acls-open",
    title="Network rules allow every network",
    severity=Severity.HIGH,
    risk="With public access on and no deny-by-default firewall, any internet client can reach the account.",
    blast_radius=(
        "High: every caller outside the ipRules / virtualNetworkRules allowlist is blocked; with empty lists "
        "this equals closing public access. bypass=AzureServices keeps trusted Azure services working."
    ),
    manual_fix=ManualFix(
        cli="az cognitiveservices account network-rule add -g <rg> -n <name> --ip-address <cidr>; "
            "az resource update --ids <resource-id> --set properties.networkAcls.defaultAction=Deny",
        bicep="properties: { networkAcls: { defaultAction: 'Deny', ipRules: [ ... ], virtualNetworkRules: [ ... ] } }",
        portal="Resource > Networking > Firewalls and virtual networks > Selected networks and private endpoints",
    ),
    policies=(
        PolicyRef("037eea7a-bd0a-46c5-9a66-03aea78705d3", "Azure AI Services resources should restrict network access", "Audit"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_network_acls_open,
    default_mode=Mode.TICKET,
    fix=Fix(changes=_deny_by_default, write_action=WRITE, patch_body=_whole_network_acls,
            owned_paths=("properties.networkAcls",)),
)


# cogsvc-local-auth -----------------------------------------------------------------------------

def _local_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.disableLocalAuth")
    if props.truthy(value) is True:
        return passed("local (key) authentication is disabled", properties__disableLocalAuth=value)
    shown = "absent (keys allowed)" if value is None else repr(value)
    return failed(f"local (key) authentication is allowed: disableLocalAuth is {shown}",
                  properties__disableLocalAuth=value)


LOCAL_AUTH = Check(
    id="cogsvc-local-auth",
    title="Key (local) authentication is allowed",
    severity=Severity.HIGH,
    risk="Anyone holding an API key can call the account; keys cannot be scoped, audited per caller or made to expire.",
    blast_radius=(
        "High: every client sending api-key / Ocp-Apim-Subscription-Key breaks (app settings with keys, APIM "
        "backends, the Studio playground) a few minutes after the change. Reversible."
    ),
    manual_fix=ManualFix(
        cli="az resource update --ids <resource-id> --set properties.disableLocalAuth=true",
        bicep="properties: { disableLocalAuth: true }",
        portal="Move clients to Microsoft Entra ID first, then set disableLocalAuth (Resource > JSON view / CLI)",
    ),
    policies=(
        PolicyRef("71ef260a-8f18-47b7-abcb-62d0673d94dc", "Azure AI Services resources should have key access disabled", "Audit"),
        PolicyRef("14de9e63-1b31-492e-a5a3-c3f7fd57f555", "Configure Cognitive Services accounts to disable local authentication methods", "Modify"),
    ),
    benchmark="MCSB IM-1",
    evaluate=_local_auth,
    default_mode=Mode.TICKET,
    fix=Fix(changes=lambda r: (PropertyChange("properties.disableLocalAuth", True, (True,)),), write_action=WRITE),
)


# cogsvc-no-managed-identity --------------------------------------------------------------------

def _managed_identity(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "identity.type")
    kinds = props.identity_types(value)
    if kinds & {"systemassigned", "userassigned"}:
        return passed(f"managed identity {value!r}", identity__type=value)
    shown = "absent" if value is None else repr(value)
    return failed(f"no managed identity: identity.type is {shown}", identity__type=value)


NO_MANAGED_IDENTITY = Check(
    id="cogsvc-no-managed-identity",
    title="No managed identity",
    severity=Severity.MEDIUM,
    risk="Without a managed identity the account reaches storage, Key Vault and other services with secrets instead of Entra ID.",
    blast_radius=(
        "Low: adds a system-assigned identity (a new service principal) and changes no existing access; "
        "customer-managed keys or user-owned storage may still need role assignments."
    ),
    manual_fix=ManualFix(
        cli="az cognitiveservices account identity assign -g <rg> -n <name>",
        bicep="identity: { type: 'SystemAssigned' }",
        portal="Resource > Identity > System assigned > Status: On",
    ),
    policies=(
        PolicyRef("fe3fd216-4f83-4fc1-8984-2bbec80a3418", "Cognitive Services accounts should use a managed identity", "Audit"),
    ),
    benchmark="MCSB IM-3",
    evaluate=_managed_identity,
    default_mode=Mode.REVERT,
    fix=Fix(changes=lambda r: (PropertyChange("identity.type", "SystemAssigned", ("SystemAssigned",)),), write_action=WRITE),
)


# cogsvc-private-endpoint-missing ---------------------------------------------------------------

def _private_endpoint(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    count = approved_private_endpoints(resource)
    if count:
        return passed(f"{count} Approved private endpoint connection(s)", approved_private_endpoints=count)
    return failed("no Approved private endpoint connection", approved_private_endpoints=0)


PRIVATE_ENDPOINT_MISSING = Check(
    id="cogsvc-private-endpoint-missing",
    title="No Approved private endpoint",
    severity=Severity.MEDIUM,
    risk="Without a private endpoint, traffic to the account can only use the public endpoint, and public access cannot be safely closed.",
    blast_radius="n/a: creating a private endpoint needs a subnet and a private DNS zone, so a human does it.",
    manual_fix=ManualFix(
        cli="az network private-endpoint create -g <rg> -n <pe-name> --vnet-name <vnet> --subnet <subnet> "
            "--private-connection-resource-id <resource-id> --group-id account --connection-name <name>",
        bicep="resource pe 'Microsoft.Network/privateEndpoints@2023-11-01' = { ... groupIds: [ 'account' ] ... }",
        portal="Resource > Networking > Private endpoint connections > + Private endpoint",
    ),
    policies=(
        PolicyRef("d6759c02-b87f-42b7-892e-71b3f471d782", "Azure AI Services resources should use Azure Private Link", "Audit"),
        PolicyRef("db630ad5-52e9-4f4d-9c44-53912fe40053", "Configure Cognitive Services accounts with private endpoints", "DeployIfNotExists"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_private_endpoint,
    default_mode=Mode.REPORT,
    not_revertible_because="a private endpoint needs a subnet and a private DNS zone chosen by a human",
)


# cogsvc-key-retrieval --------------------------------------------------------------------------

def _key_retrieval(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if ctx.operation is None or ctx.operation.lower() not in {op.lower() for op in KEY_OPERATIONS}:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.disableLocalAuth")
    operation = ctx.operation.rsplit("/", 2)[-2]
    who = ctx.caller or "an unknown caller"
    if props.truthy(value) is True:
        return passed(f"{who} called {operation}, but local auth is disabled so the keys do not work",
                      properties__disableLocalAuth=value)
    return failed(f"{who} called {operation} while local auth is enabled: keys are used instead of an identity",
                  properties__disableLocalAuth=value)


KEY_RETRIEVAL = Check(
    id="cogsvc-key-retrieval",
    title="Keys retrieved while key authentication is allowed",
    severity=Severity.HIGH,
    risk="Someone fetched or rotated working API keys: a client depends on keys instead of a managed identity, or keys may be leaving the tenant.",
    blast_radius="n/a: a key retrieval cannot be undone; the lasting fix is cogsvc-local-auth after moving the caller to Entra ID.",
    manual_fix=ManualFix(
        cli="Move the caller to Entra ID (role 'Cognitive Services OpenAI User' / 'Cognitive Services User'), "
            "rotate keys with az cognitiveservices account keys regenerate, then disable local auth",
        bicep="properties: { disableLocalAuth: true }",
        portal="Resource > Access control (IAM) > add a data-plane role for the caller; Keys and Endpoint > Regenerate",
    ),
    policies=(
        PolicyRef("71ef260a-8f18-47b7-abcb-62d0673d94dc", "Azure AI Services resources should have key access disabled", "Audit"),
    ),
    benchmark="MCSB IM-1",
    evaluate=_key_retrieval,
    default_mode=Mode.TICKET,
    not_revertible_because="a key retrieval already happened; nothing to revert (fix cogsvc-local-auth instead)",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure AI services / Azure OpenAI / AI Foundry account",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/listKeys/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/regenerateKey/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/privateEndpointConnections/write": OperationRole.EVALUATE,
        f"{TYPE}/privateEndpointConnections/delete": OperationRole.EVALUATE,
        f"{TYPE}/joinPerimeter/action": OperationRole.EVALUATE,
        f"{TYPE}/networkSecurityPerimeterConfigurations/reconcile/action": OperationRole.EVALUATE,
    },
    checks=(PUBLIC_NETWORK, NETWORK_ACLS_OPEN, LOCAL_AUTH, NO_MANAGED_IDENTITY, PRIVATE_ENDPOINT_MISSING, KEY_RETRIEVAL),
)
