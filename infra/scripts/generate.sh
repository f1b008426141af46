#!/bin/sh
# azd preprovision hook: write infra/generated/{role,filter,arn-filter}.json from the remediator registry,
# then check them against it. main.bicep loads these files; they are build output, not committed.
#
# DRIFTWARDEN_REVERT_CHECKS (azd env): which checks the role may revert: none (default: a read-only role,
# right for dry-run and ticket-only), all, or a comma-separated list of check ids.
# DRIFTWARDEN_CONTAINMENT_CHECKS (azd env): checks whose opt-in containment action (e.g. stopping a compute
# instance) the role grants: none (default), all, or a list; it must match the config's `containment`.
set -eu
cd "$(dirname "$0")/../.."
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
elif [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py=python3
fi
"$py" -m warden.generate all --output-dir infra/generated \
  --revert-checks "${DRIFTWARDEN_REVERT_CHECKS:-none}" \
  --containment-checks "${DRIFTWARDEN_CONTAINMENT_CHECKS:-none}"
"$py" -m warden.generate verify --dir infra/generated
