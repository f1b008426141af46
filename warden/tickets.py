"""Tickets for humans: what a ticket says, and the sink interface that delivers it.

One sink lives here: a generic webhook (Logic Apps, any HTTP endpoint, and with an Adaptive Card payload
Teams Workflows). The trackers (GitHub, Azure DevOps, ServiceNow, Jira) and the durable outbox live in
warden/ticketing/. The ticket key is a hash of resource id + check id, so a tracker can dedupe on it and no
raw resource name ever becomes a label or a query.
"""
from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import quote, urlsplit

from remediators.base import Check
from warden import resource_id as rid
from warden.exemptions import EXEMPT_TAG, REASON_TAG, UNTIL_TAG
from warden.model import Caller


class TicketDeliveryError(Exception):
    """The ticket could not be delivered. `retryable` False = misconfiguration (401/403/404): fix the settings.

    `retry_after` (seconds) is the wait the tracker asked for (Retry-After or its rate-limit reset header):
    the outbox does not try again before it."""

    def __init__(self, message: str, retryable: bool = True, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    @property
    def delivery_state(self) -> str:
        """queued (the outbox retries it), rejected (the tracker refused the content: 400/413/422) or
        misconfigured (credentials, permissions, project or URL: 401/403/404/410, a 203 sign-in page)."""
        if self.retryable:
            return QUEUED
        return REJECTED if self.status in (400, 413, 415, 422) else MISCONFIGURED


class TicketGone(TicketDeliveryError):
    """The tracker no longer has this ticket (deleted or moved): a recurrence opens a new one."""

    def __init__(self, message: str, status: int | None = 404):
        super().__init__(message, retryable=False, status=status)


# Delivery states: the remediation log shows them as the prefix of a ticket reference that did not reach the
# tracker (`queued:github:dw-...`); a delivered reference is `<tracker>:<its id>` (docs/tickets.md).
DELIVERED, QUEUED, MISCONFIGURED, REJECTED, MERGED = "delivered", "queued", "misconfigured", "rejected", "merged"


class TicketReference(str):
    """What `TicketSink.open` returns: the reference the remediation log records, plus its delivery state."""

    delivery: str
    url: str | None
    problem: str | None

    def __new__(cls, value: str, delivery: str = DELIVERED, url: str | None = None, problem: str | None = None):
        reference = super().__new__(cls, value)
        reference.delivery = delivery
        reference.url = url
        reference.problem = problem
        return reference


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
    observed: dict[str, Any] = field(default_factory=dict)  # the drifted properties as read (JSON path -> value)
    resource_name: str = ""
    exempt_command: str = ""  # the exact `az tag update` that exempts this resource from this check

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Ticket":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def ticket_key(resource_id: str, check_id: str) -> str:
    digest = hashlib.sha256(f"{rid.key(resource_id)}|{check_id}".encode()).hexdigest()
    return f"dw-{digest[:16]}"


def portal_url(resource_id: str) -> str:
    """The portal deep link. The id is percent-encoded, so no character of it can end a link or open markup."""
    return f"https://portal.azure.com/#resource{quote(resource_id, safe='/')}/overview"


OBSERVED_MAX_CHARS = 4000  # a ticket quotes the drifted values; a 400-rule networkAcls must not fill it


def _bounded(observed: Mapping[str, Any] | None) -> dict[str, Any]:
    values = dict(observed or {})
    text = json.dumps(values, default=str, sort_keys=True)
    if len(text) <= OBSERVED_MAX_CHARS:
        return json.loads(text)
    return {"truncated": text[:OBSERVED_MAX_CHARS] + "..."}


def build_ticket(check: Check, resource_id: str, detail: str, reason: str, caller: Caller,
                 changed_at: str | None, today: date, max_exempt_days: int, event_id: str | None = None,
                 correlation_id: str | None = None, proposal: dict[str, Any] | None = None,
                 observed: Mapping[str, Any] | None = None) -> Ticket:
    name = rid.parse(resource_id).name or resource_id
    until = (today + timedelta(days=min(30, max_exempt_days))).isoformat()
    quoted_id = shlex.quote(resource_id)  # commands get pasted into a shell: no id may run code there
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
        fix={"cli": _fill_cli(check.manual_fix.cli, resource_id), "bicep": check.manual_fix.bicep,
             "portal": check.manual_fix.portal},
        exempt_with={EXEMPT_TAG: check.id, UNTIL_TAG: until, REASON_TAG: "<why this resource needs it>",
                     "note": f"expiry at most {max_exempt_days} days ahead; all three tags are required"},
        portal_url=portal_url(resource_id),
        policies=[f"{p.name} ({p.definition_id})" for p in check.policies],
        event_id=event_id,
        correlation_id=correlation_id,
        proposal=proposal,
        observed=_bounded(observed),
        resource_name=name,
        exempt_command=(f"az tag update --resource-id {quoted_id} --operation Merge --tags "
                        f"{EXEMPT_TAG}={check.id} {UNTIL_TAG}={until} {REASON_TAG}='<why this resource needs it>'"),
    )


