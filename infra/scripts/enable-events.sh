#!/bin/sh
# azd postdeploy hook: Event Grid accepts an AzureFunction event subscription only once the function
# exists, so the first `azd up` provisions without subscriptions, deploys the code, and then this hook
# turns them on and provisions once more. Later deploys find the flag set and do nothing.
set -eu
if [ "${DRIFTWARDEN_EVENTS_ENABLED:-false}" = "true" ]; then
  echo "driftwarden: event subscriptions are enabled"
  exit 0
fi
echo "driftwarden: function deployed; creating the Event Grid subscriptions"
azd env set DRIFTWARDEN_EVENTS_ENABLED true --environment "${AZURE_ENV_NAME}"
azd provision --no-prompt --environment "${AZURE_ENV_NAME}"
