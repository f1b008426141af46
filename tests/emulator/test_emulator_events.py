"""Event Grid events emitted like ARM's subscription topic, carrying the caller's claims."""

from __future__ import annotations

import threading
from typing import Any

from arm_helpers import ACCOUNT_ID, BOT_APPID, BOT_OID, CS_API, ML_API, RG, SUB, WORKSPACE_ID, RawArm
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Account, AccountProperties

from emulator import ArmEmulator, EmulatorCredential, load_sample

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
UPN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"


def _disable_public(client: CognitiveServicesManagementClient) -> None:
    client.accounts.begin_update(
        RG, "acct-1", Account(properties=AccountProperties(public_network_access="Disabled")), polling_interval=0
    ).result()


def test_write_event_carries_callers_claims_and_write_operation(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    _disable_public(cs_client)

    (event,) = emu.events
    data = event["data"]
    assert event["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert event["subject"] == ACCOUNT_ID and data["resourceUri"] == ACCOUNT_ID
    assert event["topic"] == f"/subscriptions/{SUB}"
    assert (event["dataVersion"], event["metadataVersion"]) == ("2", "1")
    assert data["claims"][OID_CLAIM] == BOT_OID
    assert data["claims"]["appid"] == BOT_APPID
    assert data["claims"]["name"] == "driftwarden-bot"
    assert data["operationName"] == data["authorization"]["action"] == "Microsoft.CognitiveServices/accounts/write"
    assert data["authorization"]["scope"] == ACCOUNT_ID
    assert data["resourceProvider"] == "Microsoft.CognitiveServices"
    assert data["status"] == "Succeeded"
    assert data["subscriptionId"] == SUB
    assert data["tenantId"] == data["claims"]["http://schemas.microsoft.com/identity/claims/tenantid"]


def test_event_has_the_published_sample_shape(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    (published,) = load_sample("eventgrid/egschema-resource-delete-success.json")

    _disable_public(cs_client)

    (event,) = emu.events
    assert set(event) == set(published)
    assert set(event["data"]) == set(published["data"])
    assert set(event["data"]["httpRequest"]) == set(published["data"]["httpRequest"])
    assert set(event["data"]["authorization"]) == set(published["data"]["authorization"])


def test_correlation_id_comes_from_the_request_headers(
    emu: ArmEmulator, raw: RawArm, account: dict[str, Any]
) -> None:
    raw.send("PATCH", ACCOUNT_ID, {"tags": {}}, headers={"x-ms-correlation-request-id": "corr-1"})
    raw.send("PATCH", ACCOUNT_ID, {"tags": {}}, headers={"x-ms-client-request-id": "client-2"})

    first, second = emu.events
    assert first["data"]["correlationId"] == "corr-1"
    assert second["data"]["correlationId"] == "client-2"
    assert second["data"]["httpRequest"]["clientRequestId"] == "client-2"


def test_create_event_has_no_http_request_but_update_does(emu: ArmEmulator, raw: RawArm) -> None:
    body = {"location": "eastus", "kind": "AIServices", "sku": {"name": "S0"}, "properties": {}}
    raw.send("PUT", ACCOUNT_ID, body)
    raw.send("PUT", ACCOUNT_ID, body)

    created, updated = emu.events
    assert "httpRequest" not in created["data"]
    assert updated["data"]["httpRequest"]["method"] == "PUT"
    assert updated["data"]["httpRequest"]["url"].endswith(f"{ACCOUNT_ID}?api-version={CS_API}")
    assert updated["data"]["httpRequest"]["clientIpAddress"] == "127.0.0.1"


def test_list_keys_emits_action_event_without_the_keys(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    keys = cs_client.accounts.list_keys(RG, "acct-1")
    again = cs_client.accounts.list_keys(RG, "acct-1")

    assert keys.key1 and keys.key2 and keys.key1 != keys.key2
    assert (again.key1, again.key2) == (keys.key1, keys.key2)
    first = emu.events[0]
    assert first["eventType"] == "Microsoft.Resources.ResourceActionSuccess"
    assert first["data"]["operationName"] == "Microsoft.CognitiveServices/accounts/listKeys/action"
    assert first["data"]["resourceUri"] == first["subject"] == ACCOUNT_ID  # as in the published sample
    assert first["data"]["httpRequest"]["url"].split("?")[0].endswith("/listKeys")
    assert keys.key1 not in str(emu.events)


def test_regenerate_key_rotates_only_that_key(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    before = cs_client.accounts.list_keys(RG, "acct-1")
    after = cs_client.accounts.regenerate_key(RG, "acct-1", key_name="Key2")

    assert after.key1 == before.key1 and after.key2 != before.key2
    assert emu.events[-1]["data"]["operationName"] == "Microsoft.CognitiveServices/accounts/regenerateKey/action"


def test_online_endpoint_listkeys_any_casing_is_named_like_arm(emu: ArmEmulator, raw: RawArm) -> None:
    endpoint_id = f"{WORKSPACE_ID}/onlineEndpoints/ep-1"
    emu.put_resource(WORKSPACE_ID, {"location": "eastus", "properties": {}})
    emu.put_resource(endpoint_id, load_sample("ml-online-endpoint-get.spec-example-2025-12-01.json"))

    lower = raw.send("POST", f"{endpoint_id}/listkeys", api_version=ML_API)
    camel = raw.send("POST", f"{endpoint_id}/listKeys", api_version=ML_API)

    assert lower.status_code == camel.status_code == 200
    assert set(lower.json()) == {"primaryKey", "secondaryKey"}
    assert {e["data"]["operationName"] for e in emu.events} == {
        "Microsoft.MachineLearningServices/workspaces/onlineendpoints/listkeys/action"
    }


def test_unknown_action_answers_404_without_event(emu: ArmEmulator, raw: RawArm, account: dict[str, Any]) -> None:
    response = raw.send("POST", f"{ACCOUNT_ID}/explode")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "InvalidResourceType"
    assert emu.events == []


def test_delete_event_includes_the_http_request(emu: ArmEmulator, raw: RawArm, account: dict[str, Any]) -> None:
    raw.send("DELETE", ACCOUNT_ID)

    (event,) = emu.events
    assert event["eventType"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert event["data"]["operationName"] == "Microsoft.CognitiveServices/accounts/delete"
    assert event["data"]["httpRequest"]["method"] == "DELETE"


def test_user_caller_claims_use_arm_uri_names(emu: ArmEmulator, account: dict[str, Any]) -> None:
    user = EmulatorCredential(oid="user-oid", appid="portal-app", name="Dana Dev", upn="dana@contoso.example",
                              ipaddr="203.0.113.7")
    RawArm(emu, user).send("PATCH", ACCOUNT_ID, {"properties": {"publicNetworkAccess": "Enabled"}})

    (event,) = emu.events
    claims = event["data"]["claims"]
    assert claims[UPN_CLAIM] == "dana@contoso.example"
    assert claims["ipaddr"] == "203.0.113.7"
    assert claims[OID_CLAIM] == "user-oid"
    assert event["data"]["httpRequest"]["clientIpAddress"] == "203.0.113.7"
    assert event["data"]["authorization"]["evidence"]["principalType"] == "User"
    assert emu.get_resource(ACCOUNT_ID)["systemData"]["lastModifiedBy"] == "dana@contoso.example"  # type: ignore[index]


def test_reads_seeding_and_failed_writes_emit_no_events(emu: ArmEmulator, raw: RawArm, account: dict[str, Any]) -> None:
    raw.send("GET", ACCOUNT_ID)
    raw.send("PATCH", ACCOUNT_ID, {"tags": {}}, headers={"If-Match": '"stale"'})
    emu.put_resource(ACCOUNT_ID + "2", {"location": "eastus"})
    emu.delete_resource(ACCOUNT_ID + "2")

    assert emu.events == []


def test_subscriber_may_call_back_into_the_emulator(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    seen: list[str] = []
    done = threading.Event()

    def reread(event: dict[str, Any]) -> None:  # what the bot does: re-read the resource over HTTPS
        name = event["subject"].rsplit("/", 1)[1]
        seen.append(cs_client.accounts.get(RG, name).properties.public_network_access)
        emu.complete_operations()  # and a direct call into the emulator from the event thread
        done.set()

    emu.subscribe(reread)
    _disable_public(cs_client)

    assert done.wait(5)
    assert seen == ["Disabled"]
    assert emu.flush_events(5)
    assert emu.subscriber_errors == []


def test_subscriber_errors_are_kept_and_delivery_goes_on(
    emu: ArmEmulator, raw: RawArm, account: dict[str, Any]
) -> None:
    received: list[str] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    emu.subscribe(broken)
    emu.subscribe(lambda event: received.append(event["id"]))
    raw.send("PATCH", ACCOUNT_ID, {"tags": {}})
    raw.send("PATCH", ACCOUNT_ID, {"tags": {}})

    assert emu.flush_events(5)
    assert received == [e["id"] for e in emu.events]
    assert len(emu.subscriber_errors) == 2
