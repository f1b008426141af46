"""`python -m warden exemptions`: who is exempt from what, until when, as the remediation log saw it.

Lists the exemption tags last seen on each resource: honoured ones (with days left), refused ones (with the
problem: missing reason or expiry, expired, too long, unreadable date), expired ones, and who set them (the
caller of the first event that showed those tags). `--all` also lists exemptions whose tags were removed since.
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any, TextIO

NAME = "exemptions"


def add_parser(subparsers: Any) -> str:
    from warden.cli_log import add_storage_filters

    parser = subparsers.add_parser(NAME, help="honoured and refused exemptions, from the remediation log",
                                   description="List the exemptions the remediation log recorded.")
    add_storage_filters(parser, default_since="90d")
    parser.add_argument("--status", choices=("honoured", "refused", "expired", "removed"),
                        help="only exemptions in this state")
    parser.add_argument("--all", action="store_true", help="include exemptions whose tags were removed since")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return NAME


def run(args: argparse.Namespace, out: TextIO) -> int:
    from warden.cli_log import _clip, read_entries, short_resource
    from warden.remediation_log import exemptions_from

    entries = read_entries(args)
    views = exemptions_from(entries, datetime.now(timezone.utc), include_removed=args.all or args.status == "removed")
    if args.status:
        views = [v for v in views if v.status == args.status]
    if args.format == "json":
        for view in views:
            out.write(json.dumps(view.as_json(), sort_keys=True) + "\n")
        return 0
    if not views:
        out.write("no exemptions in the remediation log for this filter\n")
        return 0
    out.write(f"{'RESOURCE':34}  {'CHECKS':26}  {'STATUS':8}  {'UNTIL':10}  {'DAYS LEFT':>9}  {'SET BY':24}  "
              "REASON / PROBLEM\n")
    for view in views:
        until = (view.until or "-")[:10]
        days = "-" if view.days_left is None else f"{view.days_left:.1f}"
        why = view.reason or ""
        if view.problem:
            why = f"{why} — NOT HONOURED: {view.problem}" if why else f"NOT HONOURED: {view.problem}"
        out.write(f"{_clip(short_resource(view.resource_id), 34):34}  {_clip(view.checks, 26):26}  {view.status:8}  "
                  f"{until:10}  {days:>9}  {_clip(view.set_by, 24):24}  {_clip(why, 100)}\n")
    out.write(f"{len(views)} exemption{'' if len(views) == 1 else 's'}\n")
    return 0
