"""`python -m warden tickets`: what waits in the ticket outbox, and retrying it on demand.

    python -m warden tickets                 # pending (queued) and failed (misconfigured, rejected) deliveries
    python -m warden tickets --format json   # one JSON object per line
    python -m warden tickets --retry         # try every entry now, failed ones included (after fixing a setting)
    python -m warden tickets --retry --key dw-1a2b3c4d5e6f7a8b

Exit 0 when nothing is left failed, 1 when an entry is misconfigured or rejected, 2 when the settings are unusable.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, TextIO

NAME = "tickets"


def add_parser(subparsers: Any) -> str:
    parser = subparsers.add_parser(NAME, help="list the ticket outbox (pending and failed deliveries); --retry delivers now")
    parser.add_argument("--retry", action="store_true", help="deliver every outbox entry now, failed ones included")
    parser.add_argument("--key", default=None, help="only the entry of this ticket key (dw-...)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return NAME


def run(args: argparse.Namespace, out: TextIO, sink: Any = None) -> int:
    if sink is None:
        from warden import config as config_module
        from warden.ticketing.factory import build_ticket_sink

        sink = build_ticket_sink(config_module.load(), os.environ)
    if not hasattr(sink, "pending"):
        out.write("no ticket outbox: no tracker with Table Storage is configured (docs/tickets.md)\n")
        return 0
    if args.retry:
        report = sink.deliver_due(include_failed=True, only_key=args.key)
        if args.format == "json":
            out.write(json.dumps({"record": "retry", **report.as_json()}, sort_keys=True) + "\n")
        else:
            out.write(f"delivered {len(report.delivered)}, still queued {len(report.queued)}, "
                      f"failed {len(report.failed)}\n")
    entries = [d for d in sink.pending() if not args.key or d.key == args.key]
    for entry in entries:
        if args.format == "json":
            out.write(json.dumps(entry.as_json(), sort_keys=True) + "\n")
        else:
            out.write(f"{entry.state:13} {entry.op:7} {entry.key} {entry.tracker:12} attempts={entry.attempts} "
                      f"next={entry.next_attempt_at} {entry.check_id} {entry.resource_id}"
                      f"{'  ' + entry.last_error if entry.last_error else ''}\n")
    if not entries and args.format == "text":
        out.write("the ticket outbox is empty\n")
    return 1 if any(e.state in ("misconfigured", "rejected") for e in entries) else 0
