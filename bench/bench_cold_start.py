"""Cold start: importing the Function App entry module in a fresh Python process, against Cloud Custodian's.

What the Functions host pays when a worker starts: a new interpreter imports the app's entry module. Each run
is a new subprocess that imports the module and exits; .pyc files are warm (one discarded run of each first).
Per run: wall time of the whole process (interpreter start + import), the import alone (timed inside the
child), CPU time and peak RSS of the child (os.wait4 rusage: ru_maxrss). Driftwarden and Custodian runs
alternate, so both see the same machine load.

- Driftwarden: `import function_app` from the repo root, with .venv's interpreter.
- Cloud Custodian: `import c7n_azure.function` with c7n-azure 0.7.52 in its own venv (bench/.venv-c7n, created
  from bench/requirements-c7n.txt when missing). c7n_azure/function.py is the script every Custodian Azure
  Function runs (function_package.py copies it into each function folder as scriptFile `function.py`); at
  import it loads c7n_azure.handler and c7n_azure.entry and calls entry.initialize_azure().
  See bench/README.md for the reasoning.

Also lists the azure.mgmt / azure.monitor / azure.identity modules that `import function_app` pulls in
(the design requires none).

    .venv/bin/python bench/bench_cold_start.py [--runs 15] [--no-install]

Prints figures only; it never asserts timing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DW_PYTHON = ROOT / ".venv" / "bin" / "python"
C7N_VENV = BENCH / ".venv-c7n"
C7N_PYTHON = C7N_VENV / "bin" / "python"
C7N_REQUIREMENTS = BENCH / "requirements-c7n.txt"
C7N_VERSION = "0.7.52"
C7N_ENTRY = "c7n_azure.function"

HEAVY_PREFIXES = ("azure.mgmt", "azure.monitor", "azure.identity")
GOAL_TIME_RATIO = 0.5
GOAL_RSS_RATIO = 0.6

# Runs in the child: import the target (or nothing), then report the import time, peak RSS as the kernel
# saw it (VmHWM) and which heavy SDK modules got loaded.
CHILD = r"""
import sys, time
started = time.perf_counter()
target = sys.argv[1]
if target != "-":
    __import__(target)
elapsed = time.perf_counter() - started
import json
hwm = 0
with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
prefixes = tuple(sys.argv[2].split(","))
print(json.dumps({"import_s": elapsed, "vmhwm_kb": hwm, "modules": len(sys.modules),
                  "heavy": sorted(m for m in sys.modules if m.startswith(prefixes))}))
