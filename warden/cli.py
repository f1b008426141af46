"""`python -m warden ...`: check, triage, handle, serve, demo (the design brief's CLI contract)."""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path
from typing import Any, Iterable, TextIO

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE = 0, 1, 2

# Modules adding subcommands (log, exemptions, sweep, tickets, ...); kept cheap to import.
PLUGIN_COMMANDS: tuple[str, ...] = ("warden.sweep_cli", "warden.ticketing.cli", "warden.cli_log", "warden.cli_exemptions")


class UnusableInput(Exception):
    pass


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m warden", description="Driftwarden: security drift bot for Azure AI resources")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="offline evaluation of ARM resource JSON files")
    check.add_argument("paths", nargs="+")
    check.add_argument("--format", choices=("text", "json"), default="text")

    triage = sub.add_parser("triage", help="offline classification of Event Grid deliveries")
    triage.add_argument("paths", nargs="+")

    handle = sub.add_parser("handle", help="process Event Grid delivery files against the configured ARM endpoint")
    handle.add_argument("paths", nargs="+")

    serve = sub.add_parser("serve", help="HTTP endpoint for Event Grid deliveries (outside Functions)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--key", default=None, help="shared secret (default: DRIFTWARDEN_SERVE_KEY)")

    sub.add_parser("demo", help="the embedded end-to-end run (emulator, seeded estate, realistic traffic)")

    # Commands that live in their own modules: each has `add_parser(subparsers)` and `run(args, out) -> int`.
    plugins = {}
    for module_name in PLUGIN_COMMANDS:
        module = import_module(module_name)
        plugins[module.add_parser(sub)] = module

    args = parser.parse_args(argv)
    try:
        if args.command in plugins:
            return plugins[args.command].run(args, out)
        if args.command == "check":
            return run_check(args.paths, args.format, out)
        if args.command == "triage":
            return run_triage(args.paths, out)
        if args.command == "handle":
            return run_handle(args.paths, out)
        if args.command == "serve":
            return run_serve(args.host, args.port, args.key or os.environ.get("DRIFTWARDEN_SERVE_KEY", ""))
        if args.command == "demo":
            from warden.demo import run_demo

            return run_demo(out)
    except UnusableInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as error:  # ConfigError and friends: say what to change, no traceback
        from warden.config import ConfigError

        if isinstance(error, ConfigError):
            print(f"configuration error: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
        raise
    return EXIT_OK


def _read_json(path: str) -> Any:
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        raise UnusableInput(f"{path}: cannot read ({error.strerror})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UnusableInput(f"{path}: not JSON ({error})") from None


def _resources(path: str, document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "value" in document and isinstance(document["value"], list):
        items = document["value"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    for index, item in enumerate(items):
        where = f"{path}" if len(items) == 1 else f"{path}[{index}]"
        if not isinstance(item, dict):
            raise UnusableInput(f"{where}: a resource must be a JSON object")
        missing = [k for k in ("id", "type") if not isinstance(item.get(k), str) or not item.get(k)]
        if missing:
            raise UnusableInput(f"{where}: resource has no {' or '.join(missing)}")
    return items


def evaluate_resources(resources: Iterable[dict[str, Any]], config, now: datetime) -> Iterable[dict[str, Any]]:
    """One result per applicable (resource, check): the offline form of the engine's decision."""
    import remediators
    from remediators.base import CheckContext, Mode
    from warden import exemptions
    from warden.policy import Decision, decide

    fix_names = {Decision.REVERT: "revert", Decision.TICKET: "ticket", Decision.REPORT: "report"}
    for resource in resources:
        kind = remediators.kind_for(resource["type"])
        if kind is None:
            continue
        exemption = exemptions.read(resource, now, config.exemption_max_days)
        for check in kind.checks:
            mode = config.mode(check.id)
            if mode is Mode.OFF:
                continue
            evaluation = check.evaluate(resource, CheckContext())
            if not evaluation.applicable:
                continue
            guard = check.fix.guard(resource) if check.fix and check.fix.guard else None
            plan = decide(check, evaluation, mode, exemption, guard, None, dry_run=False)
            if evaluation.passed:
                result, fix = "pass", mode.value if mode is not Mode.OFF else "report"
            elif plan.decision is Decision.EXEMPT:
                result, fix = "exempt", mode.value
            else:
                result, fix = "fail", fix_names[plan.decision]
            detail = evaluation.detail if evaluation.passed else f"{evaluation.detail}; {plan.reason}"
            yield {"resource_id": resource["id"], "type": kind.type, "check": check.id, "result": result,
                   "fix": fix, "severity": check.severity.value, "detail": detail}


def run_check(paths: list[str], fmt: str, out: TextIO) -> int:
    from warden import config as config_module

    cfg = config_module.load()
    resources = [r for path in paths for r in _resources(path, _read_json(path))]  # validate all before printing
    failed = False
    for row in evaluate_resources(resources, cfg, datetime.now(timezone.utc)):
        failed = failed or row["result"] == "fail"
        if fmt == "json":
            out.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            out.write(f"{row['result'].upper():6} {row['check']:34} {row['fix']:6} {row['resource_id']}  {row['detail']}\n")
    return EXIT_FINDINGS if failed else EXIT_OK


def run_triage(paths: list[str], out: TextIO) -> int:
    from warden import config as config_module
    from warden.events import DeliveryError, load_delivery, triage

    cfg = config_module.load()
    deliveries = []
    for path in paths:
        try:
            deliveries.append(load_delivery(Path(path).read_bytes()))
        except OSError as error:
            raise UnusableInput(f"{path}: cannot read ({error.strerror})") from None
        except DeliveryError as error:
            raise UnusableInput(f"{path}: {error}") from None
    for events in deliveries:
        for event in events:
            out.write(json.dumps(triage(event, cfg.scope).as_json(), sort_keys=True) + "\n")
    return EXIT_OK


def run_handle(paths: list[str], out: TextIO) -> int:
    from warden.engine import RetryRequested
    from warden.events import DeliveryError, load_delivery
    from warden.records import JsonLinesRecorder
    from warden.runtime import build_runtime

    runtime = build_runtime(recorders=(JsonLinesRecorder(out),))
    failed = False
    for path in paths:
        try:
            events = load_delivery(Path(path).read_bytes())
        except (OSError, DeliveryError) as error:
            raise UnusableInput(f"{path}: {error}") from None
        for event in events:
            try:
                runtime.handle_event(event)
            except RetryRequested:
                failed = True
    return EXIT_FINDINGS if failed else EXIT_OK


def run_serve(host: str, port: int, key: str) -> int:
    from warden.records import JsonLinesRecorder
    from warden.runtime import build_runtime
    from warden.serve import DeliveryServer

    stdout_recorder = JsonLinesRecorder(sys.stdout)
    runtime = build_runtime(recorders=(stdout_recorder,))
    server = DeliveryServer((host, port), key, runtime.handle_event, runtime.engine.recorder)
    print(f"listening on {server.url} (append ?code=<key> or send aeg-sas-key)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK
