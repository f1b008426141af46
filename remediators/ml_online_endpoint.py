"""Microsoft.MachineLearningServices/workspaces/onlineEndpoints: managed (and Kubernetes) online endpoints.

The endpoint PATCH body carries only `tags` and `identity`, so `authMode` and `publicNetworkAccess` can only
be reverted with a full PUT round trip (the current body with the reverted values replaced). That is why
both checks default to ticket and revert only on opt-in.

Scenarios (each has a test of the same name in tests/remediators/test_ml_online_endpoint.py):
- scoring with keys (authMode Key, absent counts as Key) -> ticket; revert on opt-in by PUT to AADToken,
  guarded: only managed endpoints support AADToken (a Kubernetes endpoint names its compute)
- AMLToken passes (expiring tokens, weaker than Entra ID): the detail says so
- public network access, absent counts as Enabled -> ticket; revert on opt-in by PUT to Disabled
- scoring keys or tokens fetched (listkeys / regeneratekeys / token, any casing) while authMode is Key or
  AMLToken -> ticket naming the caller
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
    PropertyChange,
    ResourceKind,
    Severity,
    failed,
    passed,
)

TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

# ARM spells these in lower case; they are matched case-insensitively anyway.
KEY_OPERATIONS = (
    "Microsoft.MachineLearningServices/workspaces/onlineendpoints/listkeys/action",
    "Microsoft.MachineLearningServices/workspaces/onlineendpoints/regeneratekeys/action",
    "Microsoft.MachineLearningServices/workspaces/onlineendpoints/token/action",
)


# aml-oe-key-auth -------------------------------------------------------------------------------

def _key_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.authMode")
    if props.equals(value, "AADToken"):
        return passed("scoring requires Microsoft Entra ID tokens (AADToken)", properties__authMode=value)
    if props.equals(value, "AMLToken"):
        return passed("scoring uses expiring AML tokens (AMLToken); Entra ID tokens (AADToken) would be stronger",
                      properties__authMode=value)
    shown = "absent (key-based)" if value is None else repr(value)
    return failed(f"scoring accepts static keys: authMode is {shown}", properties__authMode=value)


def _managed_endpoint_guard(resource: Mapping[str, Any]) -> Guard:
    compute = props.text(props.get(resource, "properties.compute"))
    if compute:
        return Guard(False, f"the endpoint runs on the attached compute {compute!r} (Kubernetes), "
                            "which supports only key and AML token auth")
    return Guard(True, "managed online endpoint (no attached compute): AADToken is supported")


KEY_AUTH = Check(
    id="aml-oe-key-auth",
    title="Online endpoint accepts static keys for scoring",
    severity=Severity.HIGH,
    risk="Anyone holding an endpoint key can score the model; keys do not expire, cannot be scoped and are not audited per caller.",
    blast_radius=(
        "High: every scoring client that sends keys or AML tokens gets 401; callers need an Entra role with "
        "workspaces/onlineEndpoints/score/action. Needs a full PUT of the endpoint."
    ),
    manual_fix=ManualFix(
        cli="Grant callers 'AzureML Data Scientist' (or a role with onlineEndpoints/score/action), then "
            "az ml online-endpoint update -g <rg> -w <workspace> -n <endpoint> --set auth_mode=aad_token",
        bicep="resource ep 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2025-12-01' = { ... properties: { authMode: 'AADToken' } }",
        portal="Studio > Endpoints > <endpoint> > Update: Authentication type 'Microsoft Entra token-based'",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_key_auth,
    default_mode=Mode.TICKET,
    fix=Fix(
        changes=lambda r: (PropertyChange("properties.authMode", "AADToken", ("AADToken",)),),
        write_action=WRITE,
        method="PUT",
        guard=_managed_endpoint_guard,
    ),
)


# aml-oe-public-network -------------------------------------------------------------------------

def _public_network(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.publicNetworkAccess")
    if props.equals(value, "Disabled"):
        return passed("public network access is Disabled", properties__publicNetworkAccess=value)
    shown = "absent (defaults to Enabled)" if value is None else repr(value)
    return failed(f"scoring is reachable from the internet: public network access is {shown}",
                  properties__publicNetworkAccess=value)


PUBLIC_NETWORK = Check(
    id="aml-oe-public-network",
    title="Online endpoint is reachable from public networks",
    severity=Severity.HIGH,
    risk="The scoring URI accepts requests from any internet client, so a leaked key or token is usable from anywhere.",
    blast_radius=(
        "High: scoring from the internet is blocked; inbound traffic then goes only through the workspace "
        "private endpoint. Needs a full PUT of the endpoint."
    ),
    manual_fix=ManualFix(
        cli="az ml online-endpoint update -g <rg> -w <workspace> -n <endpoint> --set public_network_access=disabled",
        bicep="resource ep 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2025-12-01' = { ... properties: { publicNetworkAccess: 'Disabled' } }",
        portal="Studio > Endpoints > <endpoint> > Update: Public network access Disabled (needs a workspace private endpoint)",
    ),
    policies=(),
    benchmark="MCSB NS-2",
    evaluate=_public_network,
    default_mode=Mode.TICKET,
    fix=Fix(
        changes=lambda r: (PropertyChange("properties.publicNetworkAccess", "Disabled", ("Disabled",)),),
        write_action=WRITE,
        method="PUT",
    ),
)


# aml-oe-key-retrieval --------------------------------------------------------------------------

def _key_retrieval(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if ctx.operation is None or ctx.operation.lower() not in {op.lower() for op in KEY_OPERATIONS}:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.authMode")
    operation = ctx.operation.rsplit("/", 2)[-2]
    who = ctx.caller or "an unknown caller"
    if props.equals(value, "AADToken"):
        return passed(f"{who} called {operation}, but the endpoint accepts only Entra ID tokens",
                      properties__authMode=value)
    shown = "absent (key-based)" if value is None else repr(value)
    return failed(f"{who} called {operation} while authMode is {shown}: scoring uses keys or AML tokens instead of Entra ID",
                  properties__authMode=value)


KEY_RETRIEVAL = Check(
    id="aml-oe-key-retrieval",
    title="Scoring keys or tokens retrieved while the endpoint accepts them",
    severity=Severity.HIGH,
    risk="Someone fetched or rotated working scoring keys or AML tokens: a client depends on them, or they may be leaving the tenant.",
    blast_radius="n/a: a key retrieval cannot be undone; the lasting fix is aml-oe-key-auth after moving the caller to Entra ID.",
    manual_fix=ManualFix(
        cli="Move the caller to Entra ID tokens, rotate with az ml online-endpoint regenerate-keys -g <rg> -w <workspace> "
            "-n <endpoint> --key-type primary (and secondary), then set auth_mode=aad_token",
        bicep="properties: { authMode: 'AADToken' }",
        portal="Studio > Endpoints > <endpoint> > Consume: stop sharing keys; Workspace > Access control (IAM) > add a scoring role",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_key_retrieval,
    default_mode=Mode.TICKET,
    not_revertible_because="a key or token retrieval already happened; nothing to revert (fix aml-oe-key-auth instead)",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning online endpoint",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        **{op: OperationRole.KEY_RETRIEVAL for op in KEY_OPERATIONS},
    },
    checks=(KEY_AUTH, PUBLIC_NETWORK, KEY_RETRIEVAL),
)