"""


@dataclass
class Target:
    label: str
    python: Path
    module: str  # "-" = interpreter start only
    cwd: Path
    wall: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    last: dict = field(default_factory=dict)
    error: str = ""

    def run_once(self, env: dict[str, str], record: bool = True) -> None:
        started = time.perf_counter()
        child = subprocess.Popen([str(self.python), "-c", CHILD, self.module, ",".join(HEAVY_PREFIXES)],
                                 cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = child.stdout.read(), child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        child.stdout.close()
        child.stderr.close()
        if child.returncode != 0:
            self.error = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {child.returncode}"]
            self.error = self.error[0]
            return
        self.last = json.loads(out)
        if record:
            self.wall.append(wall)
            self.imports.append(self.last["import_s"])
            self.cpu.append(usage.ru_utime + usage.ru_stime)
            self.rss_kb.append(usage.ru_maxrss)  # KiB on Linux, this child only (wait4)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def _python311() -> str | None:
    found = shutil.which("python3.11")
    if found:
        return found
    if sys.version_info[:2] == (3, 11):
        return getattr(sys, "_base_executable", sys.executable)
    return None


def _installed_c7n_version() -> str | None:
    if not C7N_PYTHON.exists():
        return None
    probe = subprocess.run([str(C7N_PYTHON), "-c", "import importlib.metadata as m; print(m.version('c7n-azure'))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_c7n(install: bool) -> tuple[bool, str]:
    """(usable, note). Creates bench/.venv-c7n and installs bench/requirements-c7n.txt when missing."""
    version = _installed_c7n_version()
    if version == C7N_VERSION:
        return True, f"c7n-azure {version} in {C7N_VENV.relative_to(ROOT)}"
    if not install:
        return False, f"c7n-azure {C7N_VERSION} not installed in {C7N_VENV.relative_to(ROOT)} (--no-install given)"
    python = _python311()
    if python is None:
        return False, "no python3.11 found to create the Custodian venv"
    print(f"installing c7n-azure {C7N_VERSION} into {C7N_VENV.relative_to(ROOT)} (one time; about 2-3 minutes) ...",
          flush=True)
    steps = []
    if not C7N_PYTHON.exists():
        steps.append([python, "-m", "venv", str(C7N_VENV)])
    steps.append([str(C7N_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "-r", str(C7N_REQUIREMENTS)])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = [line for line in (done.stderr or done.stdout).splitlines() if "ERROR" in line][-3:]
            return False, f"cannot install c7n-azure ({' '.join(step[:3])} exited {done.returncode}): " + \
                "; ".join(tail or ["see pip output"])
    version = _installed_c7n_version()
    if version != C7N_VERSION:
        return False, f"c7n-azure {C7N_VERSION} did not install (found {version})"
    return True, f"c7n-azure {version} in {C7N_VENV.relative_to(ROOT)} (just installed)"


def _version(python: Path, distribution: str) -> str:
    probe = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() or "?"


def _python_version(python: Path) -> str:
    probe = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True)
    return probe.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-install", action="store_true", help="do not create bench/.venv-c7n when missing")
    args = parser.parse_args(argv)

    load = os.getloadavg()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    scratch = Path(tempfile.mkdtemp(prefix="bench-cold-start-"))
    try:
        c7n_ok, c7n_note = ensure_c7n(not args.no_install)
        targets = [Target("Driftwarden  import function_app", DW_PYTHON, "function_app", ROOT),
                   Target("  (azure.functions alone)", DW_PYTHON, "azure.functions", scratch),
                   Target("  (interpreter start only)", DW_PYTHON, "-", scratch)]
        if c7n_ok:
            targets += [Target(f"Custodian    import {C7N_ENTRY}", C7N_PYTHON, C7N_ENTRY, scratch),
                        Target("  (interpreter start only)", C7N_PYTHON, "-", scratch)]
        for target in targets:  # warm the .pyc files; not recorded
            target.run_once(env, record=False)
        for index in range(args.runs):  # alternate, and swap who goes first every run
            order = targets if index % 2 == 0 else list(reversed(targets))
            for target in order:
                if not target.error:
                    target.run_once(env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"Cold start: fresh process importing the Function App entry module; {args.runs} runs each, .pyc warm, "
          f"runs alternating")
    print(f"  load average before the run {load[0]:.2f} on {os.cpu_count()} cpus")
    print(f"  Driftwarden: {DW_PYTHON.relative_to(ROOT)}, python {_python_version(DW_PYTHON)}, "
          f"azure-functions {_version(DW_PYTHON, 'azure-functions')}")
    print(f"  Custodian:   {c7n_note}" + (f", python {_python_version(C7N_PYTHON)}, "
                                           f"azure-functions {_version(C7N_PYTHON, 'azure-functions')}" if c7n_ok else ""))
    print()
    header = (f"  {'':<40} {'process wall ms':>17} {'import ms':>15} {'CPU ms':>7} {'peak RSS MiB':>14} {'modules':>8}")
    print(header)
    print(f"  {'':<40} {'median':>8} {'p90':>8} {'median':>7} {'p90':>7} {'median':>7} {'median':>7} {'p90':>6} {'':>8}")
    for target in targets:
        if target.error:
            print(f"  {target.label:<40} failed: {target.error}")
            continue
        rss = [kb / 1024 for kb in target.rss_kb]
        print(f"  {target.label:<40} {statistics.median(target.wall) * 1e3:>8.0f} {p90(target.wall) * 1e3:>8.0f} "
              f"{statistics.median(target.imports) * 1e3:>7.0f} {p90(target.imports) * 1e3:>7.0f} "
              f"{statistics.median(target.cpu) * 1e3:>7.0f} {statistics.median(rss):>7.1f} {p90(rss):>6.1f} "
              f"{target.last.get('modules', 0):>8}")

    dw = targets[0]
    print()
    if not dw.error:
        heavy = dw.last.get("heavy", [])
        print(f"  azure.mgmt / azure.monitor / azure.identity modules loaded by `import function_app`: "
              f"{len(heavy)}" + (f" -> {', '.join(heavy)}" if heavy else " (none, as required)"))
    c7n = next((t for t in targets if t.module == C7N_ENTRY), None)
    if c7n is not None and not dw.error and not c7n.error:
        heavy = c7n.last.get("heavy", [])
        print(f"  ... by `import {C7N_ENTRY}`: {len(heavy)} "
              f"({len([m for m in heavy if m.startswith('azure.mgmt')])} azure.mgmt, "
              f"{len([m for m in heavy if m.startswith('azure.identity')])} azure.identity, "
              f"{len([m for m in heavy if m.startswith('azure.monitor')])} azure.monitor)")
        wall = statistics.median(dw.wall) / statistics.median(c7n.wall)
        imports = statistics.median(dw.imports) / statistics.median(c7n.imports)
        rss = statistics.median(dw.rss_kb) / statistics.median(c7n.rss_kb)
        print()
        print(f"  Driftwarden / Custodian (medians): process wall {wall:.2f}, import alone {imports:.2f}, peak RSS {rss:.2f}")
        print(f"  goal: time <= {GOAL_TIME_RATIO:g}x -> {'met' if wall <= GOAL_TIME_RATIO and imports <= GOAL_TIME_RATIO else 'NOT met'}; "
              f"memory <= {GOAL_RSS_RATIO:g}x -> {'met' if rss <= GOAL_RSS_RATIO else 'NOT met'}")
    elif not c7n_ok:
        print(f"  Custodian not measured: {c7n_note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
