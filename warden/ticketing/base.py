"""What every tracker offers the durable sink, and the stateless TicketSink every tracker also is.

A tracker knows four operations: find the open ticket of a key (the consistent query each tracker has),
create one, comment on one (a recurrence), and close one (comment + close where the tracker allows). Used
alone (no Table Storage configured), a tracker is a TicketSink that asks the tracker itself which ticket is
open; with Table Storage, warden.ticketing.durable.DurableTicketSink keeps the key -> ticket mapping and the
outbox, and calls these operations.
"""
from __future__ import annotations

import re

from warden.tickets import Created, Ticket, TicketGone, TicketReference, ticket_key

__all__ = ["Created", "Tracker", "checked_key"]

KEY_PATTERN = re.compile(r"^dw-[0-9a-f]{16}$")


def checked_key(key: str) -> str:
    """The key is the only value ever put into a query (WIQL, JQL, sysparm_query, labels): it must be ours."""
    if not KEY_PATTERN.match(key):
        raise ValueError(f"not a Driftwarden ticket key: {key!r}")
    return key


class Tracker:
    """Base of the tracker sinks. Subclasses implement find_open, create, comment and close."""

    name = "tracker"

    def find_open(self, key: str) -> Created | None:
        raise NotImplementedError

    def create(self, ticket: Ticket) -> Created:
        raise NotImplementedError

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        raise NotImplementedError

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        raise NotImplementedError

    def reference(self, created: Created) -> TicketReference:
        return TicketReference(f"{self.name}:{created.display}", url=created.url)

    # -- TicketSink without a table: the tracker's own query is the memory --------------------------------
    def open(self, ticket: Ticket) -> TicketReference:
        existing = self.find_open(ticket.key)
        if existing is not None:
            try:
                self.comment(existing.reference, ticket, 0)
                return self.reference(existing)
            except TicketGone:
                pass
        return self.reference(self.create(ticket))

    def resolve(self, resource_id: str, check_ids: list[str], note: str) -> None:
        for check_id in check_ids:
            existing = self.find_open(ticket_key(resource_id, check_id))
            if existing is not None:
                try:
                    self.close(existing.reference, note, deleted="deleted" in note)
                except TicketGone:
                    pass
