"""Scenarios of remediators/ml_registry.py on hand-made registries (no published registry sample exists)."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_registry as reg
from remediators.base import CheckContext, Mode, OperationRole

NO_OP = CheckContext()


def registry(**properties: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/registries/r",
        "type": reg.TYPE,
        "name": "r",
        "properties": properties,
    }


def pe_connection(status: str, key: str = "registryPrivateLinkServiceConnectionState") -> dict[str, Any]:
    return {"id": "/subscriptions/s/.../registries/r/privateEndpointConnections/pe",
            "properties": {"groupIds": ["amlregistry"], key: {"status": status}}}


def test_kind_is_registered_under_the_registry_type():
    assert remediators.kind_for("microsoft.machinelearningservices/registries") is reg.KIND
    assert reg.KIND.api_version == "2025-12-01"


def test_public_network_defaults_to_ticket_and_is_not_revertible_because_put_only():
    assert [c.id for c in reg.KIND.checks] == ["aml-registry-public-network"]
    assert reg.PUBLIC_NETWORK.default_mode is Mode.TICKET
    assert reg.PUBLIC_NETWORK.fix is None
    assert "PUT-only" in reg.PUBLIC_NETWORK.not_revertible_because


@pytest.mark.parametrize("check", reg.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == reg.TYPE
    assert check.policies == ()
    assert check_metadata_problems(check, "aml-") == []


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/registries/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/registries/delete", OperationRole.DELETE),
    ("microsoft.machinelearningservices/registries/privateendpointconnections/write", OperationRole.EVALUATE),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert reg.KIND.role_of(operation) is role


def test_public_network_fails_when_property_absent():
    result = reg.PUBLIC_NETWORK.evaluate(registry(), NO_OP)
    assert not result.passed
    assert result.observed["properties.publicNetworkAccess"] is None


@pytest.mark.parametrize("value", ["Enabled", "enabled", "", "SomethingElse"])
def test_public_network_fails_unless_disabled(value):
    assert not reg.PUBLIC_NETWORK.evaluate(registry(publicNetworkAccess=value), NO_OP).passed


@pytest.mark.parametrize("value", ["Disabled", "disabled"])
def test_public_network_passes_when_disabled(value):
    assert reg.PUBLIC_NETWORK.evaluate(registry(publicNetworkAccess=value), NO_OP).passed


def test_public_network_counts_approved_registry_private_endpoints():
    resource = registry(publicNetworkAccess="Enabled", registryPrivateEndpointConnections=[
        pe_connection("Approved"), pe_connection("approved", key="privateLinkServiceConnectionState"),
        pe_connection("Pending"),
    ])
    result = reg.PUBLIC_NETWORK.evaluate(resource, NO_OP)
    assert not result.passed
    assert result.observed["approved_private_endpoints"] == 2
    assert "2 Approved" in result.detail


def test_public_network_ignores_the_workspace_style_private_endpoint_list():
    resource = registry(publicNetworkAccess="Enabled", privateEndpointConnections=[pe_connection("Approved")])
    assert reg.PUBLIC_NETWORK.evaluate(resource, NO_OP).observed["approved_private_endpoints"] == 0
