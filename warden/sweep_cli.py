"""`python -m warden sweep`: run the reconciliation sweep once (warden/sweep.py) and print its summary.

Exit codes: 0 the sweep completed and nothing needs attention (compliant, exempt, reverted); 1 something does
(ticketed, reported, dry-run, pending, failed) or the enumeration did not complete; 2 unusable arguments or
configuration. Records go to the remediation log like an event's (the runtime's recorders); stdout gets the
summary: text, or one JSON object with `--format json`. A progress line goes to stderr on a terminal.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

NAME = "sweep"


def add_parser(subparsers: Any) -> str:
    parser = subparsers.add_parser(NAME, help="reconciliation sweep: find drift that events missed (Resource Graph + ARM)")
    parser.add_argument("--subscription", action="append", default=[], metavar="ID",
                        help="subscription to sweep (repeatable); default: the configured scope's subscriptions")
    parser.add_argument("--type", action="append", default=[], metavar="TYPE", dest="types",
                        help="covered resource type to sweep (repeatable), e.g. Microsoft.CognitiveServices/accounts; default: all")
    parser.add_argument("--dry-run", action="store_true", help="record what would be reverted or ticketed; write nothing")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--page-size", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    return NAME


class TerminalProgress:
    """One self-overwriting line on a terminal: `sweep [#####.....] 5000/10000 resources, 12 drifted`."""

    def __init__(self, stream: TextIO, width: int = 30):
        self._stream = stream
        self._width = width
        self._started = time.monotonic()
        self._shown = False

    def __call__(self, done: int, total: int, drifted: int) -> None:
        total = max(total, done, 1)
        filled = int(self._width * done / total)
        elapsed = time.monotonic() - self._started
        self._stream.write(f"\rsweep [{'#' * filled}{'.' * (self._width - filled)}] {done}/{total} resources, "
                           f"{drifted} drifted, {elapsed:.0f} s ")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def build_runtime():
    """The same composition as `handle` (tests replace this)."""
    from warden.runtime import build_runtime as build

    return build()


def build_graph(config):
    from warden.sweep import build_graph as build

    return build(config)


def run(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    from warden import config as config_module
    from warden.sweep import SweepOptions, Sweeper, select_kinds

    err = err or sys.stderr
    try:
        select_kinds(args.types)
    except ValueError as error:
        print(f"error: {error}", file=err)
        return 2
    if args.page_size < 1 or args.page_size > 1000:
        print("error: --page-size must be between 1 and 1000", file=err)
        return 2
    config = config_module.load()  # a ConfigError reaches cli.main, which prints it and exits 2
    if not args.subscription and not config.scope.subscriptions:
        print("error: no subscription to sweep: pass --subscription ID (repeatable) or set scope.subscriptions "
              "in the configuration", file=err)
        return 2
    runtime = build_runtime()
    graph = build_graph(runtime.config)
    progress = None
    if not args.no_progress and hasattr(err, "isatty") and err.isatty():
        progress = TerminalProgress(err)
    options = SweepOptions(subscriptions=tuple(args.subscription), types=tuple(args.types), dry_run=args.dry_run,
                           page_size=args.page_size)
    try:
        summary = Sweeper(runtime.engine, graph, progress=progress).run(options)
    except ValueError as error:  # a subscription outside the configured scope
        print(f"error: {error}", file=err)
        return 2
    finally:
        if progress is not None:
            progress.finish()
        close = getattr(graph, "close", None)
        if close is not None:
            close()
    if args.format == "json":
        out.write(json.dumps(summary.as_json(), default=str, sort_keys=True) + "\n")
    else:
        out.write(summary.text() + "\n")
    return 1 if summary.needs_attention else 0
