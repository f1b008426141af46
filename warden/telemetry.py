"""Defender-visible telemetry: the remediation log's fixed property schema, Azure Monitor set-up, and the
recorder, spans and counters that use it.

`SCHEMA` below is the single source of truth for the property names. The Log Analytics queries, the
workbook and the Sentinel rules under infra/monitoring/ read only these names (a test checks it), the
durable remediation log (warden/remediation_log.py) stores its records under the same names, and
docs/remediation-log.md shows the table `schema_markdown()` renders. Add properties; never rename one.

Nothing here imports OpenTelemetry or the Azure Monitor distro at import time: `configure()` does, once per
worker process, when the runtime is first built (it costs ~300 ms and ~50 MB).
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from warden.model import Action, ActionRecord, EventRecord, Outcome, Triage
from warden.records import action_fields, event_fields

SCHEMA_VERSION = "1"
LOGGER_NAME = "driftwarden.remediation"
SERVICE_NAME = "driftwarden"
SPAN_NAME = "driftwarden.event"
MAX_VALUE_CHARS = 8192  # Application Insights keeps at most 8192 characters of a property value

# Which records carry a property: "event" (one per event), "action" (one per finding), or "both".
EVENT, ACTION, BOTH = "event", "action", "both"

# name -> (records, meaning). Every value is a string (customDimensions are strings in Log Analytics).
_SCHEMA: dict[str, tuple[str, str]] = {
    "dw_schema": (BOTH, f"Schema version of these properties (\"{SCHEMA_VERSION}\")."),
    "dw_record": (BOTH, "`event` (how one event ended) or `action` (what was done about one finding)."),
    "dw_time": (BOTH, "When the record was written, ISO 8601 UTC."),
    "dw_event_id": (BOTH, "Event Grid event id (the key redeliveries share)."),
    "dw_correlation_id": (BOTH, "ARM correlation id of the change (links the deployment's events)."),
    "dw_event_type": (EVENT, "Event Grid event type, e.g. `Microsoft.Resources.ResourceWriteSuccess`."),
    "dw_operation": (EVENT, "ARM operation, e.g. `Microsoft.CognitiveServices/accounts/write`."),
    "dw_source": (BOTH, "`event` (an Event Grid delivery) or `sweep` (the timer's re-read)."),
    "dw_resource_id": (BOTH, "ARM id of the resource the checks evaluated."),
    "dw_resource_type": (BOTH, "ARM resource type."),
    "dw_subscription_id": (BOTH, "Subscription of the resource (from its id)."),
    "dw_outcome": (EVENT, "How the event ended: the Outcome vocabulary (docs/remediation-log.md)."),
    "dw_checks": (EVENT, "Comma-separated check ids of the event's action records."),
    "dw_action": (ACTION, "What was done about the finding: the Action vocabulary (docs/remediation-log.md)."),
    "dw_check_id": (ACTION, "Check id from the drift catalog, e.g. `cogsvc-public-network`."),
    "dw_severity": (ACTION, "Severity of the check: `high`, `medium`, `low`."),
    "dw_mode": (ACTION, "Configured mode of the check: `off`, `report`, `ticket`, `revert`."),
    "dw_reason": (BOTH, "Why: the decision's reason (events: the outcome's summary)."),
    "dw_detail": (ACTION, "What the check saw, in words."),
    "dw_flapping": (ACTION, "`true` when a revert was held back because the resource+check flapped."),
    "dw_dry_run": (ACTION, "`true` when the action was only simulated (global dry-run)."),
    "dw_before": (ACTION, "JSON object: the checked property values as read before acting."),
    "dw_after": (ACTION, "JSON object: the property values after the action (or the values a pending revert writes)."),
    "dw_ticket": (ACTION, "Ticket reference when one was opened or updated."),
    "dw_caller_oid": (BOTH, "Object id of the principal who made the change (from the event's claims)."),
    "dw_caller_appid": (BOTH, "Application id of the caller's client (from the event's claims)."),
    "dw_caller_name": (BOTH, "UPN or name of the caller (from the event's claims)."),
    "dw_caller_ip": (BOTH, "Client IP address of the caller (from the event's claims)."),
    "dw_exemption_status": (BOTH, "`honoured` or `refused`: exemption tags found on the resource."),
    "dw_exemption_checks": (BOTH, "Comma-separated check ids the exemption names (`*` = all)."),
    "dw_exemption_until": (BOTH, "Exemption expiry, ISO 8601 (or the unreadable tag value)."),
    "dw_exemption_reason": (BOTH, "The exemption's reason tag."),
    "dw_exemption_problem": (BOTH, "Why the exemption was refused (missing reason or expiry, expired, too long...)."),
    "dw_duration_ms": (EVENT, "Time spent on the event, milliseconds."),
    "dw_arm_calls": (EVENT, "ARM requests made for the event."),
    "dw_error": (BOTH, "The error that stopped the work, when there was one."),
}

SCHEMA: dict[str, str] = {name: meaning for name, (_, meaning) in _SCHEMA.items()}
EVENT_PROPERTIES: tuple[str, ...] = tuple(n for n, (where, _) in _SCHEMA.items() if where in (EVENT, BOTH))
ACTION_PROPERTIES: tuple[str, ...] = tuple(n for n, (where, _) in _SCHEMA.items() if where in (ACTION, BOTH))

# Each key of records.event_fields / records.action_fields, and the properties it becomes.
FIELD_PROPERTIES: dict[str, tuple[str, ...]] = {
    "record": ("dw_record",), "time": ("dw_time",), "event_id": ("dw_event_id",),
    "correlation_id": ("dw_correlation_id",), "event_type": ("dw_event_type",), "operation": ("dw_operation",),
    "source": ("dw_source",), "resource_id": ("dw_resource_id", "dw_subscription_id"),
    "resource_type": ("dw_resource_type",), "outcome": ("dw_outcome",), "checks": ("dw_checks",),
    "action": ("dw_action",), "check": ("dw_check_id",), "severity": ("dw_severity",), "mode": ("dw_mode",),
    "reason": ("dw_reason", "dw_flapping"), "detail": ("dw_detail",), "dry_run": ("dw_dry_run",),
    "before": ("dw_before",), "after": ("dw_after",), "ticket": ("dw_ticket",),
    "caller": ("dw_caller_oid", "dw_caller_appid", "dw_caller_name", "dw_caller_ip"),
    "exemption": ("dw_exemption_status", "dw_exemption_checks", "dw_exemption_until", "dw_exemption_reason",
                  "dw_exemption_problem"),
    "duration_ms": ("dw_duration_ms",), "arm_calls": ("dw_arm_calls",), "error": ("dw_error",),
}

# warden.policy words a revert held back by flap detection this way (a test pins the two together).
FLAP_HOLD_PREFIX = "revert held back: reverted "


def is_flap_hold(action: ActionRecord) -> bool:
    return action.action in (Action.TICKETED, Action.WOULD_TICKET, Action.FAILED) and \
        FLAP_HOLD_PREFIX in (action.reason or "")


# --- secrets never leave ---------------------------------------------------------------------------

_SECRET_PATTERNS = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted-token]"),
    (re.compile(r"(?i)\b(accountkey|sharedaccesssignature|sig|password|pwd|secret|client_secret|access_token|"
                r"refresh_token|apikey|api-key|code)=([^;&\s\"']+)"), r"\1=[redacted]"),
    (re.compile(r"(?i)(\"(?:key1|key2|primarykey|secondarykey|apikey|api_key|password|secret|connectionstring|"
                r"accesstoken|access_token)\"\s*:\s*\")[^\"]*(\")"), r"\1[redacted]\2"),
)


def scrub(text: str) -> str:
    """Remove what looks like a token, key or signature, and cap the length."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 15] + "...[truncated]"


