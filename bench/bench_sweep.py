"""Reconciliation sweep over a generated estate: Resource Graph pages, ARM calls, wall time, processing time, memory.

Starts the ARM emulator in its own process (`python -m emulator --estate N --drift-rate R`), so this process
holds only the sweep: its memory figures are the sweep's. Then runs `warden.sweep.Sweeper` in dry-run (nothing
is written, so every run sees the same estate) with the real ArmClient and ResourceGraphClient over HTTPS:

    run 1  timed:    wall time, time waiting on Resource Graph and on ARM (HTTP, TLS, SDK), and the rest
                     ("processing": row normalisation, the checks, the engine's decisions, records, state)
    run 2  traced:   with --tracemalloc, the tracemalloc peak of the sweep (several times slower; its time is not
                     reported); without it the memory figure is the process's max RSS (imports included)

The recorder serialises every record as the production LoggingRecorder does and then drops it (a log handler
does not keep records in memory); the state store is MemoryState (its per-event claims are counted in memory).

    .venv/bin/python bench/bench_sweep.py [--resources 10000] [--drift-rate 0.05] [--page-size 1000] [--tracemalloc]

Prints figures only; it never asserts timing. Goals (issue 7): <= 10 Resource Graph pages; ARM calls only for
drifted resources plus the child listings; < 5 s processing and < 150 MB peak for 10,000 resources.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SUB = "00000000-0000-4000-8000-00000000e57a"  # the estate generator's default subscription
BOT_OID = "0b07c0de-0000-4000-8000-00000000b071"
BOT_APPID = "0b07c0de-0000-4000-8000-0000000a99a1"


class DiscardingRecorder:
    """Serialises each record like LoggingRecorder, counts it, keeps nothing."""

    def __init__(self):
        from warden.records import lines

        self._lines = lines
        self.outcomes: Counter = Counter()
        self.bytes = 0

    def record(self, event) -> None:
        for line in self._lines(event):
            self.bytes += len(json.dumps(line, default=str, sort_keys=True))
        self.outcomes[event.outcome.value] += 1


def start_emulator(resources: int, drift_rate: float) -> tuple[subprocess.Popen, dict[str, str]]:
    command = [sys.executable, "-m", "emulator", "--port", "0", "--estate", str(resources),
               "--drift-rate", str(drift_rate), "--subscription", SUB]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    info: dict[str, str] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith("generated "):
            info["generated"] = line
        elif "=" in line and line.split("=", 1)[0] in ("base_url", "ca_pem_path", "subscription"):
            key, value = line.split("=", 1)
            info[key] = value
        if "base_url" in info and "ca_pem_path" in info and "subscription" in info:
            return process, info
    process.terminate()
    raise SystemExit(f"the emulator did not start: {info}")


def build(info: dict[str, str], page_size: int):
    from emulator import EmulatorCredential
    from warden.arm import ArmClient
    from warden.config import from_mapping
    from warden.engine import Engine
    from warden.runtime import RecordOnlyTicketSink
    from warden.state import MemoryState
    from warden.sweep import ResourceGraph, Sweeper

    config = from_mapping({"scope": {"subscriptions": [SUB]}, "self_principal_ids": [BOT_OID, BOT_APPID],
                           "arm": {"endpoint": info["base_url"]}})
    credential = EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden")
    arm = ArmClient(credential, config.arm, connection_verify=info["ca_pem_path"])
    recorder = DiscardingRecorder()
    engine = Engine(config, arm, recorder, RecordOnlyTicketSink(), MemoryState())
    graph = ResourceGraph(credential, config.arm, connection_verify=info["ca_pem_path"])
    return Sweeper(engine, graph), recorder, arm, graph


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--drift-rate", type=float, default=0.05)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--tracemalloc", action="store_true", help="also run once under tracemalloc for its peak")
    args = parser.parse_args(argv)

    from warden.sweep import SweepOptions

    started = time.perf_counter()
    process, info = start_emulator(args.resources, args.drift_rate)
    print(f"emulator (own process): {info.get('generated', '?')} in {time.perf_counter() - started:.1f} s")
    expected_drifted = int(re.search(r"(\d+) drifted", info.get("generated", "0 drifted")).group(1))
    try:
        import logging

        logging.getLogger("driftwarden").setLevel(logging.WARNING)  # the summary line is printed below instead
        sweeper, recorder, arm, graph = build(info, args.page_size)
        options = SweepOptions(dry_run=True, page_size=args.page_size)
        sweeper.run(SweepOptions(dry_run=True, page_size=args.page_size, types=("Microsoft.MachineLearningServices/registries",)))
        recorder.outcomes.clear()  # warm-up (imports, TLS, token) done

        gc.collect()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu_before = time.process_time()
        summary = sweeper.run(options)
        cpu = time.process_time() - cpu_before
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        peak = None
        if args.tracemalloc:
            gc.collect()
            tracemalloc.start()
            traced = sweeper.run(options)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert traced.resources == summary.resources
        arm.close()
        graph.close()
    finally:
        process.terminate()
        process.wait(10)

    listings = summary.arm_listings
    reads = summary.arm_calls - listings
    findings = summary.drifted
    print(f"sweep of {summary.resources} resources ({dict(sorted(summary.by_type.items()))}), dry run")
    print(f"  outcomes:            {dict(sorted(summary.outcomes.items()))}")
    print(f"  drifted:             {findings} found / {expected_drifted} generated")
    print(f"  Resource Graph:      {summary.graph_pages} pages, {summary.graph_requests} requests, "
          f"{summary.graph_rows} rows, {summary.quota_pauses} quota pauses   (goal <= 10 pages: "
          f"{'met' if summary.graph_pages <= 10 else 'MISSED'})")
    print(f"  ARM:                 {summary.arm_calls} calls = {listings} child listings + {reads} re-reads of "
          f"drifted resources   (goal: re-reads only for drifted: {'met' if reads <= findings else 'MISSED'})")
    print(f"  wall time:           {summary.duration_seconds:.2f} s")
    print(f"    waiting on Graph:  {summary.graph_seconds:.2f} s")
    print(f"    waiting on ARM:    {summary.arm_seconds:.2f} s")
    print(f"    processing:        {summary.processing_seconds:.2f} s   (goal < 5 s: "
          f"{'met' if summary.processing_seconds < 5 else 'MISSED'}; "
          f"{summary.processing_seconds / max(summary.resources, 1) * 1e6:.0f} us per resource)")
    measured = peak / 2**20 if peak is not None else rss_after
    print(f"  CPU time:            {cpu:.2f} s for the whole run (this process: TLS, SDK and JSON decoding included;"
          f" the emulator runs in its own process)")
    print(f"  peak memory:         process max RSS {rss_after:.0f} MB, imports and TLS included "
          f"(+{rss_after - rss_before:.0f} MB over the run){'' if peak is None else f'; tracemalloc peak of the sweep {peak / 2**20:.1f} MB'}"
          f"   (goal < 150 MB: {'met' if measured < 150 else 'MISSED'})")
    print(f"  records serialised:  {recorder.bytes / 2**20:.1f} MB of JSON log lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
