"""warden.arm: credentials and the bounded retry rules, through the real pipeline against the emulator."""
from __future__ import annotations

import pytest

from emulator import EmulatorCredential
from tests.support.fixtures import ACCOUNT_ID, drifted_account
from warden.arm import ArmClient, ArmError, PreconditionFailed, ResourceGone, build_credential
from warden.config import ArmSettings

API = "2025-09-01"


@pytest.fixture
def arm(emu):
    client = ArmClient(EmulatorCredential(oid="bot", appid="bot"),
                       ArmSettings(endpoint=emu.base_url, backoff_factor=0.01, max_retries=3), connection_verify=emu.ca_pem_path)
    yield client
    client.close()


def test_managed_identity_in_azure_and_default_chain_on_a_laptop():
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    in_azure = build_credential("client-id", {"IDENTITY_ENDPOINT": "http://localhost:42356/msi/token"})
    laptop = build_credential("client-id", {})
    assert isinstance(in_azure, ManagedIdentityCredential)
    assert isinstance(laptop, DefaultAzureCredential)


def test_get_returns_raw_json_with_every_property_and_the_etag(emu, arm):
    body = drifted_account()
    body["properties"]["someFutureProperty"] = {"nested": True}
    emu.put_resource(ACCOUNT_ID, body)
    resource = arm.get(ACCOUNT_ID, API)
    assert resource.body["properties"]["someFutureProperty"] == {"nested": True}
    assert resource.etag == emu.get_resource(ACCOUNT_ID)["etag"]
    assert emu.requests[-1].query["api-version"] == API


def test_conflict_is_retried_within_bounds_then_succeeds(emu, arm):
    emu.put_resource(ACCOUNT_ID, drifted_account())
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=409, error_code="AnotherOperationInProgress", times=2)
    result = arm.patch(ACCOUNT_ID, API, {"properties": {"publicNetworkAccess": "Disabled"}}, None)
    assert result.done
    assert [r.status for r in emu.requests if r.method == "PATCH"] == [409, 409, 200]


def test_persistent_conflict_raises_a_retryable_error(emu, arm):
    emu.put_resource(ACCOUNT_ID, drifted_account())
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=409, times=100)
    with pytest.raises(ArmError) as raised:
        arm.patch(ACCOUNT_ID, API, {"properties": {"publicNetworkAccess": "Disabled"}}, None)
    assert raised.value.status == 409 and raised.value.retryable
    assert len([r for r in emu.requests if r.method == "PATCH"]) == 4  # 1 + max_retries


def test_stale_etag_raises_precondition_failed_without_retrying(emu, arm):
    emu.put_resource(ACCOUNT_ID, drifted_account())
    with pytest.raises(PreconditionFailed):
        arm.patch(ACCOUNT_ID, API, {"properties": {"publicNetworkAccess": "Disabled"}}, '"stale"')
    assert len([r for r in emu.requests if r.method == "PATCH"]) == 1


def test_missing_resource_raises_resource_gone(emu, arm):
    with pytest.raises(ResourceGone):
        arm.get(ACCOUNT_ID, API)


def test_forbidden_is_not_retried(emu, arm):
    emu.put_resource(ACCOUNT_ID, drifted_account())
    emu.inject_fault(method="GET", path_contains="/accounts/oai-prod", status=403, error_code="AuthorizationFailed", times=100)
    with pytest.raises(ArmError) as raised:
        arm.get(ACCOUNT_ID, API)
    assert raised.value.status == 403 and "AuthorizationFailed" in str(raised.value)
    assert len(emu.requests) == 1


def test_error_messages_never_carry_the_query_string(emu, arm):
    emu.put_resource(ACCOUNT_ID, drifted_account())
    emu.inject_fault(method="GET", path_contains="/accounts/oai-prod", status=400, times=1)
    with pytest.raises(ArmError) as raised:
        arm.get(ACCOUNT_ID, API)
    assert "api-version" not in str(raised.value) and "?" not in str(raised.value)
