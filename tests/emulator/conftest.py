"""Fixtures for the emulator tests: a running emulator, a caller identity, real SDK clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.configuration import Configuration
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from emulator import ArmEmulator, EmulatorCredential

SUB = "00000000-1111-2222-3333-444444444444"
RG = "rg-emulator-tests"
ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{ACCOUNT_TYPE}/acct-1"
WORKSPACE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
CS_API = "2025-09-01"
ML_API = "2025-12-01"
BOT_OID = "9a9a9a9a-0000-4000-8000-00000000b07"
BOT_APPID = "9a9a9a9a-0000-4000-8000-0000000a99d1"


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
    from emulator import load_sample

    return emu.put_resource(ACCOUNT_ID, load_sample("cogsvc-account-get-default-public.recorded.json"))


@pytest.fixture
def cs_client(emu: ArmEmulator, cred: EmulatorCredential) -> Iterator[CognitiveServicesManagementClient]:
    client = CognitiveServicesManagementClient(cred, SUB, **emu.client_kwargs())
    yield client
    client.close()


class RawArm:
    """A bare ARMPipelineClient (the engine's generic path) with a JSON-friendly send()."""

    def __init__(self, emulator: ArmEmulator, credential: Any, **retry: Any) -> None:
        config = Configuration()
        config.authentication_policy = ARMChallengeAuthenticationPolicy(
            credential, "https://management.azure.com/.default"
        )
        config.retry_policy = policies.RetryPolicy(**retry)
        config.headers_policy = policies.HeadersPolicy()
        config.request_id_policy = policies.RequestIdPolicy()
        config.redirect_policy = policies.RedirectPolicy()
        config.logging_policy = policies.NetworkTraceLoggingPolicy()
        config.user_agent_policy = policies.UserAgentPolicy(sdk_moniker="driftwarden-tests/0")
        self.client: ARMPipelineClient[Any, Any] = ARMPipelineClient(
            base_url=emulator.base_url, config=config, connection_verify=emulator.ca_pem_path
        )

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        api_version: str | None = CS_API,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        params = {"api-version": api_version} if api_version else {}
        request = HttpRequest(method, self.client.format_url(path), params=params, headers=headers or {},
                              content=json.dumps(body) if body is not None else None)
        if body is not None:
            request.headers["Content-Type"] = "application/json"
        return self.client.send_request(request)


@pytest.fixture
def raw(emu: ArmEmulator, cred: EmulatorCredential) -> Iterator[RawArm]:
    arm = RawArm(emu, cred, retry_total=0)
    yield arm
    arm.client.close()
