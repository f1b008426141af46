"""Teams channel messages through a Workflows (Power Automate) webhook: an Adaptive Card per new finding and per
resolution. The URL carries its secret (sig=) and lives in an app setting (DRIFTWARDEN_TEAMS_WORKFLOW_URL, a Key
Vault reference); it is never logged. A 202 only says the flow run was queued, so Teams has no ticket to
comment on or close: recurrences stay in the remediation log, resolutions post a short card.
"""
from __future__ import annotations

import json
from typing import Any

from warden.ticketing import render
from warden.tickets import Ticket, WebhookTicketSink

CARD_BUDGET = 24_000  # bytes; Teams refuses messages above about 28 KB


def adaptive_card_payload(kind: str, ticket: Ticket | None = None, **fields: Any) -> dict[str, Any]:
    if ticket is not None:
        blocks = render.ticket_document(ticket)
        card = render.adaptive_card(ticket.title, blocks, [render.Link("Open in the Azure portal", ticket.portal_url)])
        if len(json.dumps(card).encode()) > CARD_BUDGET:  # drop the long blocks, keep what a reader needs first
            card = render.adaptive_card(ticket.title, [b for b in blocks if not isinstance(b, render.Code)],
                                        [render.Link("Open in the Azure portal", ticket.portal_url)])
        return card
    blocks = [*render.resolution_document(fields.get("note", "")),
              render.Items((("Resource", (render.Value(fields.get("resource_id", "")),)),
                            ("Check", (render.Value(fields.get("check_id", "")),)),
                            ("Key", (render.Value(fields.get("key", "")),))))]
    return render.adaptive_card("Driftwarden: finding resolved", blocks)


def teams_workflow_sink(url: str, headers: Any = None, retry_policy: Any = None, transport: Any = None) -> WebhookTicketSink:
    return WebhookTicketSink(url, retry_policy=retry_policy, payload=adaptive_card_payload, name="teams",
                             headers=headers, transport=transport)
