"""Scenarios of remediators/ml_serverless_endpoint.py on the published sample and hand-made variants."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_serverless_endpoint as se
from remediators.base import CheckContext, Mode, OperationRole

GET = "ml-serverless-endpoint-get.spec-example-2025-12-01"
NO_OP = CheckContext()
LIST_KEYS = "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/listKeys/action"


def endpoint(**properties: Any) -> dict[str, Any]:
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/serverlessEndpoints/e",
        "type": se.TYPE,
        "properties": properties,
    }


def test_kind_is_registered_under_the_serverless_endpoint_type():
    assert remediators.kind_for("Microsoft.MachineLearningServices/workspaces/serverlessendpoints") is se.KIND
    assert se.KIND.api_version == "2025-12-01"


def test_key_auth_defaults_to_report_and_is_not_revertible():
    assert [c.id for c in se.KIND.checks] == ["aml-serverless-key-auth"]
    assert se.KEY_AUTH.default_mode is Mode.REPORT
    assert se.KEY_AUTH.fix is None
    assert "stable API" in se.KEY_AUTH.not_revertible_because


@pytest.mark.parametrize("check", se.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == se.TYPE
    assert check.policies == ()
    assert check_metadata_problems(check, "aml-") == []


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/delete", OperationRole.DELETE),
    (LIST_KEYS, OperationRole.KEY_RETRIEVAL),
    ("microsoft.machinelearningservices/workspaces/serverlessendpoints/regeneratekeys/action", OperationRole.KEY_RETRIEVAL),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert se.KIND.role_of(operation) is role


def test_published_key_endpoint_fails(arm_sample):
    result = se.KEY_AUTH.evaluate(arm_sample(GET), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.authMode": "Key"}


@pytest.mark.parametrize("mode", ["Key", "key", " KEY "])
def test_key_auth_fails_for_key_in_any_casing(mode):
    assert not se.KEY_AUTH.evaluate(endpoint(authMode=mode), NO_OP).passed


def test_key_auth_fails_when_property_absent():
    result = se.KEY_AUTH.evaluate(endpoint(), NO_OP)
    assert not result.passed
    assert "absent" in result.detail


def test_key_auth_passes_for_a_preview_entra_mode():
    assert se.KEY_AUTH.evaluate(endpoint(authMode="AADToken"), NO_OP).passed


def test_key_auth_names_the_caller_of_a_key_retrieval(arm_sample):
    result = se.KEY_AUTH.evaluate(arm_sample(GET), CheckContext(operation=LIST_KEYS.lower(), caller="frank"))
    assert not result.passed
    assert "frank" in result.detail and "listkeys" in result.detail.lower()


def test_key_auth_does_not_mention_a_caller_for_a_write(arm_sample):
    ctx = CheckContext(operation="Microsoft.MachineLearningServices/workspaces/serverlessEndpoints/write", caller="frank")
    assert "frank" not in se.KEY_AUTH.evaluate(arm_sample(GET), ctx).detail
