"""Event Grid deliveries -> one `Triage` per event (relevant with a ResourceChange, ignored, or invalid).

Accepts the Event Grid schema and CloudEvents 1.0, one event or an array, from the subscription system
topic (ARM write/action/delete events: no resource body) and from Azure Resource Notifications
(`Microsoft.ResourceNotifications.Resources.*`: the body is in the payload, no caller claims). One bad
event never blocks the others: each event is classified on its own.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Mapping

import remediators
from remediators.base import OperationRole
from warden import resource_id as rid
from warden.config import Scope
from warden.model import Caller, ChangeKind, ResourceChange, Triage, Verdict

MAX_EVENT_BYTES = 1024 * 1024  # Event Grid's hard limit per event

WRITE_SUCCESS = "Microsoft.Resources.ResourceWriteSuccess"
ACTION_SUCCESS = "Microsoft.Resources.ResourceActionSuccess"
DELETE_SUCCESS = "Microsoft.Resources.ResourceDeleteSuccess"
ARN_UPSERT = "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated"
ARN_DELETE = "Microsoft.ResourceNotifications.Resources.Deleted"
VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"

_ARM_KINDS = {WRITE_SUCCESS.lower(): ChangeKind.WRITE, ACTION_SUCCESS.lower(): ChangeKind.ACTION,
              DELETE_SUCCESS.lower(): ChangeKind.DELETE}
_ARN_KINDS = {ARN_UPSERT.lower(): ChangeKind.WRITE, ARN_DELETE.lower(): ChangeKind.DELETE}
_DEPLOYMENT_WRITE = "microsoft.resources/deployments/write"

OID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS = ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn", "unique_name", "name",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")


class DeliveryError(ValueError):
    """The delivery as a whole is unusable (not JSON, too large): nothing in it can be classified."""


def load_delivery(body: bytes | str | list | dict) -> list[Any]:
    """The events of one HTTP delivery, as JSON values (not yet validated)."""
    if isinstance(body, (bytes, str)):
        size = len(body)
        if size > MAX_EVENT_BYTES * 2:
            raise DeliveryError(f"delivery is {size} bytes; Event Grid events are at most {MAX_EVENT_BYTES} bytes")
        try:
            body = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DeliveryError(f"delivery is not JSON: {error}") from None
    if isinstance(body, list):
        return body
    return [body]


def triage_delivery(body: bytes | str | list | dict, scope: Scope | None = None) -> list[Triage]:
    return [triage(event, scope) for event in load_delivery(body)]


def triage(event: Any, scope: Scope | None = None) -> Triage:
    """Classify one event. Never raises for bad input: a malformed event is `invalid` with a reason."""
    if not isinstance(event, Mapping):
        return Triage(None, Verdict.INVALID, f"an event must be a JSON object, got {type(event).__name__}")
    if len(json.dumps(event, default=str)) > MAX_EVENT_BYTES:
        return Triage(_text(event.get("id")), Verdict.INVALID, f"event is larger than Event Grid's {MAX_EVENT_BYTES}-byte limit")
    envelope = _envelope(event)
    if isinstance(envelope, Triage):
        return envelope
    event_id, event_type, schema, data, event_time, subject = envelope
    kind = _ARM_KINDS.get(event_type.lower())
    if kind is not None:
        return _arm_event(event_id, event_type, schema, data, event_time, subject, kind, scope)
    kind = _ARN_KINDS.get(event_type.lower())
    if kind is not None:
        return _arn_event(event_id, event_type, schema, data, event_time, subject, kind, scope)
    if event_type.lower() == VALIDATION.lower():
        return Triage(event_id, Verdict.IGNORED, "subscription validation handshake (answered by the endpoint, not an ARM change)")
    if event_type.lower().startswith("microsoft.resources.resource"):
        return Triage(event_id, Verdict.IGNORED, f"{event_type}: failed or cancelled operations change nothing",
                      resource_id=_text(subject))
    return Triage(event_id, Verdict.IGNORED, f"event type {event_type} is not handled", resource_id=_text(subject))


def _envelope(event: Mapping[str, Any]) -> tuple | Triage:
    """Validate the schema's required fields; return (id, type, schema, data, time, subject)."""
    event_id = _text(event.get("id"))
    if "specversion" in event:
        schema = "cloudevents"
        missing = [f for f in ("id", "source", "type", "specversion") if not _text(event.get(f))]
        problems = [f"missing {', '.join(missing)}"] if missing else []
        if _text(event.get("specversion")) not in (None, "1.0"):
            problems.append(f"specversion must be \"1.0\", got {event.get('specversion')!r}")
        event_type, time_field = event.get("type"), event.get("time")
    elif "eventType" in event or "eventtype" in {k.lower() for k in event}:
        schema = "eventgrid"
        missing = [f for f in ("id", "eventType", "eventTime") if not _text(event.get(f))]
        problems = [f"missing {', '.join(missing)}"] if missing else []
        event_type, time_field = event.get("eventType"), event.get("eventTime")
    else:
        return Triage(event_id, Verdict.INVALID,
                      "neither an Event Grid schema event (no eventType) nor a CloudEvent (no specversion)")
    data = event.get("data")
    if not isinstance(data, Mapping) and _text(event_type) != VALIDATION:
        problems.append("missing data object")
    if problems:
        return Triage(event_id, Verdict.INVALID, f"malformed {schema} event: {'; '.join(problems)}")
    event_time = _time(time_field)
    return event_id, str(event_type), schema, data if isinstance(data, Mapping) else {}, event_time, event.get("subject")


