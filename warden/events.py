"""Event Grid deliveries -> one `Triage` per event (relevant with a ResourceChange, ignored, or invalid).

Accepts the Event Grid schema and CloudEvents 1.0, one event or an array, from the subscription system
topic (ARM write/action/delete events: no resource body) and from Azure Resource Notifications
(`Microsoft.ResourceNotifications.Resources.*`: the body is in the payload, no caller claims). One bad
event never blocks the others: each event is classified on its own.
"""
from __future__ import annotations

import json
import marshal
from datetime import datetime
from functools import lru_cache
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
_VALIDATION_LOWER = VALIDATION.lower()

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
    # `type(x) is dict` before isinstance(x, Mapping) here and below: decoded JSON objects are dicts, and an
    # isinstance check against typing.Mapping costs about 1 us (typing's and the ABC's __instancecheck__).
    if type(event) is not dict and not isinstance(event, Mapping):
        return Triage(None, Verdict.INVALID, f"an event must be a JSON object, got {type(event).__name__}")
    if _may_exceed(event, MAX_EVENT_BYTES) and len(json.dumps(event, default=str)) > MAX_EVENT_BYTES:
        return Triage(_text(event.get("id")), Verdict.INVALID, f"event is larger than Event Grid's {MAX_EVENT_BYTES}-byte limit")
    envelope = _envelope(event)
    if type(envelope) is Triage:
        return envelope
    event_id, event_type, schema, data, time_text, subject = envelope
    lowered = event_type.lower()
    kind = _ARM_KINDS.get(lowered)
    if kind is not None:
        return _arm_event(event_id, event_type, schema, data, time_text, subject, kind, scope)
    kind = _ARN_KINDS.get(lowered)
    if kind is not None:
        return _arn_event(event_id, event_type, schema, data, time_text, subject, kind, scope)
    if lowered == _VALIDATION_LOWER:
        return Triage(event_id, Verdict.IGNORED, "subscription validation handshake (answered by the endpoint, not an ARM change)")
    if lowered.startswith("microsoft.resources.resource"):
        return Triage(event_id, Verdict.IGNORED, f"{event_type}: failed or cancelled operations change nothing",
                      resource_id=_text(subject))
    return Triage(event_id, Verdict.IGNORED, f"event type {event_type} is not handled", resource_id=_text(subject))


# json.dumps(value, default=str) never writes more than this many characters per byte of
# marshal.dumps(value, 2) (format 2 has no back-references, so each value is written out in full at each
# occurrence). The tightest cases: `false` or a `false` key (5-7 characters for 1 byte) and the Ellipsis
# and StopIteration singletons (str() of them: 10 and 25 characters with quotes); tests/warden/test_hot_path.py
# checks the bound.
_JSON_CHARS_PER_MARSHAL_BYTE = 32


def _may_exceed(event: Any, limit: int) -> bool:
    """False when the event's JSON is certainly at most `limit` characters, without serialising it.

    Why: json.dumps of a 2.5 KB event cost more than the rest of triage. marshal walks the same tree for about
    a third of the instructions, and its length bounds the JSON length. It refuses what it cannot write (other
    types, subclasses of dict or str, very deep nesting): then the caller measures the JSON itself, as before.
    """
    try:
        return len(marshal.dumps(event, 2)) * _JSON_CHARS_PER_MARSHAL_BYTE > limit
    except Exception:  # noqa: BLE001 - any refusal means "measure exactly"
        return True


def _envelope(event: Mapping[str, Any]) -> tuple | Triage:
    """Validate the schema's required fields; return (id, type, schema, data, time, subject). The time is the
    field's text, not parsed yet: only a relevant event keeps it (see _classify)."""
    get = event.get
    event_id = _text(get("id"))
    if "specversion" in event:
        schema = "cloudevents"
        event_type, time_text = get("type"), _text(get("time"))
        specversion = _text(get("specversion"))
        if event_id and specversion == "1.0" and _text(get("source")) and _text(event_type):
            problems = []  # the usual case, without building the list of missing fields
        else:
            missing = [f for f in ("id", "source", "type", "specversion") if not _text(get(f))]
            problems = [f"missing {', '.join(missing)}"] if missing else []
            if specversion not in (None, "1.0"):
                problems.append(f"specversion must be \"1.0\", got {get('specversion')!r}")
    elif "eventType" in event or "eventtype" in {k.lower() for k in event}:
        schema = "eventgrid"
        event_type, time_text = get("eventType"), _text(get("eventTime"))
        if event_id and time_text and _text(event_type):
            problems = []
        else:
            missing = [f for f in ("id", "eventType", "eventTime") if not _text(get(f))]
            problems = [f"missing {', '.join(missing)}"] if missing else []
    else:
        return Triage(event_id, Verdict.INVALID,
                      "neither an Event Grid schema event (no eventType) nor a CloudEvent (no specversion)")
    data = get("data")
    is_object = type(data) is dict or isinstance(data, Mapping)
    if not is_object and _text(event_type) != VALIDATION:
        problems.append("missing data object")
    if problems:
        return Triage(event_id, Verdict.INVALID, f"malformed {schema} event: {'; '.join(problems)}")
    return event_id, str(event_type), schema, data if is_object else {}, time_text, get("subject")


