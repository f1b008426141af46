"""Injected faults: throttling with Retry-After, server errors, conflicts, delays."""

from __future__ import annotations

import time
from typing import Any

import pytest
from arm_helpers import ACCOUNT_ID, RG, RawArm
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import Account, AccountProperties

from emulator import ArmEmulator, EmulatorCredential

DISABLE_PUBLIC = Account(properties=AccountProperties(public_network_access="Disabled"))


def test_sdk_retries_429_after_retry_after_then_succeeds(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    fault = emu.inject_fault("PATCH", "/ACCOUNTS/acct-1", status=429, headers={"Retry-After": "1"}, times=1)

    started = time.monotonic()
    result = cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0).result()

    assert time.monotonic() - started >= 1.0  # the SDK slept for Retry-After
    assert result.properties.public_network_access == "Disabled"
    assert [(r.method, r.status) for r in emu.requests] == [("PATCH", 429), ("PATCH", 200)]
    assert emu.requests[0].headers["authorization"].startswith("Bearer ")
    assert (fault.hits, fault.remaining) == (1, 0)
    assert len(emu.events) == 1  # the throttled attempt wrote nothing


def test_throttled_answer_has_arm_error_body(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.inject_fault("GET", "acct-1", status=429, headers={"Retry-After": "7"})

    response = raw.send("GET", ACCOUNT_ID)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"error": {"code": "TooManyRequests", "message": "Injected fault: 429 TooManyRequests."}}


def test_patch_without_retry_after_is_retried_only_on_5xx(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    emu.inject_fault("PATCH", "acct-1", status=503, times=1)

    cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0).result()

    assert [r.status for r in emu.requests] == [503, 200]


def test_conflict_surfaces_as_resource_exists_error_with_code(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    emu.inject_fault("PATCH", "acct-1", status=409, error_code="AnotherOperationInProgress")

    with pytest.raises(ResourceExistsError) as caught:
        cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0)

    assert caught.value.error is not None and caught.value.error.code == "AnotherOperationInProgress"
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"  # type: ignore[index]


def test_persistent_500_exhausts_sdk_retries(
    emu: ArmEmulator, cred: EmulatorCredential, account: dict[str, Any]
) -> None:
    retrying = RawArm(emu, cred, retry_total=2, retry_backoff_factor=0.01)
    emu.inject_fault("GET", "acct-1", status=500, times=None)

    response = retrying.send("GET", ACCOUNT_ID)

    assert response.status_code == 500
    assert [r.status for r in emu.requests] == [500, 500, 500]


def test_delay_only_fault_slows_the_request_and_answers_normally(
    raw: RawArm, emu: ArmEmulator, account: dict[str, Any]
) -> None:
    emu.inject_fault("GET", "acct-1", status=None, delay=0.3)

    started = time.monotonic()
    slow = raw.send("GET", ACCOUNT_ID)
    slow_seconds = time.monotonic() - started
    started = time.monotonic()
    fast = raw.send("GET", ACCOUNT_ID)

    assert slow.status_code == fast.status_code == 200
    assert slow_seconds >= 0.3
    assert time.monotonic() - started < 0.3


def test_fault_matches_method_and_counts_down(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.inject_fault("DELETE", "acct-1", status=500, times=2)

    statuses = [raw.send("GET", ACCOUNT_ID).status_code]
    statuses += [raw.send("DELETE", ACCOUNT_ID).status_code for _ in range(3)]

    assert statuses == [200, 500, 500, 200]


def test_clear_faults_stops_pending_faults(raw: RawArm, emu: ArmEmulator, account: dict[str, Any]) -> None:
    emu.inject_fault(None, "", status=503, times=None)
    emu.clear_faults()

    assert raw.send("GET", ACCOUNT_ID).status_code == 200


def test_precondition_fault_can_be_injected(
    emu: ArmEmulator, cs_client: CognitiveServicesManagementClient, account: dict[str, Any]
) -> None:
    emu.inject_fault("PATCH", "acct-1", status=412)

    with pytest.raises(HttpResponseError) as caught:
        cs_client.accounts.begin_update(RG, "acct-1", DISABLE_PUBLIC, polling_interval=0)

    assert caught.value.status_code == 412
    assert caught.value.error is not None and caught.value.error.code == "PreconditionFailed"
