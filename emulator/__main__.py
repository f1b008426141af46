"""`python -m emulator [--port 8443] [--seed] [--estate N]`: run the ARM emulator standalone."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from emulator import ArmEmulator, EmulatorCredential
from emulator.estate import DEFAULT_SUBSCRIPTION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--seed", action="store_true", help="seed the published ARM sample resources")
    parser.add_argument("--estate", type=int, default=0, metavar="N", help="generate N resources")
    parser.add_argument("--drift-rate", type=float, default=0.2)
    parser.add_argument("--subscription", default=DEFAULT_SUBSCRIPTION)
    parser.add_argument("--resource-group", default="rg-samples")
    parser.add_argument("--lro-mode", default="sync", choices=["sync", "async", "async-fail"])
    parser.add_argument("--print-events", action="store_true", help="print each emitted event as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    emulator = ArmEmulator(args.host, args.port, lro_mode=args.lro_mode).start()
    if args.seed:
        for name, resource_id in emulator.seed_from_samples(args.subscription, args.resource_group).items():
            print(f"seeded {name}: {resource_id}")
    if args.estate:
        summary = emulator.generate_estate(args.estate, args.drift_rate, args.subscription)
        print(f"generated {summary['total']} resources, {summary['drifted']} drifted: {summary['by_type']}")
    if args.print_events:
        emulator.subscribe(lambda event: print(json.dumps(event), flush=True))
    print(f"base_url={emulator.base_url}")
    print(f"ca_pem_path={emulator.ca_pem_path}")
    print(f"subscription={args.subscription}")
    print(f"example token: Bearer {EmulatorCredential().get_token('https://management.azure.com/.default').token}")
    print("Ctrl-C stops the emulator.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly (removes the CA files)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