def _arm_event(event_id, event_type, schema, data, time_text, subject, kind, scope) -> Triage:
    get = data.get
    resource = _text(get("resourceUri")) or _text(subject)
    operation = _text(get("operationName"))
    if not resource or not operation:
        missing = [name for name, value in (("data.resourceUri", resource), ("data.operationName", operation)) if not value]
        return Triage(event_id, Verdict.INVALID, f"malformed ARM event: missing {', '.join(missing)}")
    lowered = operation.lower()
    if lowered == _DEPLOYMENT_WRITE:
        return Triage(event_id, Verdict.IGNORED,
                      "template deployment write: the resource's own write event follows with the same correlationId",
                      resource, operation)
    status = _text(get("status"))
    if status and status.lower() != "succeeded":
        return Triage(event_id, Verdict.IGNORED, f"operation status {status}: nothing changed", resource, operation)
    return _classify(event_id, event_type, schema, kind, resource, operation, lowered, data, time_text, None, scope)


def _arn_event(event_id, event_type, schema, data, time_text, subject, kind, scope) -> Triage:
    info = data.get("resourceInfo")
    if (type(info) is not dict and not isinstance(info, Mapping)) or not _text(info.get("id")) or not _text(info.get("type")):
        return Triage(event_id, Verdict.INVALID, "malformed Resource Notifications event: missing data.resourceInfo.id or .type")
    resource, resource_type = str(info["id"]), str(info["type"])
    operation = f"{resource_type}/{'delete' if kind is ChangeKind.DELETE else 'write'}"
    operational = data.get("operationalInfo")
    if type(operational) is not dict and not isinstance(operational, Mapping):
        operational = {}
    when = _time(operational.get("resourceEventTime")) or (_time_of(time_text) if time_text else None)
    properties = info.get("properties")
    payload = info if kind is ChangeKind.WRITE and (type(properties) is dict or isinstance(properties, Mapping)) else None
    return _classify(event_id, event_type, schema, kind, resource, operation, operation.lower(), None, when, payload,
                     scope)


_ROLE_REASONS = {role: f"{role.value}: " for role in OperationRole}  # role.value goes through enum's descriptor


def _classify(event_id, event_type, schema, kind, resource, operation, lowered_operation, data, event_time, payload,
              scope) -> Triage:
    """`data` is the ARM event's data (caller claims, correlation and subscription ids); None for Resource
    Notifications, which carry none of them. `event_time` may still be the envelope's text (ARM events): it
    is parsed here, once the event is known to be relevant."""
    try:
        subscription, group, namespace, tail = rid.split(resource)
    except rid.InvalidResourceId as error:
        return Triage(event_id, Verdict.INVALID, f"malformed resource id: {error}", resource, operation)
    # The nearest covered resource: the id itself or an ancestor (a child or an action maps to its parent).
    pairs = len(tail) // 2  # an odd trailing part is an action name
    covered = _covered(namespace, tuple(tail[0:2 * pairs:2])) if pairs else None
    if covered is None:
        return Triage(event_id, Verdict.IGNORED, "resource type is not covered by any remediator", resource, operation)
    depth, resource_kind = covered
    role = resource_kind.operations.get(lowered_operation)  # = resource_kind.role_of(operation)
    if role is None:
        return Triage(event_id, Verdict.IGNORED, f"operation {operation} does not affect any {resource_kind.type} check",
                      resource, operation)
    target = rid.canonical(subscription, group, namespace, tail[:2 * depth])  # = str(ResourceId of the target)
    if scope is not None:
        inside, why = scope.contains(target)
        if not inside:
            return Triage(event_id, Verdict.IGNORED, why, resource, operation)
    if role is OperationRole.DELETE and depth != pairs:
        role = OperationRole.EVALUATE  # a child was deleted (a private endpoint connection): its parent changed
    if role is OperationRole.DELETE:
        change_kind = ChangeKind.DELETE
    elif kind is ChangeKind.DELETE:
        change_kind = ChangeKind.WRITE  # deleting a child (a private endpoint connection) changes its parent
    else:
        change_kind = kind
    if type(event_time) is str:
        event_time = _time_of(event_time)
    if data is None:
        caller, correlation_id, subscription_id = Caller(), None, None
    else:
        get = data.get
        caller = _caller(get("claims"))
        correlation_id, subscription_id = _text(get("correlationId")), _text(get("subscriptionId"))
    change = ResourceChange(
        event_id or "", event_type, schema, change_kind, target, resource_kind.type, operation, caller,
        correlation_id, event_time, subscription_id or subscription, payload)
    if not event_id:
        return Triage(None, Verdict.INVALID, "malformed event: missing id", target, operation)
    return Triage(event_id, Verdict.RELEVANT, _ROLE_REASONS[role] + operation, target, operation, change)