def _fill_cli(template: str, resource_id: str) -> str:
    """The catalog's CLI line with the placeholders this resource id answers filled in, shell-quoted."""
    parsed = rid.parse(resource_id)
    values = {"<resource-id>": resource_id, "<rg>": parsed.resource_group}
    if len(parsed.segments) == 1:
        values["<name>"] = parsed.name
    if parsed.segments and parsed.segments[0][0].lower() == "workspaces":
        values["<workspace>"] = parsed.segments[0][1]
    for placeholder, value in values.items():
        if value:
            template = template.replace(placeholder, shlex.quote(value))
    return template


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


@dataclass(frozen=True)
class Created:
    """A ticket as its tracker knows it (warden.ticketing.base.Tracker.create / find_open)."""

    reference: str  # what the tracker's API addresses (issue number, work item id, sys_id, issue key)
    display: str  # what a human reads (octo/sec#12, 1234, INC0010001, SEC-24)
    url: str | None = None


def json_payload(kind: str, ticket: Ticket | None = None, **fields: Any) -> dict[str, Any]:
    """The generic webhook body (Logic Apps, any HTTP endpoint): the ticket as JSON, or a resolution."""
    if ticket is not None:
        return {"type": "driftwarden.ticket", "ticket": ticket.as_json()}
    return {"type": f"driftwarden.{kind}", **fields}


class WebhookTicketSink:
    """POSTs the ticket to a webhook. Workflows answer 202 with no body (which says nothing about delivery), so
    the reference is our own key. `payload` shapes the body: the generic JSON (default) or, for Teams Workflows,
    an Adaptive Card (warden.ticketing.teams.adaptive_card_payload). With the durable sink it also posts a
    resolution when the finding goes away; alone it has no memory, so it does not."""

    name = "webhook"

    def __init__(self, url: str, retry_policy: Any = None, timeout: float = 10.0,
                 payload: Callable[..., dict[str, Any]] = json_payload, name: str = "webhook",
                 headers: Callable[[], Mapping[str, str]] | None = None, transport: Any = None):
        from warden.ticketing.http import TrackerHttp, build_client

        self._url = url
        self._payload = payload
        self.name = name
        self.http = TrackerHttp(name, build_client(url, headers or (lambda: {}), retry_policy, timeout, transport))

    def _post(self, body: dict[str, Any]) -> None:
        self.http.send("POST", self._url, json_body=body, ok=(200, 201, 202, 204), expect_json=False,
                       idempotent=False)

    # -- tracker operations (warden.ticketing.durable) ---------------------------------------------------
    def find_open(self, key: str) -> Created | None:
        return None  # fire-and-forget: only our table remembers what was posted

    def create(self, ticket: Ticket) -> Created:
        self._post(self._payload("ticket", ticket))
        return Created(f"{ticket.resource_id}|{ticket.check_id}", ticket.key)

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        """A channel message per recurrence would be noise: the remediation log counts recurrences."""

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        resource_id, _, check_id = reference.partition("|")
        self._post(self._payload("resolved", None, key=ticket_key(resource_id, check_id) if check_id else reference,
                                 resource_id=resource_id, check_id=check_id, note=note))

    def reference(self, created: Created) -> "TicketReference":
        return TicketReference(f"{self.name}:{created.display}", url=created.url)

    # -- TicketSink -------------------------------------------------------------------------------------
    def open(self, ticket: Ticket) -> str:
        return self.reference(self.create(ticket))

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        """A webhook has no ticket to close: resolution is visible in the remediation log."""
