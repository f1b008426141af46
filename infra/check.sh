#!/usr/bin/env bash
# CI gate for infra/: regenerate the registry-derived inputs, parse every Bicep file, check module wiring
# (infra/scripts/check_wiring.py), run checkov.
#
#   bash infra/check.sh            (from anywhere; about 15 s warm, about 1 min the first time)
#
# There is no Bicep compiler here (azure-platform-facts / local-testing-notes): pycep-parser catches
# syntax errors and checkov runs the security rules. Two venvs under ${INFRA_VENV:-.venv-infra}, because
# checkov pins an older pycep-parser than the one used for parsing:
#   pycep/    pycep-parser==PYCEP_VERSION
#   checkov/  checkov==CHECKOV_VERSION (brings pycep-parser 0.5.1)
# checkov exits 0 when it cannot parse a file, so the gate reads its JSON summary: it fails when
# summary.failed > 0 or summary.parsing_errors > 0. Every skipped rule carries its reason in the Bicep
# (`// checkov:skip=CKV_...: reason`). Nothing here reaches beyond loopback except pip to the package index.
set -euo pipefail

PYCEP_VERSION=0.7.1
CHECKOV_VERSION=3.3.30

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INFRA_VENV="${INFRA_VENV:-.venv-infra}"
BASE_PYTHON="${INFRA_BASE_PYTHON:-python3}"
if [ -n "${PYTHON:-}" ]; then
  APP_PYTHON="$PYTHON"
elif [ -x .venv/bin/python ]; then
  APP_PYTHON=.venv/bin/python
else
  APP_PYTHON=python3
fi

start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - start ))"; }

# venv DIR PACKAGE==VERSION: create once, reinstall only when the pin changes.
venv() {
  local dir="$1" spec="$2"
  if [ ! -f "$dir/.pinned" ] || [ "$(cat "$dir/.pinned")" != "$spec" ]; then
    rm -rf "$dir"
    "$BASE_PYTHON" -m venv "$dir"
    if ! "$dir/bin/pip" install --quiet --disable-pip-version-check "$spec" > "$dir.pip.log" 2>&1; then
      cat "$dir.pip.log" >&2
      echo "pip could not install $spec (log above)" >&2
      exit 1
    fi
    echo "$spec" > "$dir/.pinned"
  fi
}

step "tool venvs in $INFRA_VENV"
venv "$INFRA_VENV/pycep" "pycep-parser==$PYCEP_VERSION"
venv "$INFRA_VENV/checkov" "checkov==$CHECKOV_VERSION"

step "regenerate infra/generated from the remediator registry"
env -u DRIFTWARDEN_CONFIG_JSON "$APP_PYTHON" -m warden.generate all --output-dir infra/generated --revert-checks all
"$APP_PYTHON" -m warden.generate verify --dir infra/generated

step "parse every .bicep with pycep-parser $PYCEP_VERSION"
mapfile -t bicep_files < <(find infra -name '*.bicep' -not -path "$INFRA_VENV/*" | sort)
"$INFRA_VENV/pycep/bin/python" - "${bicep_files[@]}" <<'PY'
import sys
from pathlib import Path

from pycep import BicepParser

parser = BicepParser()
failed = 0
for name in sys.argv[1:]:
    try:
        parser.parse(file_path=Path(name))
    except Exception as error:  # any parse failure fails the gate, with the parser's message
        failed += 1
        print(f"PARSE ERROR {name}: {type(error).__name__}: {str(error).splitlines()[0]}")
print(f"parsed {len(sys.argv) - 1 - failed}/{len(sys.argv) - 1} Bicep files")
sys.exit(1 if failed else 0)
PY

step "module wiring (parameters, outputs, generated files)"
"$INFRA_VENV/pycep/bin/python" infra/scripts/check_wiring.py "${bicep_files[@]}"

step "checkov $CHECKOV_VERSION --framework bicep"
report="$INFRA_VENV/checkov-report.json"
set +e
CKV_SKIP_PACKAGE_UPDATE_CHECK=true "$INFRA_VENV/checkov/bin/checkov" \
  --framework bicep -d infra --skip-download -o json > "$report" 2> "$INFRA_VENV/checkov.stderr"
checkov_rc=$?
set -e
"$INFRA_VENV/pycep/bin/python" - "$report" "$checkov_rc" <<'PY'
import json
import sys

path, rc = sys.argv[1], sys.argv[2]
try:
    data = json.load(open(path, encoding="utf-8"))
except (OSError, json.JSONDecodeError) as error:
    print(f"checkov produced no JSON report (exit {rc}): {error}")
    sys.exit(1)
reports = data if isinstance(data, list) else [data]
bad = False
for report in reports:
    summary = report.get("summary", {})
    results = report.get("results", {})
    print(f"{report.get('check_type', '?')}: {summary}")
    for check in results.get("failed_checks", []):
        print(f"FAILED  {check['check_id']} {check['check_name']} {check['file_path']} {check['resource']}")
    for check in results.get("skipped_checks", []):
        reason = check.get("check_result", {}).get("suppress_comment", "").strip()
        print(f"skipped {check['check_id']} {check['file_path']} {check['resource']}: {reason[:90]}")
        if not reason or reason == "No comment provided":
            print(f"FAILED  {check['check_id']} is skipped without a reason")
            bad = True
    for error in results.get("parsing_errors", []):
        print(f"PARSE ERROR (checkov) {error}")
    if summary.get("failed", 0) > 0 or summary.get("parsing_errors", 0) > 0:
        bad = True
    if summary.get("resource_count", 0) == 0:
        print("checkov found no resources: is infra/ empty or unreadable?")
        bad = True
sys.exit(1 if bad else 0)
PY

step "infra gate passed"
