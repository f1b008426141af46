"""The ARM REST contract: routing, resource reads and writes, actions, LROs, auth, errors."""

from __future__ import annotations

import base64
import copy
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from emulator.credential import decode_jwt_claims
from emulator.events import (
    ACTION_FAILURE,
    ACTION_SUCCESS,
    DELETE_FAILURE,
    DELETE_SUCCESS,
    WRITE_FAILURE,
    WRITE_SUCCESS,
    CallContext,
    EventBus,
    build_event,
)
from emulator.faults import FaultTable
from emulator.graph import ResourceGraph
from emulator.ids import RESOURCE_GROUP_TYPE, ArmPath, id_key, parse_arm_path
from emulator.lro import LRO_MODES, Operation, OperationTable
from emulator.state import (
    SERVER_OWNED_PROPERTIES,
    SERVER_OWNED_TOP_LEVEL,
    Entry,
    ResourceStore,
    merge_patch,
    new_etag,
    utc_now_iso,
    with_identity,
)
from emulator.wire import ArmError, Request, Response

GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
MANAGEMENT_AUDIENCES = frozenset(
    {"https://management.azure.com", "https://management.core.windows.net"}
)
_OPERATION_KINDS = {"operationstatuses", "operationresults"}
_CANONICAL_ACTIONS = {
    "listkeys": "listKeys",
    "regeneratekey": "regenerateKey",
    "regeneratekeys": "regenerateKeys",
    "start": "start",
    "stop": "stop",
    "restart": "restart",
}
# ARM's operation names are not consistently cased (reference/drift-catalog.md section 1.9); the
# emulator reproduces the known lower-case ones so consumers have to compare case-insensitively.
_ACTION_OPERATION_NAMES = {
    ("microsoft.machinelearningservices/workspaces/onlineendpoints", "listkeys"):
        "Microsoft.MachineLearningServices/workspaces/onlineendpoints/listkeys/action",
    ("microsoft.machinelearningservices/workspaces/onlineendpoints", "regeneratekeys"):
        "Microsoft.MachineLearningServices/workspaces/onlineendpoints/regeneratekeys/action",
}
_COMPUTE_TYPE = "microsoft.machinelearningservices/workspaces/computes"
_COMPUTE_STATES = {"start": "Running", "restart": "Running", "stop": "Stopped"}


def operation_name(resource_type: str, verb: str) -> str:
    if resource_type.lower() == RESOURCE_GROUP_TYPE.lower():
        return f"Microsoft.Resources/subscriptions/resourceGroups/{verb}"
    return f"{resource_type}/{verb}"


def not_found(path: ArmPath) -> ArmError:
    where = f" under resource group '{path.resource_group}'" if path.resource_group else ""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{path.resource_type}/{'/'.join(path.names)}'{where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def check_preconditions(entry: Entry | None, if_match: str | None, if_none_match: str | None) -> None:
    """If-Match / If-None-Match as ARM applies them; raises 412 PreconditionFailed."""
    current = entry.body.get("etag") if entry else None
    if if_match is not None:
        wanted = [v.strip() for v in if_match.split(",") if v.strip()]
        if entry is None or ("*" not in wanted and current not in wanted):
            raise ArmError(
                412, "PreconditionFailed",
                f"The condition '{if_match}' in the If-Match header was not met. Current etag: {current}.",
            )
    if if_none_match is not None:
        unwanted = [v.strip() for v in if_none_match.split(",") if v.strip()]
        if entry is not None and ("*" in unwanted or current in unwanted):
            raise ArmError(
                412, "PreconditionFailed",
                f"The condition '{if_none_match}' in the If-None-Match header was not met.",
            )


def _caller_name(claims: dict[str, Any]) -> tuple[str, str]:
    """(systemData actor, actor type) as ARM stamps them: a user's UPN, else the application id."""
    if claims.get("upn"):
        return str(claims["upn"]), "User"
    return str(claims.get("appid") or claims.get("oid") or "unknown"), "Application"


