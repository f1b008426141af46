"""Azure Resource Manager access: raw JSON reads at a pinned api-version, minimal writes with If-Match.

Built on azure-mgmt-core's ARMPipelineClient, so ARM's challenge auth, azure-core's retry policy and
ARM LRO polling are the real ones. Nothing here deserialises into SDK models: the models of
azure-mgmt-machinelearningservices 1.0.1 silently drop the properties the checks read (README, "Why the
generic ARM path"). The Azure SDK imports happen when a client is built, never at import time.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Mapping

from warden.config import ArmSettings

ARM_SCOPE = "https://management.azure.com/.default"


class ArmError(Exception):
    """An ARM call failed after the bounded retries. `retryable` = Event Grid should redeliver."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable


class ResourceGone(ArmError):
    def __init__(self, message: str, code: str | None = "ResourceNotFound"):
        super().__init__(message, 404, code, retryable=False)


class PreconditionFailed(ArmError):
    """412: the etag we read is stale; somebody else changed the resource."""

    def __init__(self, message: str):
        super().__init__(message, 412, "PreconditionFailed", retryable=True)


@dataclass(frozen=True)
class ArmResource:
    body: dict[str, Any]
    etag: str | None


@dataclass(frozen=True)
class WriteResult:
    done: bool
    body: dict[str, Any] | None  # the final resource when done (None when ARM gave no body)
    status_code: int
    continuation_token: str | None = None  # resume polling later when not done


def capped_retry_policy(settings: ArmSettings):
    """azure-core's RetryPolicy with two changes: Retry-After is capped (a Function must not sleep for an hour),
    and 409 (another operation in progress) and 429 are retried for writes too; our writes carry If-Match, so a
    repeated PATCH can never apply twice."""
    from azure.core.pipeline.policies import RetryPolicy

    class CappedRetryPolicy(RetryPolicy):
        NEVER = frozenset({400, 401, 403, 404, 412})

        def get_retry_after(self, response):
            value = super().get_retry_after(response)
            return None if value is None else min(value, settings.retry_after_cap_seconds)

        def is_retry(self, retry_settings, response):
            status = response.http_response.status_code
            if status in self.NEVER:
                return False
            if status in (409, 429) and retry_settings["total"]:
                return True
            return super().is_retry(retry_settings, response)

    return CappedRetryPolicy(retry_total=settings.max_retries, retry_status=settings.max_retries,
                             retry_backoff_factor=settings.backoff_factor, retry_backoff_max=settings.retry_after_cap_seconds,
                             timeout=settings.timeout_seconds * 3)


