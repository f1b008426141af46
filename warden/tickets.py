"""Tickets for humans: what a ticket says, and the sink interface that delivers it.

One real sink lives here: a generic JSON webhook (Teams Workflows, Logic Apps, any HTTP endpoint). The
ticket key is a hash of resource id + check id, so a tracker can dedupe on it and no raw resource
name ever becomes a label or a query.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from remediators.base import Check
from warden import resource_id as rid
from warden.exemptions import EXEMPT_TAG, REASON_TAG, UNTIL_TAG
from warden.model import Caller


class TicketDeliveryError(Exception):
    """The ticket could not be delivered. `retryable` False = misconfiguration (401/403/404): fix the settings."""

    def __init__(self, message: str, retryable: bool = True, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Ticket:
    key: str
    title: str
    resource_id: str
    resource_type: str
    check_id: str
    severity: str
    what_changed: str
    changed_by: dict[str, Any]
    changed_at: str | None
    why_it_matters: str
    why_not_reverted: str
    blast_radius: str
    fix: dict[str, str]
    exempt_with: dict[str, str]
    portal_url: str
    policies: list[str] = field(default_factory=list)
    event_id: str | None = None
    correlation_id: str | None = None
    proposal: dict[str, Any] | None = None  # the exact PATCH a human may approve

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def ticket_key(resource_id: str, check_id: str) -> str:
    digest = hashlib.sha256(f"{rid.key(resource_id)}|{check_id}".encode()).hexdigest()
    return f"dw-{digest[:16]}"


def portal_url(resource_id: str) -> str:
    return f"https://portal.azure.com/#resource{resource_id}/overview"


def build_ticket(check: Check, resource_id: str, detail: str, reason: str, caller: Caller,
                 changed_at: str | None, today: date, max_exempt_days: int, event_id: str | None = None,
                 correlation_id: str | None = None, proposal: dict[str, Any] | None = None) -> Ticket:
    name = rid.parse(resource_id).name or resource_id
    until = (today + timedelta(days=min(30, max_exempt_days))).isoformat()
    return Ticket(
        key=ticket_key(resource_id, check.id),
        title=f"[{check.severity.value}] {check.title}: {name} ({check.id})",
        resource_id=resource_id,
        resource_type=check.resource_type,
        check_id=check.id,
        severity=check.severity.value,
        what_changed=detail,
        changed_by=caller.as_dict(),
        changed_at=changed_at,
        why_it_matters=check.risk,
        why_not_reverted=reason,
        blast_radius=check.blast_radius,
        fix={"cli": check.manual_fix.cli.replace("<resource-id>", resource_id), "bicep": check.manual_fix.bicep,
             "portal": check.manual_fix.portal},
        exempt_with={EXEMPT_TAG: check.id, UNTIL_TAG: until, REASON_TAG: "<why this resource needs it>",
                     "note": f"expiry at most {max_exempt_days} days ahead; all three tags are required"},
        portal_url=portal_url(resource_id),
        policies=[f"{p.name} ({p.definition_id})" for p in check.policies],
        event_id=event_id,
        correlation_id=correlation_id,
        proposal=proposal,
    )


class TicketSink(Protocol):
    def open(self, ticket: Ticket) -> str:
        """Open or update the ticket for ticket.key; return the tracker's reference. Raise TicketDeliveryError."""

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        """Comment on and close the open tickets of these checks of this resource, if any (the finding went
        away). A sink without memory of its tickets does nothing."""


def redact_url(url: str) -> str:
    """A webhook URL carries its secret (sig=...) in the query: show scheme, host and path only."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class WebhookTicketSink:
    """POSTs the ticket as JSON. Workflows answer 202 with no body, so the reference is our own key."""

    def __init__(self, url: str, retry_policy: Any = None, timeout: float = 10.0):
        from azure.core import PipelineClient
        from azure.core.pipeline import policies

        self._url = url
        self._client = PipelineClient(base_url=url, policies=[
            policies.HeadersPolicy({"Content-Type": "application/json"}),
            retry_policy or policies.RetryPolicy(retry_total=2, retry_backoff_max=5),
        ], connection_timeout=timeout, read_timeout=timeout)

    def open(self, ticket: Ticket) -> str:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        body = {"type": "driftwarden.ticket", "ticket": ticket.as_json()}
        try:
            response = self._client.send_request(HttpRequest("POST", self._url, json=body))
        except AzureError as error:
            raise TicketDeliveryError(f"webhook {redact_url(self._url)}: {type(error).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return f"webhook:{ticket.key}"
        retryable = status not in (400, 401, 403, 404, 413)
        raise TicketDeliveryError(f"webhook {redact_url(self._url)} answered {status}", retryable, status)

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        """A webhook has no ticket to close: resolution is visible in the remediation log."""