def _arm_event(event_id, event_type, schema, data, event_time, subject, kind, scope) -> Triage:
    resource = _text(data.get("resourceUri")) or _text(subject)
    operation = _text(data.get("operationName"))
    missing = [name for name, value in (("data.resourceUri", resource), ("data.operationName", operation)) if not value]
    if missing:
        return Triage(event_id, Verdict.INVALID, f"malformed ARM event: missing {', '.join(missing)}")
    if operation.lower() == _DEPLOYMENT_WRITE:
        return Triage(event_id, Verdict.IGNORED,
                      "template deployment write: the resource's own write event follows with the same correlationId",
                      resource_id=resource, operation=operation)
    status = _text(data.get("status"))
    if status and status.lower() != "succeeded":
        return Triage(event_id, Verdict.IGNORED, f"operation status {status}: nothing changed",
                      resource_id=resource, operation=operation)
    return _classify(event_id, event_type, schema, kind, resource, operation, _caller(data.get("claims")),
                     _text(data.get("correlationId")), event_time, _text(data.get("subscriptionId")), None, scope)


def _arn_event(event_id, event_type, schema, data, event_time, subject, kind, scope) -> Triage:
    info = data.get("resourceInfo")
    if not isinstance(info, Mapping) or not _text(info.get("id")) or not _text(info.get("type")):
        return Triage(event_id, Verdict.INVALID, "malformed Resource Notifications event: missing data.resourceInfo.id or .type")
    resource, resource_type = str(info["id"]), str(info["type"])
    operation = f"{resource_type}/{'delete' if kind is ChangeKind.DELETE else 'write'}"
    operational = data.get("operationalInfo") if isinstance(data.get("operationalInfo"), Mapping) else {}
    when = _time(operational.get("resourceEventTime")) or event_time
    payload = info if kind is ChangeKind.WRITE and isinstance(info.get("properties"), Mapping) else None
    return _classify(event_id, event_type, schema, kind, resource, operation, Caller(), None, when, None, payload, scope)


def _classify(event_id, event_type, schema, kind, resource, operation, caller, correlation_id, event_time,
              subscription_id, payload, scope) -> Triage:
    def ignored(reason: str) -> Triage:
        return Triage(event_id, Verdict.IGNORED, reason, resource_id=resource, operation=operation)

    try:
        target = rid.covered_target(resource, lambda t: remediators.kind_for(t) is not None)
    except rid.InvalidResourceId as error:
        return Triage(event_id, Verdict.INVALID, f"malformed resource id: {error}", resource_id=resource, operation=operation)
    if target is None:
        return ignored("resource type is not covered by any remediator")
    resource_kind = remediators.kind_for(target.type or "")
    role = resource_kind.role_of(operation)
    if role is None:
        return ignored(f"operation {operation} does not affect any {resource_kind.type} check")
    if scope is not None:
        inside, why = scope.contains(str(target))
        if not inside:
            return ignored(why)
    if role is OperationRole.DELETE and rid.key(str(target)) != rid.key(str(rid.parse(resource))):
        role = OperationRole.EVALUATE
    if role is OperationRole.DELETE:
        change_kind = ChangeKind.DELETE
    elif kind is ChangeKind.DELETE:
        change_kind = ChangeKind.WRITE  # deleting a child (a private endpoint connection) changes its parent
    else:
        change_kind = kind
    change = ResourceChange(
        event_id=event_id or "", event_type=event_type, schema=schema, kind=change_kind,
        resource_id=str(target), resource_type=resource_kind.type, operation=operation, caller=caller,
        correlation_id=correlation_id, event_time=event_time,
        subscription_id=subscription_id or target.subscription_id, payload=payload)
    if not event_id:
        return Triage(None, Verdict.INVALID, "malformed event: missing id", resource_id=str(target), operation=operation)
    return Triage(event_id, Verdict.RELEVANT, f"{role.value}: {operation}", resource_id=str(target),
                  operation=operation, change=change)


def _caller(claims: Any) -> Caller:
    if not isinstance(claims, Mapping):
        return Caller()
    lowered = {str(k).lower(): v for k, v in claims.items()}

    def first(names: Iterable[str]) -> str | None:
        for name in names:
            value = _text(lowered.get(name.lower()))
            if value:
                return value
        return None

    return Caller(object_id=first(OID_CLAIMS), app_id=first(("appid", "azp")), name=first(NAME_CLAIMS),
                  ip_address=first(("ipaddr",)))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _time(value: Any) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        # Event Grid sends 7 fractional digits; fromisoformat accepts at most 6.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            zone = tail[len(digits):]
            text = f"{head}.{digits[:6]}{zone}"
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