@lru_cache(maxsize=256)
def _covered(namespace: str, types: tuple[str, ...]) -> tuple[int, Any] | None:
    """(depth, ResourceKind) of the longest covered prefix of a type chain, e.g. ("Microsoft.X", ("a", "b"))
    -> "Microsoft.X/a/b", then "Microsoft.X/a"; None when no prefix is covered.

    Cached by the chain (namespace and segment types, not names): a few dozen chains occur in practice, and
    the registry of kinds never changes after import.
    """
    for depth in range(len(types), 0, -1):
        kind = remediators.kind_for("/".join((namespace, *types[:depth])))
        if kind is not None:
            return depth, kind
    return None


def _caller(claims: Any) -> Caller:
    if type(claims) is dict:
        # Why: lower-casing ~40 claim names per event cost more than the rest of the caller. When no claim
        # name changes under lower() (the norm: ARM sends them lower-cased), the lower-cased copy built below
        # would be the dict itself, so the known names are looked up in it directly. The names seen so far
        # are remembered, so the usual event costs one set test instead of lower-casing its claim names.
        if _LOWER_CASE_CLAIMS.issuperset(claims) or _lower_case_names(claims):
            return _caller_from(claims.get)
    elif not isinstance(claims, Mapping):
        return Caller()
    return _caller_from({str(k).lower(): v for k, v in claims.items()}.get)


# Claim names known to be unchanged by lower(): only names _lower_case_names has checked go in, so every
# member is right. A few dozen distinct names occur in practice; the set is emptied if it ever fills up.
_LOWER_CASE_CLAIMS: set[str] = set()
_LOWER_CASE_CLAIMS_MAX = 1024


def _lower_case_names(claims: dict) -> bool:
    """Whether no claim name changes under lower(); if so, the names join _LOWER_CASE_CLAIMS."""
    try:
        names = "\n".join(claims)
    except TypeError:  # a name that is not a string
        return False
    if names.lower() != names:
        return False
    if len(_LOWER_CASE_CLAIMS) + len(claims) > _LOWER_CASE_CLAIMS_MAX:
        _LOWER_CASE_CLAIMS.clear()
    _LOWER_CASE_CLAIMS.update(claims)
    return True


def _caller_from(get) -> Caller:
    """The caller from a lower-cased view of the claims (`get` reads it; every name asked is lower-case)."""
    return Caller(_first(get, OID_CLAIMS), _first(get, _APP_CLAIMS), _first(get, NAME_CLAIMS), _first(get, _IP_CLAIMS))


_APP_CLAIMS = ("appid", "azp")
_IP_CLAIMS = ("ipaddr",)


def _first(get, names: Iterable[str]) -> str | None:
    """The first of `names` with a non-blank value."""
    for name in names:
        value = get(name)
        if value is not None:  # _text(value), inline: four calls per event
            value = (value if type(value) is str else str(value)).strip()
            if value:
                return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None


def _time(value: Any) -> datetime | None:
    text = _text(value)
    return _time_of(text) if text else None


def _time_of(text: str) -> datetime | None:
    """_time of a non-blank text (as _text returns it)."""
    try:
        # Event Grid sends 7 fractional digits; fromisoformat accepts at most 6.
        if len(text) == 28 and text.find(".") == 19 and text.find("Z") == 27 and text[20:27].isdigit():
            # Event Grid's own form, e.g. 2026-11-29T10:00:00.1234567Z: what the general rewrite below makes of
            # it, in one step (every relevant event has one).
            return datetime.fromisoformat(text[:26] + "+00:00")
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            zone = tail[len(digits):]
            text = f"{head}.{digits[:6]}{zone}"
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
