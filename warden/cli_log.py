"""`python -m warden log`: read the durable remediation log (Table Storage).

    python -m warden log --since 24h --outcome reverted
    python -m warden log --resource oai-prod --check cogsvc-public-network --format json

Storage comes from DRIFTWARDEN_STORAGE_CONNECTION_STRING (Azurite, development) or DRIFTWARDEN_STORAGE_ACCOUNT
(identity-based; AZURE_CLIENT_ID for a user-assigned identity). Text output is one line per event with its
actions beneath; `--format json` prints one JSON object per event (the documented `dw_*` properties, with
an `actions` list).
"""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any, Iterable, TextIO

from warden.model import Action, Outcome

NAME = "log"
VOCABULARY = sorted({o.value for o in Outcome} | {a.value for a in Action})


def add_parser(subparsers: Any) -> str:
    parser = subparsers.add_parser(NAME, help="the remediation log: what happened to each event (durable store)",
                                   description="Print the remediation log from Table Storage.")
    add_storage_filters(parser)
    parser.add_argument("--outcome", help=f"an event outcome or an action ({', '.join(VOCABULARY)})")
    parser.add_argument("--check", help="a check id, e.g. cogsvc-public-network (only entries with that check)")
    parser.add_argument("--caller", help="part of the caller's name, object id, app id or IP")
    parser.add_argument("--limit", type=int, default=500, help="at most this many entries, the newest (default 500)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    return NAME


def add_storage_filters(parser: argparse.ArgumentParser, default_since: str = "7d") -> None:
    parser.add_argument("--since", default=default_since,
                        help=f"a duration (30m, 24h, 7d, 2w), a date or an ISO timestamp (default {default_since})")
    parser.add_argument("--resource", help="a resource id, or part of one (case-insensitive)")


def open_log(out_err: TextIO | None = None):
    """The remediation log reader from the storage settings; ConfigError when none are set."""
    from warden.config import ConfigError
    from warden.remediation_log import TableRecorder
    from warden.table_state import storage_from_env

    settings = storage_from_env()
    if settings is None:
        raise ConfigError("the remediation log lives in Table Storage: set DRIFTWARDEN_STORAGE_CONNECTION_STRING "
                          "(Azurite, development) or DRIFTWARDEN_STORAGE_ACCOUNT (the account name; access with "
                          "your Entra ID identity, AZURE_CLIENT_ID for a user-assigned managed identity)")
    return settings, TableRecorder(settings.service_client(), names=settings.names)


def read_entries(args: argparse.Namespace, **filters: Any):
    """Query the log with the command's filters. Raises UnusableInput with a clear message."""
    from warden.cli import UnusableInput
    from warden.remediation_log import parse_since
    from warden.table_state import is_unavailable

    try:
        since = parse_since(args.since, datetime.now(timezone.utc)) if args.since else None
    except ValueError as error:
        raise UnusableInput(str(error)) from None
    settings, log = open_log()
    try:
        return log.query(since=since, resource=args.resource, **filters)
    except Exception as error:
        if is_unavailable(error):
            raise UnusableInput(f"cannot read the remediation log at {settings.describe()}: "
                                f"{str(error).splitlines()[0]}") from None
        raise


def run(args: argparse.Namespace, out: TextIO) -> int:
    from warden.cli import UnusableInput

    if args.outcome and args.outcome not in VOCABULARY:
        raise UnusableInput(f"--outcome {args.outcome!r}: use one of {', '.join(VOCABULARY)}")
    if args.limit is not None and args.limit < 1:
        raise UnusableInput("--limit must be at least 1")
    entries = read_entries(args, check=args.check, outcome=args.outcome, caller=args.caller, limit=args.limit)
    if args.format == "json":
        for entry in entries:
            out.write(json.dumps(entry.as_json(), sort_keys=True) + "\n")
        return 0
    write_table(entries, out)
    return 0


# --- the readable table -----------------------------------------------------------------------------------

def short_resource(resource_id: str | None) -> str:
    """`<resource group>/<name>` (with the parent's name for a child resource): enough to recognise it."""
    from warden import resource_id as rid

    if not resource_id:
        return "-"
    try:
        parsed = rid.parse(resource_id)
    except rid.InvalidResourceId:
        return resource_id
    return "/".join(p for p in [parsed.resource_group, *(name for _, name in parsed.segments)] if p)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return iso[:20]


def _change(action: dict[str, str]) -> str:
    try:
        before = json.loads(action.get("dw_before") or "{}")
        after = json.loads(action.get("dw_after") or "{}")
    except ValueError:
        return ""
    changed = [f"{path.rsplit('.', 1)[-1]}: {json.dumps(before.get(path))} -> {json.dumps(value)}"
               for path, value in after.items() if before.get(path) != value]
    return "; ".join(changed)


def write_table(entries: Iterable[Any], out: TextIO) -> None:
    from warden.remediation_log import caller_of

    entries = list(entries)
    if not entries:
        out.write("no remediation log entries match\n")
        return
    out.write(f"{'TIME':20}  {'OUTCOME':11}  {'RESOURCE':38}  {'CALLER':26}  REASON\n")
    for entry in entries:
        event = entry.event
        out.write(f"{_when(entry.time):20}  {entry.outcome:11}  {_clip(short_resource(event.get('dw_resource_id')), 38):38}  "
                  f"{_clip(caller_of(event), 26):26}  {_clip(event.get('dw_reason', ''), 90)}\n")
        for action in entry.actions:
            parts = [x for x in (_change(action), f"ticket {action['dw_ticket']}" if action.get("dw_ticket") else "",
                                 f"error: {action['dw_error']}" if action.get("dw_error") else "",
                                 action.get("dw_reason", "")) if x]
            out.write(f"{'':20}  └ {action.get('dw_action', ''):13} {action.get('dw_check_id', ''):32} "
                      f"{_clip(' | '.join(parts), 120)}\n")
    out.write(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}\n")