def _location_segment(body: dict[str, Any] | None) -> str:
    location = str((body or {}).get("location") or "global")
    return location.replace(" ", "").lower()


class KeyRing:
    """Access keys per resource: stable across listKeys calls until regenerated, never in bodies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, list[str]] = {}

    @staticmethod
    def _fresh() -> str:
        return secrets.token_hex(16)

    def get(self, resource_id: str) -> list[str]:
        with self._lock:
            return list(self._keys.setdefault(id_key(resource_id), [self._fresh(), self._fresh()]))

    def regenerate(self, resource_id: str, index: int) -> list[str]:
        with self._lock:
            keys = self._keys.setdefault(id_key(resource_id), [self._fresh(), self._fresh()])
            keys[index] = self._fresh()
            return list(keys)

    def forget(self, resource_id: str) -> None:
        with self._lock:
            self._keys.pop(id_key(resource_id), None)


class ArmService:
    """Turns a Request into (Response, events). Holds no sockets; the server module does HTTP."""

    def __init__(self, store: ResourceStore, bus: EventBus, tenant_id: str) -> None:
        self.store = store
        self.bus = bus
        self.tenant_id = tenant_id
        self.faults = FaultTable()
        self.ops = OperationTable(store.lock)
        self.graph = ResourceGraph(store, tenant_id)
        self.keys = KeyRing()
        self.lro_mode = "sync"
        self.lro_overrides: dict[str, str] = {}
        self.async_polls = 2
        self.async_complete_after: float | None = None
        self.page_size = 100
        self.accepted_audiences: set[str] = set(MANAGEMENT_AUDIENCES)

    # ----------------------------------------------------------------- entry point
    def handle(self, req: Request) -> tuple[Response, list[dict[str, Any]]]:
        try:
            fault = self.faults.take(req.method, req.path)
            if fault is not None:
                if fault.delay > 0:
                    time.sleep(fault.delay)
                if fault.status is not None:
                    raise fault.to_error()
            claims = self._authenticate(req)
            response, events = self._route(req, claims)
        except ArmError as err:
            response, events = err.to_response(), []
        self._add_common_headers(req, response)
        return response, events

    def _add_common_headers(self, req: Request, response: Response) -> None:
        response.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        response.headers.setdefault("x-ms-correlation-request-id", self._correlation_id(req))
        if "x-ms-client-request-id" in req.headers:
            response.headers.setdefault("x-ms-client-request-id", req.headers["x-ms-client-request-id"])
        bucket = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}.get(req.method, "writes")
        response.headers.setdefault(f"x-ms-ratelimit-remaining-subscription-{bucket}", "11999")

    @staticmethod
    def _correlation_id(req: Request) -> str:
        return req.headers.get("x-ms-correlation-request-id") or req.headers.get("x-ms-client-request-id") or ""

    def _authenticate(self, req: Request) -> dict[str, Any]:
        def fail(code: str, message: str) -> ArmError:
            challenge = f'Bearer authorization_uri="https://login.microsoftonline.com/{self.tenant_id}", ' \
                        f'error="invalid_token", error_description="{message}"'
            return ArmError(401, code, message, {"WWW-Authenticate": challenge})

        header = req.headers.get("Authorization")
        if not header:
            raise fail("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise fail("AuthenticationFailed", "Authentication failed. The 'Authorization' header is not Bearer.")
        try:
            claims = decode_jwt_claims(token.strip())
        except ValueError:
            raise fail("AuthenticationFailed", "Authentication failed. The access token is malformed.") from None
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise fail("ExpiredAuthenticationToken", "The access token has expired.")
        audience = str(claims.get("aud", "")).rstrip("/")
        if audience not in self.accepted_audiences and audience != req.base_url.rstrip("/"):
            raise fail("InvalidAuthenticationTokenAudience", f"The access token has an invalid audience '{audience}'.")
        return claims

    def _route(self, req: Request, claims: dict[str, Any]) -> tuple[Response, list[dict[str, Any]]]:
        api_version = req.query.get("api-version")
        if not api_version:
            raise ArmError(
                400, "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if req.path.rstrip("/").lower() == GRAPH_PATH:
            if req.method != "POST":
                raise ArmError(405, "MethodNotAllowed", "Resource Graph queries are POST requests.")
            return self.graph.query(req.json_body(), str(claims.get("oid", ""))), []
        path = parse_arm_path(req.path, req.method)
        if path is None:
            raise ArmError(404, "InvalidRequestUri", f"The request URI '{req.path}' is not an ARM resource path.")
        ctx = CallContext(
            claims=claims,
            correlation_id=self._correlation_id(req) or str(uuid.uuid4()),
            client_request_id=req.headers.get("x-ms-client-request-id", ""),
            client_ip=req.client_ip,
            method=req.method,
            url=req.url,
        )
        if len(path.types) == 2 and path.types[0].lower() == "locations" and path.types[1].lower() in _OPERATION_KINDS:
            return self._operation(req, path)
        if path.is_collection:
            if req.method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on a collection.")
            return self._list(req, path), []
        if path.action is not None:
            return self._action(req, path, ctx, api_version)
        if req.method in ("GET", "HEAD"):
            return self._get(req, path), []
        if req.method in ("PUT", "PATCH"):
            return self._write(req, path, ctx, api_version)
        if req.method == "DELETE":
            return self._delete(req, path, ctx, api_version)
        raise ArmError(405, "MethodNotAllowed", f"{req.method} is not supported on a resource.")

    # ----------------------------------------------------------------- reads
    def _get(self, req: Request, path: ArmPath) -> Response:
        entry = self.store.entry(path.resource_id)
        if entry is not None:
            body = copy.deepcopy(entry.body)
        elif path.is_resource_group and self.store.resource_group_exists(path.subscription, path.names[0]):
            # A resource group exists implicitly once something lives in it.
            body = {
                "id": path.resource_id, "name": path.names[0], "type": RESOURCE_GROUP_TYPE,
                "location": "eastus", "properties": {"provisioningState": "Succeeded"},
            }
        else:
            raise not_found(path)
        if req.method == "HEAD":
            return Response(204)
        pending = self.ops.pending_for(path.resource_id)
        if pending is not None and isinstance(body.get("properties"), dict):
            # While an accepted write is running ARM shows it in provisioningState; the write
            # itself lands only when the operation completes.
            body["properties"]["provisioningState"] = "Deleting" if pending.method == "DELETE" else "Updating"
        headers = {"ETag": str(body["etag"])} if body.get("etag") else {}
        return Response(200, body, headers)

    def _list(self, req: Request, path: ArmPath) -> Response:
        parent = path.parent_id
        if parent is not None and self.store.entry(parent) is None:
            raise ArmError(404, "ParentResourceNotFound", f"Parent resource '{parent}' was not found.")
        entries = self.store.list_collection(path)
        offset = 0
        token = req.query.get("$skipToken")
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
            except ValueError:
                raise ArmError(400, "InvalidSkipToken", "The $skipToken is not valid.") from None
        page = entries[offset:offset + self.page_size]
        result: dict[str, Any] = {"value": [copy.deepcopy(e.body) for e in page]}
        if offset + len(page) < len(entries):
            next_token = base64.urlsafe_b64encode(str(offset + len(page)).encode()).decode().rstrip("=")
            result["nextLink"] = (
                f"{req.base_url}{req.path}?api-version={req.query['api-version']}&$skipToken={next_token}"
            )
        return Response(200, result)

    # ----------------------------------------------------------------- writes
    def lro_mode_for(self, resource_id: str) -> str:
        return self.lro_overrides.get(id_key(resource_id), self.lro_mode)

    def _write(
        self, req: Request, path: ArmPath, ctx: CallContext, api_version: str
    ) -> tuple[Response, list[dict[str, Any]]]:
        payload = req.json_body()
        if not isinstance(payload, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        rid = path.resource_id
        with self.store.lock:
            entry = self.store.entry(rid)
            if entry is None and req.method == "PATCH":
                raise not_found(path)
            parent = path.parent_id
            if entry is None and parent is not None and self.store.entry(parent) is None:
                raise ArmError(404, "ParentResourceNotFound", f"Parent resource '{parent}' was not found.")
            check_preconditions(entry, req.headers.get("If-Match"), req.headers.get("If-None-Match"))
            self._refuse_if_busy(rid)
            creating = entry is None

            def apply() -> tuple[Any, list[dict[str, Any]]]:
                current = self.store.entry(rid)
                if current is None and req.method == "PATCH":
                    raise not_found(path)
                body = self._next_body(req.method, path, payload, current, ctx.claims)
                stored = self.store.store(rid, body)
                event = self._event(WRITE_SUCCESS, ctx, stored, "write", include_http=current is not None)
                return copy.deepcopy(stored.body), [event]

            def failed(err: ArmError) -> list[dict[str, Any]]:
                return [self._event_for(WRITE_FAILURE, ctx, path, "write", status="Failed")]

            mode = self.lro_mode_for(rid)
            if mode == "sync":
                result, events = apply()
                status = 201 if creating else 200
                return Response(status, result, {"ETag": str(result["etag"])}), events
            location = _location_segment(entry.body if entry else payload)
            return self._accept(req, path, api_version, location, apply, failed, mode), []

    def _next_body(
        self, method: str, path: ArmPath, payload: dict[str, Any], current: Entry | None, claims: dict[str, Any]
    ) -> dict[str, Any]:
        """The body a PUT (replace) or PATCH (merge) leaves behind, stamped like ARM stamps it."""
        incoming = {k: copy.deepcopy(v) for k, v in payload.items() if k not in SERVER_OWNED_TOP_LEVEL}
        incoming_props = incoming.get("properties")
        if isinstance(incoming_props, dict):
            for key in (*SERVER_OWNED_PROPERTIES, "provisioningState"):
                incoming_props.pop(key, None)
        old = current.body if current else {}
        if method == "PATCH":
            body = merge_patch(old, incoming)
        else:
            body = incoming
            old_props = old.get("properties")
            if isinstance(old_props, dict) and isinstance(body.get("properties"), dict):
                for key in SERVER_OWNED_PROPERTIES:
                    if key in old_props:
                        body["properties"][key] = old_props[key]
            if "location" not in body and "location" in old:
                body["location"] = old["location"]
        body = with_identity(body, path, keep_type=old.get("type"))
        if current is not None:
            body["id"] = old.get("id", body["id"])  # keep the stored casing of the id
        body["etag"] = new_etag()
        actor, actor_type = _caller_name(claims)
        now = utc_now_iso()
        system_data = dict(old.get("systemData") or {}) if current else {
            "createdBy": actor, "createdByType": actor_type, "createdAt": now,
        }
        system_data.update(lastModifiedBy=actor, lastModifiedByType=actor_type, lastModifiedAt=now)
        body["systemData"] = system_data
        if isinstance(body.get("properties"), dict):
            body["properties"]["provisioningState"] = "Succeeded"
        return body

    def _refuse_if_busy(self, resource_id: str) -> None:
        if self.ops.pending_for(resource_id) is not None:
            raise ArmError(
                409, "AnotherOperationInProgress",
                f"Another operation is in progress on resource '{resource_id}'. Retry after it completes.",
            )

    def _delete(
        self, req: Request, path: ArmPath, ctx: CallContext, api_version: str
    ) -> tuple[Response, list[dict[str, Any]]]:
        rid = path.resource_id
        with self.store.lock:
            entry = self.store.entry(rid)
            if entry is None:
                raise not_found(path)
            check_preconditions(entry, req.headers.get("If-Match"), req.headers.get("If-None-Match"))
            self._refuse_if_busy(rid)

            def apply() -> tuple[Any, list[dict[str, Any]]]:
                current = self.store.entry(rid)
                if current is None:
                    raise not_found(path)
                self.store.remove(rid)
                self.keys.forget(rid)
                return None, [self._event(DELETE_SUCCESS, ctx, current, "delete", include_http=True)]

            def failed(err: ArmError) -> list[dict[str, Any]]:
                return [self._event_for(DELETE_FAILURE, ctx, path, "delete", status="Failed")]

            mode = self.lro_mode_for(rid)
            if mode == "sync":
                _, events = apply()
                return Response(200), events
            return self._accept(req, path, api_version, _location_segment(entry.body), apply, failed, mode), []

    # ----------------------------------------------------------------- actions
    def _action(
        self, req: Request, path: ArmPath, ctx: CallContext, api_version: str
    ) -> tuple[Response, list[dict[str, Any]]]:
        assert path.action is not None
        rid = path.resource_id
        entry = self.store.entry(rid)
        if entry is None:
            raise not_found(path)
        action = path.action.lower()
        verb = _CANONICAL_ACTIONS.get(action, path.action)
        op_name = _ACTION_OPERATION_NAMES.get((entry.type_key, action)) or operation_name(
            entry.body.get("type") or path.resource_type, f"{verb}/action"
        )

        def event(current: Entry) -> dict[str, Any]:
            return build_event(
                ACTION_SUCCESS, ctx, resource_id=str(current.body.get("id") or rid),
                subscription_id=path.subscription, operation_name=op_name,
                tenant_id=self.tenant_id, include_http_request=True,
            )

        if action == "listkeys":
            return Response(200, self._key_document(entry, self.keys.get(rid))), [event(entry)]
        if action in ("regeneratekey", "regeneratekeys"):
            return self._regenerate(req, entry, rid), [event(entry)]
        if action in _COMPUTE_STATES and entry.type_key == _COMPUTE_TYPE:
            return self._compute_power(req, path, entry, action, api_version, event, ctx, op_name)
        raise ArmError(
            404, "InvalidResourceType",
            f"The resource type '{path.types[-1]}/{path.action}' could not be found in the namespace "
            f"'{path.namespace}' for api version '{api_version}'.",
        )

    @staticmethod
    def _key_document(entry: Entry, keys: list[str]) -> dict[str, str]:
        # ML endpoints answer EndpointAuthKeys; Cognitive Services and the rest answer key1/key2.
        if entry.type_key.startswith("microsoft.machinelearningservices/") and entry.type_key.endswith("endpoints"):
            return {"primaryKey": keys[0], "secondaryKey": keys[1]}
        return {"key1": keys[0], "key2": keys[1]}

    def _regenerate(self, req: Request, entry: Entry, rid: str) -> Response:
        payload = req.json_body() or {}
        name = str(payload.get("keyName") or payload.get("keyType") or "").lower() if isinstance(payload, dict) else ""
        index = {"key1": 0, "primary": 0, "key2": 1, "secondary": 1}.get(name)
        if index is None:
            raise ArmError(400, "InvalidRequestContent", "keyName must be Key1 or Key2 (keyType Primary or Secondary).")
        return Response(200, self._key_document(entry, self.keys.regenerate(rid, index)))

    def _compute_power(
        self,
        req: Request,
        path: ArmPath,
        entry: Entry,
        action: str,
        api_version: str,
        event: Callable[[Entry], dict[str, Any]],
        ctx: CallContext,
        op_name: str,
    ) -> tuple[Response, list[dict[str, Any]]]:
        rid = path.resource_id
        with self.store.lock:
            self._refuse_if_busy(rid)

            def apply() -> tuple[Any, list[dict[str, Any]]]:
                current = self.store.entry(rid)
                if current is None:
                    raise not_found(path)
                body = copy.deepcopy(current.body)
                props = body.setdefault("properties", {})
                inner = props.get("properties") if isinstance(props.get("properties"), dict) else {}
                props["properties"] = {**inner, "state": _COMPUTE_STATES[action]}
                body["etag"] = new_etag()
                stored = self.store.store(rid, body)
                return None, [event(stored)]

            def failed(err: ArmError) -> list[dict[str, Any]]:
                return [build_event(
                    ACTION_FAILURE, ctx, resource_id=rid, subscription_id=path.subscription,
                    operation_name=op_name, tenant_id=self.tenant_id, include_http_request=True, status="Failed",
                )]

            mode = self.lro_mode_for(rid)
            if mode == "sync":
                _, events = apply()
                return Response(200), events
            return self._accept(req, path, api_version, _location_segment(entry.body), apply, failed, mode), []

    # ----------------------------------------------------------------- long-running operations
    def _accept(
        self,
        req: Request,
        path: ArmPath,
        api_version: str,
        location: str,
        apply: Callable[[], tuple[Any, list[dict[str, Any]]]],
        failed: Callable[[ArmError], list[dict[str, Any]]],
        mode: str,
    ) -> Response:
        """Register an operation and answer 202 Accepted with ARM's polling headers."""
        if mode not in LRO_MODES:
            raise ValueError(f"unknown LRO mode {mode!r}")
        op = self.ops.add(Operation(
            op_id=OperationTable.new_id(), subscription=path.subscription, namespace=path.namespace,
            location=location, resource_id=path.resource_id, method=req.method, api_version=api_version,
            apply=apply, fail=failed, should_fail=mode == "async-fail",
        ))
        if self.async_complete_after is not None:
            op.timer = threading.Timer(self.async_complete_after, self.complete, [op])
            op.timer.daemon = True
            op.timer.start()
        base = req.base_url
        return Response(202, None, {
            "Azure-AsyncOperation": op.status_url(base),
            "Location": op.result_url(base),
            "Retry-After": "0",
        })

    def complete(self, op: Operation) -> None:
        """Complete op outside any request (timer or complete_operations) and publish its events."""
        self.bus.publish(self.ops.complete(op))

    def _operation(self, req: Request, path: ArmPath) -> tuple[Response, list[dict[str, Any]]]:
        if req.method != "GET":
            raise ArmError(405, "MethodNotAllowed", "Operation status URLs only answer GET.")
        op = self.ops.get(path.names[1])
        if op is None:
            raise ArmError(404, "OperationNotFound", f"Operation '{path.names[1]}' was not found.")
        events: list[dict[str, Any]] = []
        with self.store.lock:
            if not op.done:
                op.polls += 1
                if op.polls > self.async_polls:
                    events = self.ops.complete(op)
        if path.types[1].lower() == "operationstatuses":
            return Response(200, op.status_document(), {"Retry-After": "0"} if not op.done else {}), events
        if not op.done:
            return Response(202, None, {"Location": op.result_url(req.base_url), "Retry-After": "0"}), events
        if op.error is not None:
            return op.error.to_response(), events
        if op.result is None:
            return Response(204), events
        return Response(200, op.result), events

    # ----------------------------------------------------------------- events
    def _event(
        self, event_type: str, ctx: CallContext, entry: Entry, verb: str, *, include_http: bool
    ) -> dict[str, Any]:
        resource_type = str(entry.body.get("type") or entry.path.resource_type)
        return build_event(
            event_type, ctx, resource_id=str(entry.body.get("id") or entry.path.resource_id),
            subscription_id=entry.path.subscription, operation_name=operation_name(resource_type, verb),
            tenant_id=self.tenant_id, include_http_request=include_http,
        )

    def _event_for(
        self, event_type: str, ctx: CallContext, path: ArmPath, verb: str, *, status: str
    ) -> dict[str, Any]:
        entry = self.store.entry(path.resource_id)
        resource_type = str(entry.body.get("type")) if entry else path.resource_type
        return build_event(
            event_type, ctx, resource_id=path.resource_id, subscription_id=path.subscription,
            operation_name=operation_name(resource_type, verb), tenant_id=self.tenant_id,
            include_http_request=True, status=status,
        )
