"""HTTP plumbing shared by the ticket trackers: one azure-core PipelineClient per tracker, a retry policy that
honours Retry-After and each tracker's rate-limit reset header (capped), auth policies that never log their
secret, and the mapping of answers to TicketDeliveryError (docs/tickets.md, "Retries").

What is retried here, inside one invocation (shared/reference/ticket-apis.md section 6): network errors before
the request was sent, 429, GitHub's 403 with rate-limit signals, and 502/503/504 for idempotent requests. A
create (POST that opens a ticket) is retried only when the server surely did not process it (429, connection
refused): after a 5xx or a read timeout it may exist, so the outbox retries it later, after the dedupe lookup.
A wait longer than the cap is not slept: the error carries it and the outbox waits instead.
"""
from __future__ import annotations

import base64
import email.utils
import json
import logging
import random
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from warden.tickets import TicketDeliveryError, TicketGone, redact_url

log = logging.getLogger("driftwarden.tickets")

# Request ids worth logging (never Authorization, never a query string).
REQUEST_ID_HEADERS = ("x-github-request-id", "ActivityId", "X-VSS-E2EID", "X-AREQUESTID", "x-ms-request-id")
RATE_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-limit", "x-ratelimit-resource",
                "RateLimit-Reason", "X-RateLimit-Delay", "Retry-After")
THROTTLE_STATUSES = frozenset({429})
TRANSIENT_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_OPTION = "driftwarden_idempotent"  # send_request(..., driftwarden_idempotent=False) for creates


# -- waits -----------------------------------------------------------------------------------------------

def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds (integer or HTTP-date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, when.timestamp() - now)


def parse_reset(value: str | None, now: float) -> float | None:
    """Seconds until a rate-limit window resets: epoch seconds (GitHub, Azure DevOps, ServiceNow) or an ISO 8601
    timestamp (Jira, `yyyy-MM-ddTHH:mmZ`). None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        epoch = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        epoch = when.timestamp()
    return max(0.0, epoch - now)


def _text(response: Any) -> str:
    try:
        return response.text() or ""
    except Exception:  # a streamed or undecodable body has nothing to say about rate limits
        return ""


def is_rate_limited_403(response: Any) -> bool:
    """GitHub answers rate limits with 403 too: it is throttling when Retry-After is present, the remaining quota
    is 0, or the message says so. Anything else is a permission problem (not retried)."""
    headers = response.headers
    if headers.get("Retry-After") or headers.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in _text(response)[:2000].lower()


def throttle_wait(response: Any, now: float) -> tuple[bool, float | None]:
    """(is this throttling?, seconds the server asked for or None). Retry-After wins, then the reset header;
    GitHub's secondary limit without either means 'at least one minute'."""
    status = response.status_code
    throttled = status in THROTTLE_STATUSES or (status == 403 and is_rate_limited_403(response))
    if not throttled:
        return False, None
    headers = response.headers
    wait = parse_retry_after(headers.get("Retry-After"), now)
    if wait is None:
        wait = parse_reset(headers.get("x-ratelimit-reset"), now)
    if wait is None and status == 403:
        wait = 60.0
    return True, wait


# -- policies --------------------------------------------------------------------------------------------

def _pipeline_imports():
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.core.pipeline.policies import HTTPPolicy, SansIOHTTPPolicy

    return HTTPPolicy, SansIOHTTPPolicy, ServiceRequestError, ServiceResponseError


def tracker_retry_policy(*, attempts: int = 3, wait_cap: float = 5.0, total_cap: float = 12.0,
                         backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                         clock: Callable[[], float] = time.time):
    """The retry policy of every tracker client. Defaults fit inside Event Grid's 30 s: at most `total_cap`
    seconds of waiting per request, no single wait above `wait_cap`."""
    HTTPPolicy, _, ServiceRequestError, ServiceResponseError = _pipeline_imports()

    class TrackerRetryPolicy(HTTPPolicy):
        def send(self, request):
            idempotent = request.context.options.pop(IDEMPOTENT_OPTION, True)
            waited, attempt = 0.0, 0
            while True:
                attempt += 1
                try:
                    response = self.next.send(request)
                except ServiceRequestError:  # never reached the server: safe to repeat, even a create
                    wait = _backoff(attempt)
                    if attempt >= attempts or waited + wait > total_cap:
                        raise
                    sleep(wait)
                    waited += wait
                    continue
                except ServiceResponseError:  # sent, answer lost: a create may exist now
                    if not idempotent or attempt >= attempts:
                        raise
                    wait = _backoff(attempt)
                    if waited + wait > total_cap:
                        raise
                    sleep(wait)
                    waited += wait
                    continue
                http_response = response.http_response
                log_answer(request.http_request, http_response)
                throttled, asked = throttle_wait(http_response, clock())
                if throttled:
                    wait = asked if asked is not None else _backoff(attempt)
                elif http_response.status_code in TRANSIENT_STATUSES and idempotent:
                    wait = _backoff(attempt)
                else:
                    return response
                if attempt >= attempts or wait > wait_cap or waited + wait > total_cap:
                    return response  # the caller turns it into an error carrying the wait: the outbox honours it
                sleep(wait)
                waited += wait

    def _backoff(attempt: int) -> float:
        return min(wait_cap, backoff * (2 ** (attempt - 1))) * (0.5 + random.random())

    return TrackerRetryPolicy()


