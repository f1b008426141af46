# azd postdeploy hook (Windows): see enable-events.sh.
$ErrorActionPreference = 'Stop'
if ($env:DRIFTWARDEN_EVENTS_ENABLED -eq 'true') {
  Write-Host 'driftwarden: event subscriptions are enabled'
  exit 0
}
Write-Host 'driftwarden: function deployed; creating the Event Grid subscriptions'
azd env set DRIFTWARDEN_EVENTS_ENABLED true --environment $env:AZURE_ENV_NAME
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
azd provision --no-prompt --environment $env:AZURE_ENV_NAME
exit $LASTEXITCODE
