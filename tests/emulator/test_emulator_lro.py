"""Long-running operations: sync answers, 202 + Azure-AsyncOperation polling, completion rules."""

from __future__ import annotations

import time
from typing import Any

import pytest
from arm_helpers import ACCOUNT_ID, ML_API, RG, WORKSPACE_ID, RawArm
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Account, AccountProperties

from emulator import ArmEmulator

DISABLE_PUBLIC = Account(properties=AccountProperties(public_network_access="Disabled"))


def test_begin_update_in_sync_mode_completes_without_polling(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    result = cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0).result()

    assert result.properties.public_network_access == "Disabled"
    assert result.properties.provisioning_state == "Succeeded"
    assert [(r.method, r.status) for r in emu.requests] == [("PATCH", 200)]
    assert emu.requests[0].body == {"properties": {"publicNetworkAccess": "Disabled"}}


def test_begin_update_in_async_mode_polls_the_operation_then_reads_the_resource(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    emu.set_lro(ACCOUNT_ID, "async")

    result = cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0).result()

    assert result.properties.public_network_access == "Disabled"
    trace = [(r.method, r.path.rsplit("/", 2)[-2], r.status) for r in emu.requests]
    polls = [t for t in trace if t[1] == "operationStatuses"]
    assert trace[0] == ("PATCH", "accounts", 202)
    assert len(polls) == emu.async_polls + 1  # InProgress twice, then Succeeded
    assert trace[-1] == ("GET", "accounts", 200)
    assert len(emu.events) == 1


def test_accepted_write_lands_only_when_the_operation_completes(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    emu.set_lro(None, "async")

    accepted = raw.send("PATCH", ACCOUNT_ID, {"properties": {"publicNetworkAccess": "Disabled"}})
    during = raw.send("GET", ACCOUNT_ID).json()
    status_url = accepted.headers["Azure-AsyncOperation"]
    events_before = len(emu.events)
    completed = emu.complete_operations()
    after = raw.send("GET", ACCOUNT_ID).json()

    assert accepted.status_code == 202
    assert accepted.headers["Retry-After"] == "0"
    assert status_url.startswith(f"{emu.base_url}/subscriptions/") and "/operationStatuses/" in status_url
    assert "api-version=" in status_url and "/operationResults/" in accepted.headers["Location"]
    assert during["properties"]["publicNetworkAccess"] == "Enabled"
    assert during["properties"]["provisioningState"] == "Updating"
    assert events_before == 0
    assert completed == 1
    assert after["properties"]["publicNetworkAccess"] == "Disabled"
    assert after["properties"]["provisioningState"] == "Succeeded"
    assert len(emu.events) == 1


def test_operation_status_reports_in_progress_until_done(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    emu.set_lro(None, "async")
    emu.async_polls = 1
    accepted = raw.send("PATCH", ACCOUNT_ID, {"tags": {"a": "b"}})
    status_path = accepted.headers["Azure-AsyncOperation"].split("?")[0].removeprefix(emu.base_url)

    statuses = [raw.send("GET", status_path).json()["status"] for _ in range(3)]

    assert statuses == ["InProgress", "Succeeded", "Succeeded"]


def test_location_url_answers_202_then_the_final_body(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.set_lro(None, "async")
    emu.async_polls = 1
    accepted = raw.send("PATCH", ACCOUNT_ID, {"tags": {"a": "b"}})
    location_path = accepted.headers["Location"].split("?")[0].removeprefix(emu.base_url)

    first = raw.send("GET", location_path)
    second = raw.send("GET", location_path)

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["tags"] == {"a": "b"}


def test_async_operation_completes_on_time_alone(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.set_lro(None, "async")
    emu.async_complete_after = 0.05

    raw.send("PATCH", ACCOUNT_ID, {"properties": {"disableLocalAuth": True}})

    assert emu.wait_for_events(1, timeout=3)
    assert emu.get_resource(ACCOUNT_ID)["properties"]["disableLocalAuth"] is True  # type: ignore[index]
    assert emu.pending_operations == []


def test_write_during_a_pending_operation_answers_409(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, raw: RawArm, account: dict[str, Any]
) -> None:
    emu.set_lro(None, "async")
    raw.send("PATCH", ACCOUNT_ID, {"tags": {"first": "1"}})

    with pytest.raises(ResourceExistsError) as caught:
        cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0)

    assert caught.value.status_code == 409
    assert caught.value.error is not None and caught.value.error.code == "AnotherOperationInProgress"


def test_failed_async_operation_leaves_resource_and_raises_in_sdk(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    emu.set_lro(ACCOUNT_ID, "async-fail")

    poller = cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0)
    with pytest.raises(HttpResponseError):
        poller.result()

    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"  # type: ignore[index]
    assert [e["eventType"] for e in emu.events] == ["Microsoft.Resources.ResourceWriteFailure"]
    assert emu.events[0]["data"]["status"] == "Failed"


def test_per_resource_lro_mode_overrides_the_global_mode(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    emu.set_lro(None, "async")
    emu.set_lro(ACCOUNT_ID.upper(), "sync")

    response = raw.send("PATCH", ACCOUNT_ID, {"tags": {"a": "b"}})

    assert response.status_code == 200


def test_compute_stop_is_an_lro_that_sets_the_state(raw: RawArm, emu: ArmEmulator) -> None:
    compute_id = f"{WORKSPACE_ID}/computes/ci-1"
    emu.put_resource(WORKSPACE_ID, {"location": "eastus", "properties": {}})
    emu.put_resource(compute_id, {"location": "eastus", "properties": {
        "computeType": "ComputeInstance", "properties": {"state": "Running"}}})
    emu.set_lro(compute_id, "async")
    emu.async_polls = 0

    accepted = raw.send("POST", f"{compute_id}/stop", api_version=ML_API)
    before = emu.get_resource(compute_id)
    done = raw.send("GET", accepted.headers["Location"].split("?")[0].removeprefix(emu.base_url), api_version=ML_API)
    after = emu.get_resource(compute_id)

    assert accepted.status_code == 202
    assert before is not None and before["properties"]["properties"]["state"] == "Running"
    assert done.status_code == 204  # an action without a result body
    assert after is not None and after["properties"]["properties"]["state"] == "Stopped"
    assert [e["data"]["operationName"] for e in emu.events] == [
        "Microsoft.MachineLearningServices/workspaces/computes/stop/action"
    ]


def test_sync_compute_start_answers_200_and_runs(raw: RawArm, emu: ArmEmulator) -> None:
    compute_id = f"{WORKSPACE_ID}/computes/ci-1"
    emu.put_resource(WORKSPACE_ID, {"location": "eastus", "properties": {}})
    emu.put_resource(compute_id, {"properties": {"computeType": "ComputeInstance", "properties": {"state": "Stopped"}}})

    response = raw.send("POST", f"{compute_id}/start", api_version=ML_API)

    assert response.status_code == 200
    assert emu.get_resource(compute_id)["properties"]["properties"]["state"] == "Running"  # type: ignore[index]


def test_timed_completion_does_not_block_requests(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.set_lro(None, "async")
    emu.async_complete_after = 0.3
    raw.send("PATCH", ACCOUNT_ID, {"tags": {"a": "b"}})

    started = time.monotonic()
    raw.send("GET", ACCOUNT_ID)

    assert time.monotonic() - started < 0.25
