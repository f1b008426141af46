# azd preprovision hook (Windows): see generate.sh.
$ErrorActionPreference = 'Stop'
Set-Location (Join-Path $PSScriptRoot '..' '..')
$py = if ($env:PYTHON) { $env:PYTHON } elseif (Test-Path '.venv/Scripts/python.exe') { '.venv/Scripts/python.exe' } else { 'python' }
$revert = if ($env:DRIFTWARDEN_REVERT_CHECKS) { $env:DRIFTWARDEN_REVERT_CHECKS } else { 'none' }
$contain = if ($env:DRIFTWARDEN_CONTAINMENT_CHECKS) { $env:DRIFTWARDEN_CONTAINMENT_CHECKS } else { 'none' }
& $py -m warden.generate all --output-dir infra/generated --revert-checks $revert --containment-checks $contain
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
& $py -m warden.generate verify --dir infra/generated
exit $LASTEXITCODE
