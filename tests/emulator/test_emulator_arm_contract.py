"""ARM REST contract of the emulator, driven through the real azure-mgmt clients."""

from __future__ import annotations

from typing import Any

import pytest
from arm_helpers import ACCOUNT_ID, ACCOUNT_TYPE, CS_API, ML_API, RG, SUB, WORKSPACE_ID, RawArm
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

from emulator import ArmEmulator, EmulatorCredential


def test_sdk_get_reads_seeded_account_with_etag(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    fetched = cs_client.accounts.get(RG, "acct-1")

    assert fetched.id == ACCOUNT_ID
    assert fetched.properties.public_network_access == "Enabled"
    assert fetched.etag == account["etag"]
    assert emu.requests[-1].query["api-version"] == CS_API


def test_get_answers_etag_header_equal_to_body_etag(raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("GET", ACCOUNT_ID)

    assert response.status_code == 200
    assert response.headers["ETag"] == response.json()["etag"] == account["etag"]


def test_missing_api_version_answers_400_missing_api_version_parameter(raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("GET", ACCOUNT_ID, api_version=None)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_unknown_resource_raises_resource_not_found_in_sdk(cs_client: CognitiveServicesManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        cs_client.accounts.get(RG, "does-not-exist")

    assert caught.value.status_code == 404
    assert caught.value.error is not None and caught.value.error.code == "ResourceNotFound"


def test_ids_match_case_insensitively_and_keep_stored_casing(raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("GET", ACCOUNT_ID.lower().replace("resourcegroups", "RESOURCEGROUPS"))

    assert response.status_code == 200
    assert response.json()["id"] == ACCOUNT_ID


def test_missing_bearer_token_answers_401_authentication_failed(emu: ArmEmulator, account: dict[str, Any]) -> None:
    import requests

    response = requests.get(f"{emu.base_url}{ACCOUNT_ID}?api-version={CS_API}", verify=emu.ca_pem_path, timeout=5)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_malformed_bearer_token_answers_401_authentication_failed(emu: ArmEmulator, account: dict[str, Any]) -> None:
    import requests

    response = requests.get(
        f"{emu.base_url}{ACCOUNT_ID}?api-version={CS_API}",
        headers={"Authorization": "Bearer not-a-jwt"}, verify=emu.ca_pem_path, timeout=5,
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_token_for_another_audience_is_refused(emu: ArmEmulator, account: dict[str, Any]) -> None:
    storage_caller = RawArm(emu, _ScopedCredential("https://storage.azure.com/.default"), retry_total=0)

    response = storage_caller.send("GET", ACCOUNT_ID)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


class _ScopedCredential(EmulatorCredential):
    """Mints tokens for a fixed scope whatever the client asks for (a misconfigured caller)."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def claims(self, *scopes: str) -> dict[str, Any]:
        return super().claims(self.scope)


def test_patch_merges_objects_replaces_arrays_and_null_deletes(raw: RawArm, emu: ArmEmulator) -> None:
    emu.put_resource(ACCOUNT_ID, {
        "location": "eastus",
        "tags": {"keep": "1", "drop": "2"},
        "properties": {
            "networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "1.2.3.4"}, {"value": "5.6.7.8"}]},
            "publicNetworkAccess": "Enabled",
        },
    })

    response = raw.send("PATCH", ACCOUNT_ID, {
        "tags": {"drop": None, "new": "3"},
        "properties": {"networkAcls": {"ipRules": [{"value": "9.9.9.9"}]}, "disableLocalAuth": True},
    })

    assert response.status_code == 200
    stored = emu.get_resource(ACCOUNT_ID)
    assert stored is not None
    assert stored["tags"] == {"keep": "1", "new": "3"}
    assert stored["properties"]["networkAcls"] == {"defaultAction": "Allow", "ipRules": [{"value": "9.9.9.9"}]}
    assert stored["properties"]["publicNetworkAccess"] == "Enabled"
    assert stored["properties"]["disableLocalAuth"] is True
    assert stored["properties"]["provisioningState"] == "Succeeded"
    assert response.json() == stored


def test_put_replaces_body_and_keeps_server_owned_fields(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    account_with_pe = dict(account)
    account_with_pe["properties"] = {**account["properties"], "privateEndpointConnections": [{"id": "pe-1"}]}
    seeded = emu.put_resource(ACCOUNT_ID, account_with_pe)

    response = raw.send("PUT", ACCOUNT_ID, {
        "id": "/ignored", "name": "ignored", "etag": '"client-made"',
        "location": "eastus", "kind": "OpenAI", "sku": {"name": "S0"},
        "properties": {"publicNetworkAccess": "Disabled", "privateEndpointConnections": []},
    })

    assert response.status_code == 200
    stored = emu.get_resource(ACCOUNT_ID)
    assert stored is not None
    assert (stored["id"], stored["name"], stored["type"]) == (ACCOUNT_ID, "acct-1", ACCOUNT_TYPE)
    assert stored["etag"] not in (seeded["etag"], '"client-made"')
    assert stored["kind"] == "OpenAI"
    assert "endpoint" in stored["properties"]  # server-owned, kept although the PUT omitted it
    assert "callRateLimit" in stored["properties"]
    assert stored["properties"]["privateEndpointConnections"] == [{"id": "pe-1"}]
    assert "capabilities" in stored["properties"]
    assert "internalId" in stored["properties"]
    assert "dateCreated" in stored["properties"]
    assert "isMigrated" not in stored["properties"]  # replaced, not merged
    assert stored["systemData"]["createdBy"] == account["systemData"]["createdBy"]
    assert stored["systemData"]["lastModifiedBy"] != account["systemData"]["lastModifiedBy"]


def test_put_answers_201_on_create_and_200_on_replace(raw: RawArm, emu: ArmEmulator) -> None:
    body = {"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"}, "properties": {}}

    created = raw.send("PUT", ACCOUNT_ID, body)
    replaced = raw.send("PUT", ACCOUNT_ID, body)

    assert (created.status_code, replaced.status_code) == (201, 200)
    assert created.json()["systemData"]["createdByType"] == "Application"
    assert created.json()["etag"] != replaced.json()["etag"]


def test_patch_with_stale_etag_answers_412(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    raw.send("PATCH", ACCOUNT_ID, {"tags": {"someone": "else"}})  # moves the etag on

    response = raw.send("PATCH", ACCOUNT_ID, {"properties": {"publicNetworkAccess": "Disabled"}},
                        headers={"If-Match": account["etag"]})

    assert response.status_code == 412
    assert response.json()["error"]["code"] == "PreconditionFailed"
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"  # type: ignore[index]
    assert emu.requests[-1].headers["if-match"] == account["etag"]
    assert emu.requests[-1].status == 412


def test_patch_with_current_etag_succeeds_and_rotates_etag(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    response = raw.send("PATCH", ACCOUNT_ID, {"properties": {"publicNetworkAccess": "Disabled"}},
                        headers={"If-Match": account["etag"]})

    assert response.status_code == 200
    assert response.headers["ETag"] == response.json()["etag"] != account["etag"]


def test_if_match_star_needs_an_existing_resource(raw: RawArm, account: dict[str, Any]) -> None:
    on_existing = raw.send("PATCH", ACCOUNT_ID, {"tags": {"a": "b"}}, headers={"If-Match": "*"})
    on_missing = raw.send("PUT", ACCOUNT_ID + "-new", {"location": "eastus"}, headers={"If-Match": "*"})

    assert (on_existing.status_code, on_missing.status_code) == (200, 412)


def test_if_none_match_star_refuses_to_overwrite(raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("PUT", ACCOUNT_ID, {"location": "eastus"}, headers={"If-None-Match": "*"})

    assert response.status_code == 412


def test_patch_of_missing_resource_answers_404(raw: RawArm) -> None:
    response = raw.send("PATCH", ACCOUNT_ID, {"tags": {}})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"


def test_delete_removes_resource_with_its_children(raw: RawArm, emu: ArmEmulator) -> None:
    emu.put_resource(WORKSPACE_ID, {"location": "eastus", "properties": {}})
    emu.put_resource(f"{WORKSPACE_ID}/computes/ci-1", {"properties": {"computeType": "ComputeInstance"}})

    first = raw.send("DELETE", WORKSPACE_ID, api_version=ML_API)
    second = raw.send("DELETE", WORKSPACE_ID, api_version=ML_API)

    assert (first.status_code, second.status_code) == (200, 404)
    assert emu.get_resource(f"{WORKSPACE_ID}/computes/ci-1") is None


def test_collection_get_pages_through_next_link(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient
) -> None:
    emu.page_size = 2
    for i in range(5):
        emu.put_resource(f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.CognitiveServices/accounts/a{i}",
                         {"location": "eastus", "properties": {}})
    emu.put_resource(f"/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.CognitiveServices/accounts/x",
                     {"location": "eastus", "properties": {}})

    in_group = [a.name for a in cs_client.accounts.list_by_resource_group(RG)]
    in_subscription = [a.name for a in cs_client.accounts.list()]

    assert in_group == ["a0", "a1", "a2", "a3", "a4"]
    assert sorted(in_subscription) == ["a0", "a1", "a2", "a3", "a4", "x"]
    assert sum("$skipToken" in r.query for r in emu.requests) == 2 + 2


def test_child_collection_lists_only_that_parents_children(raw: RawArm, emu: ArmEmulator) -> None:
    emu.put_resource(WORKSPACE_ID, {"location": "eastus", "properties": {}})
    emu.put_resource(WORKSPACE_ID + "-2", {"location": "eastus", "properties": {}})
    emu.put_resource(f"{WORKSPACE_ID}/computes/ci-1", {"properties": {}})
    emu.put_resource(f"{WORKSPACE_ID}-2/computes/ci-2", {"properties": {}})

    listed = raw.send("GET", f"{WORKSPACE_ID}/computes", api_version=ML_API)
    missing_parent = raw.send("GET", f"{WORKSPACE_ID}-9/computes", api_version=ML_API)

    assert [c["name"] for c in listed.json()["value"]] == ["ci-1"]
    assert "nextLink" not in listed.json()
    assert missing_parent.status_code == 404


def test_creating_child_under_missing_parent_answers_404(raw: RawArm) -> None:
    response = raw.send("PUT", f"{WORKSPACE_ID}/computes/ci-1", {"properties": {}}, api_version=ML_API)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ParentResourceNotFound"


def test_invalid_json_body_answers_400(emu: ArmEmulator, raw: RawArm, account: dict[str, Any]) -> None:
    from azure.core.rest import HttpRequest

    request = HttpRequest("PATCH", raw.client.format_url(ACCOUNT_ID), params={"api-version": CS_API},
                          content="{not json", headers={"Content-Type": "application/json"})
    response = raw.client.send_request(request)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequestContent"


def test_resource_group_exists_implicitly(raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("GET", f"/subscriptions/{SUB}/resourceGroups/{RG}", api_version="2021-04-01")

    assert response.status_code == 200
    assert response.json()["type"] == "Microsoft.Resources/resourceGroups"


def test_sdk_errors_carry_arm_error_code(emu: ArmEmulator, cs_client: CognitiveServicesManagementClient,
                                         account: dict[str, Any]) -> None:
    emu.inject_fault("GET", "/accounts/acct-1", status=403, error_code="AuthorizationFailed", times=None)

    with pytest.raises(HttpResponseError) as caught:
        cs_client.accounts.get(RG, "acct-1")

    assert caught.value.status_code == 403
    assert caught.value.error is not None and caught.value.error.code == "AuthorizationFailed"