# --- records -> flat string properties ---------------------------------------------------------------

def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) if value else None
    if isinstance(value, Mapping):
        return json.dumps(value, default=str, sort_keys=True, separators=(",", ":"))
    return str(value)


def _subscription(resource_id: Any) -> str | None:
    if not isinstance(resource_id, str):
        return None
    match = re.match(r"(?i)^/subscriptions/([^/]+)", resource_id)
    return match.group(1).lower() if match else None


def flatten(fields: Mapping[str, Any]) -> dict[str, str]:
    """One record (records.event_fields / action_fields) as the schema's flat string properties.
    Absent values are left out; every value is scrubbed of secrets."""
    out: dict[str, Any] = {"dw_schema": SCHEMA_VERSION}
    for key, value in fields.items():
        names = FIELD_PROPERTIES.get(key)
        if names is None:
            raise KeyError(f"records field {key!r} has no telemetry property: add it to FIELD_PROPERTIES and SCHEMA")
        if key == "caller":
            caller = value or {}
            out.update(dw_caller_oid=caller.get("oid"), dw_caller_appid=caller.get("appid"),
                       dw_caller_name=caller.get("name"), dw_caller_ip=caller.get("ipaddr"))
        elif key == "exemption":
            exemption = value or {}
            out.update(dw_exemption_status=exemption.get("status"), dw_exemption_checks=exemption.get("checks"),
                       dw_exemption_until=exemption.get("until"), dw_exemption_reason=exemption.get("reason") or None,
                       dw_exemption_problem=exemption.get("problem"))
        elif key == "resource_id":
            out.update(dw_resource_id=value, dw_subscription_id=_subscription(value))
        elif key == "reason":
            out["dw_reason"] = value
            if fields.get("record") == "action":
                out["dw_flapping"] = FLAP_HOLD_PREFIX in (value or "") and fields.get("action") in (
                    Action.TICKETED.value, Action.WOULD_TICKET.value, Action.FAILED.value)
        elif key in ("before", "after"):
            out[names[0]] = value if value else None
        else:
            out[names[0]] = value
    flat = {}
    for name, value in out.items():
        text = _text(value)
        if text is not None and text != "":
            flat[name] = scrub(text)
    return flat