def log_answer(request: Any, response: Any) -> None:
    """Status, rate-limit headers and the tracker's request id; never Authorization or a query string."""
    if not log.isEnabledFor(logging.INFO):
        return
    headers = response.headers
    fields = {name: headers.get(name) for name in (*RATE_HEADERS, *REQUEST_ID_HEADERS) if headers.get(name)}
    log.info(json.dumps({"record": "tracker-call", "method": request.method, "url": redact_url(request.url),
                         "status": response.status_code, **fields}))


def header_policy(headers: Callable[[], Mapping[str, str]]):
    """Adds the headers `headers()` returns to every request (auth headers included: computed per request so a
    rotated Key Vault secret needs no restart of the client, and never logged)."""
    _, SansIOHTTPPolicy, _, _ = _pipeline_imports()

    class _HeaderPolicy(SansIOHTTPPolicy):
        def on_request(self, request):
            request.http_request.headers.update(headers())

    return _HeaderPolicy()


def basic_auth(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class EntraToken:
    """An Entra ID bearer token from a TokenCredential (managed identity), refreshed five minutes early. Sent
    only over https (or to a loopback test server)."""

    def __init__(self, credential: Any, scope: str):
        self._credential = credential
        self._scope = scope
        self._token: Any = None
        self._lock = threading.Lock()

    def header(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._token.expires_on - 300 < time.time():
                self._token = self._credential.get_token(self._scope)
            return {"Authorization": f"Bearer {self._token.token}"}


def require_safe_base_url(url: str, name: str) -> str:
    """Credentials travel only over https; plain http is accepted for loopback (the local fakes)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")):
        return url.rstrip("/")
    raise ValueError(f"{name}: must be an https URL (credentials are never sent over plain http), got {redact_url(url)}")


def build_client(base_url: str, headers: Callable[[], Mapping[str, str]], retry_policy: Any = None,
                 timeout: float = 10.0, transport: Any = None):
    from azure.core import PipelineClient
    from azure.core.pipeline import policies

    return PipelineClient(base_url=base_url, policies=[
        policies.UserAgentPolicy(sdk_moniker="driftwarden/0.1"),
        retry_policy or tracker_retry_policy(),
        header_policy(headers),
    ], transport=transport, connection_timeout=timeout, read_timeout=timeout)


# -- answers ---------------------------------------------------------------------------------------------

class TrackerHttp:
    """Sends one request through a tracker's client and turns every answer that is not the expected success
    into a TicketDeliveryError that says what to fix, without secrets."""

    def __init__(self, name: str, client: Any, error_text: Callable[[Any], str] = lambda body: ""):
        self.name = name
        self.client = client
        self._error_text = error_text

    def send(self, method: str, url: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None,
             headers: Mapping[str, str] | None = None, ok: tuple[int, ...] = (200, 201),
             idempotent: bool = True, gone_on_404: bool = False, expect_json: bool = True,
             content: bytes | None = None) -> Any:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request_headers = {"Accept": "application/json", **(headers or {})}
        if content is not None:
            request = HttpRequest(method, url, params=params, headers=request_headers, content=content)
        else:
            request = HttpRequest(method, url, params=params, headers=request_headers, json=json_body)
        what = f"{self.name} {method} {redact_url(request.url)}"
        try:
            response = self.client.send_request(request, **{IDEMPOTENT_OPTION: idempotent})
        except AzureError as error:
            raise TicketDeliveryError(f"{what}: {type(error).__name__} (no answer)") from None
        status = response.status_code
        if status in ok and status != 203:
            if not expect_json or status == 204:
                return None
            text = response.text() or ""
            content_type = (response.headers.get("Content-Type") or "").lower()
            if text.strip() and "json" not in content_type:
                # Azure DevOps answers bad credentials with a sign-in page and a 2xx: that is an auth failure.
                raise TicketDeliveryError(f"{what} answered {status} with {content_type or 'no content type'} instead "
                                          f"of JSON: the credentials were not accepted", retryable=False, status=401)
            try:
                return json.loads(text) if text.strip() else {}
            except ValueError:
                raise TicketDeliveryError(f"{what} answered {status} with a body that is not JSON") from None
        raise self.error(what, response, gone_on_404)

    def error(self, what: str, response: Any, gone_on_404: bool = False) -> TicketDeliveryError:
        status = response.status_code
        detail = self._detail(response)
        message = f"{what} answered {status}{': ' + detail if detail else ''}"
        if status == 203:
            return TicketDeliveryError(f"{what} answered 203 (a sign-in page): the credentials were not accepted",
                                       retryable=False, status=status)
        throttled, wait = throttle_wait(response, time.time())
        if throttled:
            return TicketDeliveryError(message, retryable=True, status=status, retry_after=wait)
        if status == 404 and gone_on_404:
            return TicketGone(message, status)
        if status in (408, 409, 425) or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"), time.time())
            return TicketDeliveryError(message, retryable=True, status=status, retry_after=wait)
        return TicketDeliveryError(message, retryable=False, status=status)

    def _detail(self, response: Any) -> str:
        text = _text(response)
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        detail = self._error_text(body) if body is not None else ""
        return " ".join(str(detail).split())[:300]