class ArmClient:
    """Raw ARM reads and writes for any resource type and api-version."""

    def __init__(self, credential: Any, settings: ArmSettings, connection_verify: Any = True):
        from azure.core.pipeline import policies
        from azure.mgmt.core import ARMPipelineClient
        from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

        self.settings = settings
        self.calls = 0  # ARM requests sent by this client (the benchmark reads it)
        self._client = ARMPipelineClient(
            base_url=settings.endpoint,
            policies=[
                policies.RequestIdPolicy(),
                policies.HeadersPolicy(),
                policies.UserAgentPolicy(sdk_moniker="driftwarden/0.1"),
                capped_retry_policy(settings),
                ARMChallengeAuthenticationPolicy(credential, ARM_SCOPE),
                policies.CustomHookPolicy(raw_request_hook=self._count),
                ARMHttpLoggingPolicy(),
                policies.DistributedTracingPolicy(),
            ],
            connection_verify=connection_verify,
            connection_timeout=settings.timeout_seconds,
            read_timeout=settings.timeout_seconds,
        )

    def _count(self, request) -> None:
        self.calls += 1

    def close(self) -> None:
        self._client.close()

    # -- reads ------------------------------------------------------------------------------------
    def get(self, resource_id: str, api_version: str) -> ArmResource:
        response = self._send("GET", resource_id, api_version)
        body = _json(response)
        return ArmResource(body, response.headers.get("ETag") or body.get("etag"))

    def list(self, collection_path: str, api_version: str) -> list[dict[str, Any]]:
        """Every item of an ARM collection (follows nextLink)."""
        items: list[dict[str, Any]] = []
        response = self._send("GET", collection_path, api_version)
        while True:
            page = _json(response)
            items.extend(page.get("value") or [])
            next_link = page.get("nextLink")
            if not next_link:
                return items
            response = self._send_url("GET", next_link)

    # -- writes -----------------------------------------------------------------------------------
    def patch(self, resource_id: str, api_version: str, body: Mapping[str, Any], etag: str | None) -> WriteResult:
        return self._write("PATCH", resource_id, api_version, body, etag)

    def put(self, resource_id: str, api_version: str, body: Mapping[str, Any], etag: str | None) -> WriteResult:
        return self._write("PUT", resource_id, api_version, body, etag)

    def post_action(self, resource_id: str, action: str, api_version: str) -> WriteResult:
        return self._write("POST", f"{resource_id}/{action}", api_version, None, None)

    def _write(self, method: str, resource_id: str, api_version: str, body: Mapping[str, Any] | None,
               etag: str | None) -> WriteResult:
        headers = {"If-Match": etag} if etag else {}
        pipeline_response = self._send(method, resource_id, api_version, body, headers, pipeline=True)
        response = pipeline_response.http_response
        if response.status_code in (200, 201) and not _in_progress(response):
            return WriteResult(True, _json(response) if response.text() else None, response.status_code)
        return self._wait(pipeline_response)

    def _wait(self, pipeline_response) -> WriteResult:
        """Poll an accepted write with ARM's LRO rules (Azure-AsyncOperation, Location, provisioningState), but only
        for a short bound: Event Grid gives the handler 30 s. Unfinished -> pending, with a continuation token.
        Finished -> done without a body: the caller re-reads the resource to verify the revert."""
        from azure.core.exceptions import HttpResponseError
        from azure.mgmt.core.polling.arm_polling import ARMPolling

        polling = ARMPolling(timeout=0)
        polling.initialize(self._client, pipeline_response, lambda response: None)
        deadline = time.monotonic() + self.settings.lro_wait_seconds
        status = pipeline_response.http_response.status_code
        pause = 0.05
        try:
            while not polling.finished():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return WriteResult(False, None, status, polling.get_continuation_token())
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 1.0)
                polling.update_status()
        except HttpResponseError as error:
            raise _arm_error(error) from None
        if str(polling.status()).lower() != "succeeded":
            raise ArmError(f"long-running write ended {polling.status()}", status, "OperationFailed", retryable=True)
        return WriteResult(True, None, status)

    # -- plumbing ---------------------------------------------------------------------------------
    def _send(self, method: str, path: str, api_version: str, body: Any = None,
              headers: Mapping[str, str] | None = None, pipeline: bool = False):
        from azure.core.rest import HttpRequest

        url = f"{self.settings.endpoint}{path}"
        request = HttpRequest(method, url, params={"api-version": api_version},
                              headers={"Accept": "application/json", **(headers or {})},
                              json=body if body is not None else None)
        return self._run(request, pipeline)

    def _send_url(self, method: str, url: str):
        from azure.core.rest import HttpRequest

        return self._run(HttpRequest(method, url, headers={"Accept": "application/json"}), False)

    def _run(self, request, pipeline: bool):
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            pipeline_response = self._client.send_request(request, _return_pipeline_response=True)
        except HttpResponseError as error:
            raise _arm_error(error) from None
        except AzureError as error:  # connection reset, timeout: the request may not have reached ARM
            raise ArmError(f"{request.method} {_path(request.url)}: {type(error).__name__}: {error.message}",
                           None, type(error).__name__, retryable=True) from None
        response = pipeline_response.http_response
        if response.status_code >= 400:
            raise _status_error(request.method, request.url, response)
        return pipeline_response if pipeline else response


def _in_progress(response) -> bool:
    if response.headers.get("Azure-AsyncOperation"):
        return True
    try:
        state = (json.loads(response.text() or "{}").get("properties") or {}).get("provisioningState")
    except (ValueError, AttributeError):
        return False
    return str(state).lower() in {"updating", "creating", "accepted", "provisioning", "deleting", "running"}


def _json(response) -> dict[str, Any]:
    text = response.text()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ArmError(f"ARM answered {response.status_code} with a body that is not JSON", response.status_code,
                       "InvalidResponse", retryable=True) from None
    return value if isinstance(value, dict) else {"value": value}


def _error_body(response) -> tuple[str | None, str]:
    try:
        error = json.loads(response.text() or "{}").get("error") or {}
        return error.get("code"), error.get("message") or ""
    except (ValueError, AttributeError):
        return None, (response.text() or "")[:200]


def _status_error(method: str, url: str, response) -> ArmError:
    code, message = _error_body(response)
    status = response.status_code
    text = f"{method} {_path(url)} -> {status} {code or ''}: {message}".strip()
    if status == 404:
        return ResourceGone(text, code)
    if status == 412:
        return PreconditionFailed(text)
    # 400/401/403 will not heal by themselves, but Event Grid never retries a 400/403 answer of ours, so the
    # event is recorded failed and the trigger still raises: an operator fixing the role gets it redelivered.
    return ArmError(text, status, code, retryable=True)


def _arm_error(error) -> ArmError:
    response = getattr(error, "response", None)
    if response is not None:
        return _status_error(response.request.method, response.request.url, response)
    return ArmError(str(error), None, type(error).__name__)


def _path(url: str) -> str:
    # Never log query strings: a SAS or token could ride in one.
    return url.split("?", 1)[0].split("management.azure.com", 1)[-1]


def build_credential(client_id: str | None, environ: Mapping[str, str] | None = None):
    """ManagedIdentityCredential with the app's client id when running in Azure, DefaultAzureCredential elsewhere."""
    import os

    env = os.environ if environ is None else environ
    if client_id and (env.get("IDENTITY_ENDPOINT") or env.get("MSI_ENDPOINT")):
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)
