"""Scenarios of remediators/ml_online_endpoint.py on the published endpoint samples and hand-made variants."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_online_endpoint as oe
from remediators.base import CheckContext, Mode, OperationRole

GET = "ml-online-endpoint-get.spec-example-2025-12-01"
UPDATE = "ml-online-endpoint-update.spec-example-2025-12-01"
NO_OP = CheckContext()

LIST_KEYS = "Microsoft.MachineLearningServices/workspaces/onlineendpoints/listkeys/action"
REGENERATE_KEYS = "Microsoft.MachineLearningServices/workspaces/onlineendpoints/regeneratekeys/action"
TOKEN = "Microsoft.MachineLearningServices/workspaces/onlineendpoints/token/action"


def endpoint(**properties: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/onlineEndpoints/e",
        "type": oe.TYPE,
        "name": "e",
        "location": "eastus",
        "properties": properties,
    }


# Registration and declared shape ----------------------------------------------------------------

def test_kind_is_registered_under_the_online_endpoint_type():
    assert remediators.kind_for("Microsoft.MachineLearningServices/workspaces/onlineendpoints") is oe.KIND
    assert oe.KIND.api_version == "2025-12-01"
    assert oe.KIND.read_action == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/read"


def test_check_ids_and_default_modes_follow_the_catalog():
    declared = {c.id: (c.default_mode, c.revertible) for c in oe.KIND.checks}
    assert declared == {
        "aml-oe-key-auth": (Mode.TICKET, True),
        "aml-oe-public-network": (Mode.TICKET, True),
        "aml-oe-key-retrieval": (Mode.TICKET, False),
    }


@pytest.mark.parametrize("check", oe.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == oe.TYPE
    assert check.policies == ()  # the catalog found no built-in policy for online endpoints
    assert check_metadata_problems(check, "aml-") == []


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/delete", OperationRole.DELETE),
    (LIST_KEYS, OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action", OperationRole.KEY_RETRIEVAL),
    (REGENERATE_KEYS, OperationRole.KEY_RETRIEVAL),
    (TOKEN.upper(), OperationRole.KEY_RETRIEVAL),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert oe.KIND.role_of(operation) is role


# The published samples -----------------------------------------------------------------------------

def test_published_endpoint_with_aml_token_passes_key_auth_with_a_note(arm_sample):
    result = oe.KEY_AUTH.evaluate(arm_sample(GET), NO_OP)
    assert result.passed
    assert result.observed == {"properties.authMode": "AMLToken"}
    assert "AADToken" in result.detail  # says the stronger mode exists


def test_published_endpoint_fails_public_network_because_the_property_is_absent(arm_sample):
    result = oe.PUBLIC_NETWORK.evaluate(arm_sample(GET), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.publicNetworkAccess": None}


def test_published_update_response_behaves_like_the_get(arm_sample):
    resource = arm_sample(UPDATE)
    assert oe.KEY_AUTH.evaluate(resource, NO_OP).passed
    assert not oe.PUBLIC_NETWORK.evaluate(resource, NO_OP).passed


# aml-oe-key-auth -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["Key", "key", "KEY"])
def test_key_auth_fails_for_key_mode_in_any_casing(mode):
    result = oe.KEY_AUTH.evaluate(endpoint(authMode=mode), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.authMode": mode}


def test_key_auth_fails_when_property_absent():
    result = oe.KEY_AUTH.evaluate(endpoint(), NO_OP)
    assert not result.passed
    assert "absent" in result.detail


def test_key_auth_fails_for_an_unknown_mode():
    assert not oe.KEY_AUTH.evaluate(endpoint(authMode="Anonymous"), NO_OP).passed


@pytest.mark.parametrize("mode", ["AADToken", "aadtoken", "AMLToken", "amltoken"])
def test_key_auth_passes_for_token_modes(mode):
    assert oe.KEY_AUTH.evaluate(endpoint(authMode=mode), NO_OP).passed


def test_key_auth_revert_is_a_put_round_trip_to_aad_token():
    fix = oe.KEY_AUTH.fix
    assert fix.method == "PUT"
    assert fix.write_action == "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write"
    changes = fix.changes(endpoint(authMode="Key"))
    assert [(c.path, c.value) for c in changes] == [("properties.authMode", "AADToken")]


def test_key_auth_revert_is_refused_for_a_kubernetes_endpoint(arm_sample):
    guard = oe.KEY_AUTH.fix.guard
    kubernetes = endpoint(authMode="Key", compute="/subscriptions/s/.../workspaces/w/computes/aks")
    assert not guard(kubernetes).ok
    assert not guard(arm_sample(GET)).ok  # the sample names a compute ("string")
    assert guard(endpoint(authMode="Key")).ok
    assert guard(endpoint(authMode="Key", compute="")).ok


# aml-oe-public-network -----------------------------------------------------------------------------

def test_public_network_fails_when_property_absent():
    assert not oe.PUBLIC_NETWORK.evaluate(endpoint(authMode="AADToken"), NO_OP).passed


@pytest.mark.parametrize("value", ["Enabled", "enabled"])
def test_public_network_fails_when_enabled(value):
    assert not oe.PUBLIC_NETWORK.evaluate(endpoint(publicNetworkAccess=value), NO_OP).passed


@pytest.mark.parametrize("value", ["Disabled", "disabled"])
def test_public_network_passes_when_disabled(value):
    assert oe.PUBLIC_NETWORK.evaluate(endpoint(publicNetworkAccess=value), NO_OP).passed


def test_public_network_revert_is_a_put_round_trip_to_disabled():
    fix = oe.PUBLIC_NETWORK.fix
    assert fix.method == "PUT"
    assert fix.body(endpoint(publicNetworkAccess="Enabled")) == {"properties": {"publicNetworkAccess": "Disabled"}}


# aml-oe-key-retrieval ------------------------------------------------------------------------------

def test_key_retrieval_is_not_applicable_without_an_operation():
    assert not oe.KEY_RETRIEVAL.evaluate(endpoint(authMode="Key"), NO_OP).applicable


def test_key_retrieval_is_not_applicable_to_a_write():
    ctx = CheckContext(operation="Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write", caller="a")
    assert not oe.KEY_RETRIEVAL.evaluate(endpoint(authMode="Key"), ctx).applicable


@pytest.mark.parametrize("operation", [
    LIST_KEYS,
    "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/listKeys/action",
    REGENERATE_KEYS,
    TOKEN,
])
@pytest.mark.parametrize("mode", ["Key", "AMLToken", "amltoken", None])
def test_key_retrieval_fails_and_names_the_caller_for_key_or_aml_token(operation, mode):
    resource = endpoint() if mode is None else endpoint(authMode=mode)
    result = oe.KEY_RETRIEVAL.evaluate(resource, CheckContext(operation=operation, caller="app-1234"))
    assert result.applicable and not result.passed
    assert "app-1234" in result.detail


def test_key_retrieval_fails_on_the_published_aml_token_endpoint(arm_sample):
    result = oe.KEY_RETRIEVAL.evaluate(arm_sample(GET), CheckContext(operation=TOKEN, caller="carol"))
    assert not result.passed
    assert "token" in result.detail


def test_key_retrieval_passes_when_the_endpoint_accepts_only_entra_tokens():
    result = oe.KEY_RETRIEVAL.evaluate(endpoint(authMode="AADToken"), CheckContext(operation=LIST_KEYS, caller="x"))
    assert result.applicable and result.passed


# Fix safety ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("check, failing", [
    (oe.KEY_AUTH, endpoint(authMode="Key")),
    (oe.KEY_AUTH, endpoint()),
    (oe.PUBLIC_NETWORK, endpoint(publicNetworkAccess="Enabled")),
    (oe.PUBLIC_NETWORK, endpoint()),
], ids=["key", "auth-absent", "public-enabled", "public-absent"])
def test_every_fix_writes_only_secure_values_and_makes_the_check_pass(check, failing, fix_problems):
    assert fix_problems(check, failing) == []


def test_every_revertible_check_is_covered_by_the_fix_safety_test():
    assert {c.id for c in oe.KIND.checks if c.revertible} == {oe.KEY_AUTH.id, oe.PUBLIC_NETWORK.id}
