"""Event Grid events as ARM's subscription system topic publishes them, and their delivery."""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.state import utc_now_iso

log = logging.getLogger(__name__)

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
WRITE_FAILURE = "Microsoft.Resources.ResourceWriteFailure"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"
DELETE_FAILURE = "Microsoft.Resources.ResourceDeleteFailure"
ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess"
ACTION_FAILURE = "Microsoft.Resources.ResourceActionFailure"

CONTRIBUTOR_ROLE_DEFINITION_ID = "b24988ac618042a0ab8820f7382dd24c"

# ARM renders token claims with the .NET inbound claim-type names: short JWT names become these URIs
# (see the published samples); claims not listed keep their JWT name (appid, name, ipaddr, ...).
ARM_CLAIM_NAMES: dict[str, str] = {
    "oid": "http://schemas.microsoft.com/identity/claims/objectidentifier",
    "tid": "http://schemas.microsoft.com/identity/claims/tenantid",
    "scp": "http://schemas.microsoft.com/identity/claims/scope",
    "idp": "http://schemas.microsoft.com/identity/claims/identityprovider",
    "sub": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
    "upn": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "unique_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "given_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "family_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "amr": "http://schemas.microsoft.com/claims/authnmethodsreferences",
    "acr": "http://schemas.microsoft.com/claims/authnclassreference",
    "deviceid": "http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier",
    "roles": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
}


@dataclass(frozen=True)
class CallContext:
    """Who called and how: what an event needs to know about the request that caused it."""

    claims: dict[str, Any]  # raw JWT claims of the caller's bearer token
    correlation_id: str
    client_request_id: str
    client_ip: str
    method: str
    url: str


def arm_claims(jwt_claims: dict[str, Any]) -> dict[str, str]:
    """Claims as ARM puts them in `data.claims`: URI names where .NET maps them, string values."""
    rendered: dict[str, str] = {}
    for name, value in jwt_claims.items():
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value, separators=(",", ":"))
        else:
            text = str(value)
        rendered[ARM_CLAIM_NAMES.get(name, name)] = text
    return rendered


def build_event(
    event_type: str,
    ctx: CallContext,
    *,
    resource_id: str,
    subscription_id: str,
    operation_name: str,
    tenant_id: str,
    include_http_request: bool,
    status: str = "Succeeded",
) -> dict[str, Any]:
    """One Event Grid schema event shaped like samples/eventgrid/egschema-resource-*.json."""
    oid = str(ctx.claims.get("oid", ""))
    data: dict[str, Any] = {
        "authorization": {
            "scope": resource_id,
            "action": operation_name,
            "evidence": {
                "role": "Contributor",
                "roleAssignmentScope": f"/subscriptions/{subscription_id}",
                "roleAssignmentId": uuid.uuid4().hex,
                "roleDefinitionId": CONTRIBUTOR_ROLE_DEFINITION_ID,
                "principalId": oid.replace("-", ""),
                "principalType": "User" if "upn" in ctx.claims else "ServicePrincipal",
            },
        },
        "claims": arm_claims(ctx.claims),
        "correlationId": ctx.correlation_id,
    }
    if include_http_request:
        data["httpRequest"] = {
            "clientRequestId": ctx.client_request_id,
            "clientIpAddress": str(ctx.claims.get("ipaddr") or ctx.client_ip),
            "method": ctx.method,
            "url": ctx.url,
        }
    data.update(
        {
            "resourceProvider": operation_name.split("/", 1)[0],
            "resourceUri": resource_id,
            "operationName": operation_name,
            "status": status,
            "subscriptionId": subscription_id,
            "tenantId": str(ctx.claims.get("tid") or tenant_id),
        }
    )
    return {
        "subject": resource_id,
        "eventType": event_type,
        "eventTime": utc_now_iso(),
        "id": str(uuid.uuid4()),
        "data": data,
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{subscription_id}",
    }


EventCallback = Callable[[dict[str, Any]], None]


class EventBus:
    """Keeps every emitted event and hands each to subscribers on one worker thread, in order.

    `record` (before the HTTP response is sent) makes the event visible in `events`; `dispatch` (after
    the response) queues it for subscribers, so a subscriber may call back into the emulator freely.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._events: list[dict[str, Any]] = []
        self._subscribers: list[EventCallback] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._undelivered = 0
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="emulator-events", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def record(self, events: list[dict[str, Any]]) -> None:
        with self._cond:
            self._events.extend(events)
            self._undelivered += len(events)
            self._cond.notify_all()

    def dispatch(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._queue.put(event)

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.record(events)
        self.dispatch(events)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Copies, so a reader that edits an event cannot change the record or what subscribers get."""
        with self._cond:
            return copy.deepcopy(self._events)

    def clear(self) -> None:
        with self._cond:
            self._events.clear()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until at least `count` events were emitted (since the last clear)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._events) >= count, timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until subscribers have seen every emitted event. False on timeout.

        Called from a subscriber (the worker thread) it cannot wait for itself and returns False.
        """
        if threading.current_thread() is self._thread:
            return False
        deadline = time.monotonic() + timeout
        with self._cond:
            return self._cond.wait_for(lambda: self._undelivered == 0, max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            with self._cond:
                subscribers = list(self._subscribers)
            for callback in subscribers:
                try:
                    callback(copy.deepcopy(event))
                except Exception as exc:  # a broken subscriber must not stop delivery to the others
                    log.exception("event subscriber %r failed", callback)
                    self.errors.append(exc)
            with self._cond:
                self._undelivered -= 1
                self._cond.notify_all()