def event_properties(event: EventRecord, at: datetime | None = None) -> list[dict[str, str]]:
    """The event's record followed by one record per action, as flat schema properties."""
    at = at or datetime.now(timezone.utc)
    return [flatten(event_fields(event, at)), *(flatten(action_fields(a, at)) for a in event.actions)]


def schema_markdown() -> str:
    """The property table of docs/remediation-log.md (a test keeps the two identical)."""
    rows = ["| property | on records | meaning |", "| --- | --- | --- |"]
    for name, (where, meaning) in _SCHEMA.items():
        shown = {EVENT: "event", ACTION: "action", BOTH: "event, action"}[where]
        rows.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(rows)


# --- configuration -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TelemetrySettings:
    connection_string: str
    ingestion_endpoint: str
    identity: bool  # Entra ID auth to ingestion (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD...)
    storage_directory: str | None  # offline retry storage; None = disabled


def settings_from_env(environ: Mapping[str, str] | None = None) -> TelemetrySettings | None:
    """Azure Monitor settings from the app settings, or None when APPLICATIONINSIGHTS_CONNECTION_STRING is unset."""
    from warden.config import ConfigError

    env = os.environ if environ is None else environ
    connection_string = (env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or "").strip()
    if not connection_string:
        return None
    parts: dict[str, str] = {}
    for item in connection_string.split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError("APPLICATIONINSIGHTS_CONNECTION_STRING is not a list of Key=Value pairs "
                                  "separated by ';' (copy it from the Application Insights resource's Overview)")
            parts[key.strip().lower()] = value.strip()
    if not parts.get("instrumentationkey"):
        raise ConfigError("APPLICATIONINSIGHTS_CONNECTION_STRING has no InstrumentationKey")
    endpoint = parts.get("ingestionendpoint") or "https://dc.services.visualstudio.com/"
    if urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc:
        raise ConfigError(f"APPLICATIONINSIGHTS_CONNECTION_STRING: IngestionEndpoint {endpoint!r} is not an http(s) URL")
    auth = (env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") or "").replace(" ", "").lower()
    identity = "authorization=aad" in auth
    if identity and not endpoint.lower().startswith("https://"):
        raise ConfigError("APPLICATIONINSIGHTS_AUTHENTICATION_STRING asks for Entra ID (managed identity) auth, which "
                          "needs an https IngestionEndpoint; the connection string's endpoint is plain http")
    storage = (env.get("DRIFTWARDEN_TELEMETRY_STORAGE_DIR") or "").strip()
    if storage.lower() in ("off", "none", "false", "disabled"):
        directory = None
    else:
        directory = storage or os.path.join(tempfile.gettempdir(), "driftwarden", "telemetry")
    return TelemetrySettings(connection_string, endpoint, identity, directory)


_configured: TelemetrySettings | None = None
_configure_lock = threading.Lock()

# Switches of the Azure Monitor exporter that would otherwise send data to Microsoft's own endpoints:
# statsbeat / SDK stats (exporter health) and the OneSettings control plane. The remediation log goes only to
# the connection string's ingestion endpoint.
_EXPORTER_SWITCHES = {
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
}


def configure(settings: TelemetrySettings) -> bool:
    """Set up Azure Monitor OpenTelemetry for this process, once. Returns False when it already was.

    Live metrics and performance counters are off, statsbeat and the control plane are off, offline retry
    storage stays in our own temp folder, and the resource detectors never include `azure_vm` (it calls the
    instance metadata service at 169.254.169.254). Only the `driftwarden` logger tree is exported.
    """
    global _configured
    with _configure_lock:
        if _configured is not None:
            return False
        for name, value in _EXPORTER_SWITCHES.items():
            os.environ[name] = value
        detectors = [d.strip() for d in os.environ.get("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "azure_functions").split(",")]
        os.environ["OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"] = ",".join(d for d in detectors if d and d != "azure_vm") or "azure_functions"

        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry.sdk.resources import Resource

        options: dict[str, Any] = {
            "connection_string": settings.connection_string,
            "logger_name": "driftwarden",
            "resource": Resource.create({"service.name": SERVICE_NAME}),
            "enable_live_metrics": False,
            "enable_performance_counters": False,
            "disable_offline_storage": settings.storage_directory is None,
            # ARM and Table Storage calls become dependencies through the Azure SDK tracing; the generic HTTP
            # instrumentations would only duplicate them.
            "instrumentation_options": {name: {"enabled": False} for name in (
                "requests", "urllib", "urllib3", "httpx", "django", "fastapi", "flask", "psycopg2")},
        }
        if settings.storage_directory is not None:
            os.makedirs(settings.storage_directory, mode=0o700, exist_ok=True)
            options["storage_directory"] = settings.storage_directory
        configure_azure_monitor(**options)
        logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
        _configured = settings
        return True


def is_configured() -> bool:
    return _configured is not None


def flush(timeout_millis: int = 10_000) -> None:
    """Export everything buffered now (tests, the end of `demo`, a worker shutting down)."""
    if _configured is None:
        return
    from opentelemetry import _logs, metrics, trace

    for provider in (trace.get_tracer_provider(), _logs.get_logger_provider(), metrics.get_meter_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush(timeout_millis)


# --- the recorder ------------------------------------------------------------------------------------

class TelemetryRecorder:
    """Every outcome and action as one structured log record on `driftwarden.remediation` (AppTraces in
    Log Analytics, properties in customDimensions), plus counters. Never raises for a record it cannot send:
    the exporter retries in the background."""

    def __init__(self, logger: logging.Logger | None = None):
        from opentelemetry import metrics

        self._logger = logger or logging.getLogger(LOGGER_NAME)
        if self._logger.level == logging.NOTSET:
            self._logger.setLevel(logging.INFO)
        meter = metrics.get_meter("driftwarden")
        self._events = meter.create_counter("driftwarden.events", unit="{event}",
                                            description="Events handled, by outcome")
        self._actions = meter.create_counter("driftwarden.actions", unit="{action}",
                                             description="Action records, by action and check")
        self._failures = meter.create_counter("driftwarden.failures", unit="{record}",
                                              description="Events that ended failed and actions that failed")
        self._flaps = meter.create_counter("driftwarden.flaps", unit="{action}",
                                           description="Reverts held back because the resource+check flapped")

    def record(self, event: EventRecord) -> None:
        at = datetime.now(timezone.utc)
        records = event_properties(event, at)
        level = logging.ERROR if event.outcome is Outcome.FAILED else logging.INFO
        self._logger.log(level, _message(records[0]), extra=records[0])
        self._events.add(1, {"dw_outcome": event.outcome.value})
        if event.outcome is Outcome.FAILED:
            self._failures.add(1, {"dw_record": "event"})
        for action, properties in zip(event.actions, records[1:]):
            flapping = properties.get("dw_flapping") == "true"
            level = logging.ERROR if action.action is Action.FAILED else logging.WARNING if flapping else logging.INFO
            self._logger.log(level, _message(properties), extra=properties)
            self._actions.add(1, {"dw_action": action.action.value, "dw_check_id": action.check_id})
            if action.action is Action.FAILED:
                self._failures.add(1, {"dw_record": "action", "dw_check_id": action.check_id})
            if flapping:
                self._flaps.add(1, {"dw_check_id": action.check_id})


def _message(properties: Mapping[str, str]) -> str:
    where = properties.get("dw_resource_id") or properties.get("dw_event_id") or "-"
    if properties.get("dw_record") == "action":
        text = f"driftwarden action {properties.get('dw_action')} {properties.get('dw_check_id')}: {where}"
    else:
        text = f"driftwarden event {properties.get('dw_outcome')}: {where}"
    reason = properties.get("dw_reason")
    return scrub(f"{text} ({reason})" if reason else text)


# --- spans -------------------------------------------------------------------------------------------

class EventSpan:
    """What the trigger may add to the current event's span. A no-op when telemetry is off."""

    def __init__(self, span: Any = None):
        self._span = span

    def finish(self, record: EventRecord) -> None:
        if self._span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        properties = event_properties(record)[0]
        for name in ("dw_outcome", "dw_resource_id", "dw_resource_type", "dw_checks", "dw_arm_calls",
                     "dw_caller_oid", "dw_caller_appid"):
            if name in properties:
                self._span.set_attribute(name, properties[name])
        if record.outcome is Outcome.FAILED:
            self._span.set_status(Status(StatusCode.ERROR, scrub(record.reason)[:200]))


class EventSpans:
    """One span per event (`driftwarden.event`): AppRequests in Log Analytics, with the event's log records
    and its ARM / Table Storage dependencies beneath it (same operation id)."""

    def __init__(self, enabled: bool):
        self._enabled = enabled
        self._tracer = None

    @contextmanager
    def event(self, triage: Triage) -> Iterator[EventSpan]:
        if not self._enabled:
            yield EventSpan()
            return
        from opentelemetry import trace

        if self._tracer is None:
            self._tracer = trace.get_tracer("driftwarden")
        attributes = {"dw_event_id": triage.event_id or ""}
        if triage.resource_id:
            attributes["dw_resource_id"] = triage.resource_id
        if triage.operation:
            attributes["dw_operation"] = triage.operation
        with self._tracer.start_as_current_span(SPAN_NAME, kind=trace.SpanKind.CONSUMER,
                                                attributes=attributes) as span:
            yield EventSpan(span)


NO_SPANS = EventSpans(enabled=False)
