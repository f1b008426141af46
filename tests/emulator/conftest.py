"""Fixtures for the emulator tests: a running emulator, a caller identity, real SDK clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from arm_helpers import ACCOUNT_ID, BOT_APPID, BOT_OID, SUB, RawArm
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

from emulator import ArmEmulator, EmulatorCredential, load_sample


@pytest.fixture
def emu() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emulator:
        yield emulator


@pytest.fixture
def cred() -> EmulatorCredential:
    return EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden-bot")


@pytest.fixture
def account(emu: ArmEmulator) -> dict[str, Any]:
    """A public Cognitive Services account seeded from the recorded real response."""
    return emu.put_resource(ACCOUNT_ID, load_sample("cogsvc-account-get-default-public.recorded.json"))


@pytest.fixture
def cs_client(emu: ArmEmulator, cred: EmulatorCredential) -> Iterator[CognitiveServicesManagementClient]:
    client = CognitiveServicesManagementClient(cred, SUB, **emu.client_kwargs())
    yield client
    client.close()


@pytest.fixture
def raw(emu: ArmEmulator, cred: EmulatorCredential) -> Iterator[RawArm]:
    arm = RawArm(emu, cred, retry_total=0)
    yield arm
    arm.client.close()
