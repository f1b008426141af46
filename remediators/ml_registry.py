"""Microsoft.MachineLearningServices/registries: cross-workspace model and environment registries.

Registries are PUT-only (no PATCH of publicNetworkAccess), so nothing here is reverted in place.

Scenarios (each has a test of the same name in tests/remediators/test_ml_registry.py):
- public network access anything but Disabled (absent counts as Enabled) -> ticket; not revertible;
  the detail counts the Approved private endpoints at properties.registryPrivateEndpointConnections
"""
from __future__ import annotations

from typing import Any, Mapping

from remediators import props
from remediators.base import (
    Check,
    CheckContext,
    Evaluation,
    ManualFix,
    Mode,
    OperationRole,
    ResourceKind,
    Severity,
    failed,
    passed,
)

TYPE = "Microsoft.MachineLearningServices/registries"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

_PE_PATH = "properties.registryPrivateEndpointConnections"


def approved_registry_private_endpoints(resource: Mapping[str, Any]) -> int:
    """Approved registry PE connections; the state is `registryPrivateLinkServiceConnectionState` (or the usual name)."""
    count = 0
    for connection in props.get(resource, _PE_PATH) or []:
        if not isinstance(connection, Mapping):
            continue
        for path in ("properties.registryPrivateLinkServiceConnectionState.status",
                     "properties.privateLinkServiceConnectionState.status",
                     "registryPrivateLinkServiceConnectionState.status",
                     "privateLinkServiceConnectionState.status"):
            status = props.get(connection, path)
            if status is not None:
                break
        if props.equals(status, "Approved"):
            count += 1
    return count


# aml-registry-public-network -------------------------------------------------------------------

def _public_network(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.publicNetworkAccess")
    count = approved_registry_private_endpoints(resource)
    evidence = {"properties__publicNetworkAccess": value, "approved_private_endpoints": count}
    if props.equals(value, "Disabled"):
        return passed(f"public network access is Disabled ({count} Approved private endpoint connection(s))", **evidence)
    shown = "absent (defaults to Enabled)" if value is None else repr(value)
    return failed(f"public network access is {shown}; {count} Approved private endpoint connection(s)", **evidence)


PUBLIC_NETWORK = Check(
    id="aml-registry-public-network",
    title="Registry public network access is enabled",
    severity=Severity.MEDIUM,
    risk="The registry's models, environments and components can be reached and pulled from the internet.",
    blast_radius=(
        "High: registry consumers in other workspaces or regions lose access unless they reach it through "
        "a registry private endpoint."
    ),
    manual_fix=ManualFix(
        cli="az rest --method get --url \"https://management.azure.com<registry-id>?api-version=2025-12-01\" > registry.json; "
            "set properties.publicNetworkAccess to \"Disabled\" in registry.json; "
            "az rest --method put --url \"https://management.azure.com<registry-id>?api-version=2025-12-01\" --body @registry.json",
        bicep="resource reg 'Microsoft.MachineLearningServices/registries@2025-12-01' = { ... properties: { publicNetworkAccess: 'Disabled' } }",
        portal="Registry > Networking > Public network access: Disabled (add a private endpoint with group id 'amlregistry' first)",
    ),
    policies=(),
    benchmark="MCSB NS-2",
    evaluate=_public_network,
    default_mode=Mode.TICKET,
    not_revertible_because="registries are PUT-only: publicNetworkAccess cannot be patched, only the whole registry rewritten",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning registry",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/privateEndpointConnections/write": OperationRole.EVALUATE,
        f"{TYPE}/privateEndpointConnections/delete": OperationRole.EVALUATE,
    },
    checks=(PUBLIC_NETWORK,),
)
