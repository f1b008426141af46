"""Constants and a raw ARM client shared by the emulator tests (a unique module name, not conftest)."""

from __future__ import annotations

import json
from typing import Any

from azure.core.configuration import Configuration
from azure.core.pipeline import policies
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

from emulator import ArmEmulator

SUB = "00000000-1111-2222-3333-444444444444"
RG = "rg-emulator-tests"
ACCOUNT_TYPE = "Microsoft.CognitiveServices/accounts"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/{ACCOUNT_TYPE}/acct-1"
WORKSPACE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws-1"
CS_API = "2025-09-01"
ML_API = "2025-12-01"
BOT_OID = "9a9a9a9a-0000-4000-8000-000000000b07"
BOT_APPID = "9a9a9a9a-0000-4000-8000-0000000a99d1"


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
