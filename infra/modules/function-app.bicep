// Flex Consumption (FC1) plan and the Python 3.11 Function App. Identity-based everything: host storage,
// deployment package, telemetry and ARM all use the one user-assigned identity.
//
// App settings that Flex Consumption rejects are deliberately absent (azure-platform-facts.md 2.3):
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_WORKER_RUNTIME_VERSION (functionAppConfig.runtime instead),
// FUNCTIONS_EXTENSION_VERSION, FUNCTIONS_WORKER_PROCESS_COUNT, FUNCTIONS_MAX_HTTP_CONCURRENCY,
// WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT (maximumInstanceCount instead), WEBSITE_RUN_FROM_PACKAGE,
// WEBSITE_CONTENTSHARE, WEBSITE_CONTENTAZUREFILECONNECTIONSTRING, SCM_DO_BUILD_DURING_DEPLOYMENT,
// ENABLE_ORYX_BUILD; and the site properties alwaysOn, linuxFxVersion, functionAppScaleLimit,
// preWarmedInstanceCount. tests/infra/test_generate.py fails if one appears in this file outside comments.
param planName string
param appName string
param location string
param tags object = {}

@description('Resource id of the bot\'s user-assigned identity.')
param identityId string
param identityClientId string
param identityPrincipalId string

param storageAccountName string

@description('Blob container URL for the deployment package, e.g. https://<account>.blob.core.windows.net/<container>.')
param deploymentContainerUrl string

param appInsightsConnectionString string

@description('Vault URI (https://<name>.vault.azure.net/, with the trailing slash) for the Key Vault references of ticketSecretNames.')
param keyVaultUri string

@description('DRIFTWARDEN_CONFIG_JSON (warden/config.py).')
param configJson string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@minValue(0)
@maxValue(10)
param alwaysReadyInstanceCount int = 0

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('DRIFTWARDEN_SWEEP_SCHEDULE: NCRONTAB (with seconds) of the reconciliation sweep; empty = the app\'s default (every 6 hours).')
param sweepSchedule string = ''

@description('DRIFTWARDEN_TABLE_PREFIX (warden/table_state.py): the prefix of the tables storage.bicep creates.')
param tablePrefix string = 'driftwarden'

@description('DRIFTWARDEN_TICKET_TRACKER (warden/ticketing/factory.py); empty = not set.')
param ticketTracker string = ''

@description('DRIFTWARDEN_TICKETS_JSON: non-secret tracker settings (docs/tickets.md); empty = not set.')
param ticketsJson string = ''

@description('Tracker secret app setting -> Key Vault secret name, e.g. {"DRIFTWARDEN_JIRA_API_TOKEN": "jira-api-token"}; empty = none.')
param ticketSecretNames object = {}

@description('Name of the Event Grid trigger function (functions/eventgrid.py).')
param eventFunctionName string = 'eventgrid_handler'

param workspaceId string

// The tracker secrets the app reads (SECRETS in warden/ticketing/factory.py), the only keys ticketSecretNames
// may use: the lookup ticketSecretSettings[name] below fails the deployment on any other name, so a typo
// cannot leave a secret in a setting the app never reads. tests/infra/test_app_settings.py keeps this list
// equal to the code's.
var ticketSecretSettings = {
  DRIFTWARDEN_GITHUB_TOKEN: 'DRIFTWARDEN_GITHUB_TOKEN'
  DRIFTWARDEN_ADO_PAT: 'DRIFTWARDEN_ADO_PAT'
  DRIFTWARDEN_SERVICENOW_PASSWORD: 'DRIFTWARDEN_SERVICENOW_PASSWORD'
  DRIFTWARDEN_SERVICENOW_API_KEY: 'DRIFTWARDEN_SERVICENOW_API_KEY'
  DRIFTWARDEN_SERVICENOW_TOKEN: 'DRIFTWARDEN_SERVICENOW_TOKEN'
  DRIFTWARDEN_JIRA_API_TOKEN: 'DRIFTWARDEN_JIRA_API_TOKEN'
  DRIFTWARDEN_JIRA_BEARER_TOKEN: 'DRIFTWARDEN_JIRA_BEARER_TOKEN'
  DRIFTWARDEN_TEAMS_WORKFLOW_URL: 'DRIFTWARDEN_TEAMS_WORKFLOW_URL'
  DRIFTWARDEN_TICKET_WEBHOOK_URL: 'DRIFTWARDEN_TICKET_WEBHOOK_URL'
}

// Key Vault references, resolved by the platform with keyVaultReferenceIdentity (the bot identity, Key
// Vault Secrets User). No version in the URI: the latest version, picked up again after a rotation.
var ticketSecretAppSettings = [for secret in items(ticketSecretNames): {
  name: ticketSecretSettings[secret.key]
  value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secret.value}/)'
}]

// Optional settings: absent when empty, so the app's own default applies (an empty
// DRIFTWARDEN_SWEEP_SCHEDULE would be a %...% binding to nothing; an explicit tracker would override the
// one in DRIFTWARDEN_TICKETS_JSON).
var optionalAppSettings = concat(empty(sweepSchedule) ? [] : [
  {
    name: 'DRIFTWARDEN_SWEEP_SCHEDULE'
    value: sweepSchedule
  }
], empty(ticketTracker) ? [] : [
  {
    name: 'DRIFTWARDEN_TICKET_TRACKER'
    value: ticketTracker
  }
], empty(ticketsJson) ? [] : [
  {
    name: 'DRIFTWARDEN_TICKETS_JSON'
    value: ticketsJson
  }
])

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // checkov:skip=CKV_AZURE_225: not zone redundant on purpose: it needs always-ready instances billed around the clock, while a zonal outage only delays events (Event Grid retries for eventTimeToLiveMinutes) and the sweep re-checks what was missed.
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // checkov:skip=CKV_AZURE_222: Event Grid delivers to the function over the public endpoint (AzureFunction destination); there is no virtual network in this template. Function keys and Event Grid's own key retrieval guard the endpoint.
    publicNetworkAccess: 'Enabled'
    // checkov:skip=CKV_AZURE_17: client certificates would reject Event Grid, which does not present one.
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    // checkov:skip=CKV_AZURE_212: scaling to zero is intended for an event-driven bot; alwaysReadyInstanceCount keeps warm instances when cold starts matter.
    // checkov:skip=CKV_AZURE_213: no health-check path: Flex Consumption has no load-balancer rotation to drive, and Event Grid's retries and the topic's delivery-failure alert are the liveness signal.
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat([
        // Host storage through the identity: no connection string, no key.
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        // Telemetry with Entra ID (local auth is disabled on Application Insights).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identityClientId}'
        }
        // What the app reads (warden/config.py, warden/runtime.py, warden/table_state.py). Every
        // DRIFTWARDEN_* name here is one the code reads: tests/infra/test_app_settings.py.
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'DRIFTWARDEN_CONFIG_JSON'
          value: configJson
        }
        {
          // Object id and client (app) id: events carry the caller as claims oid / appid.
          name: 'DRIFTWARDEN_SELF_PRINCIPAL_IDS'
          value: '${identityPrincipalId},${identityClientId}'
        }
        {
          // State, remediation log, ticket outbox, proposals: Table Storage through the identity
          // (AZURE_CLIENT_ID), never a connection string.
          name: 'DRIFTWARDEN_STORAGE_ACCOUNT'
          value: storageAccountName
        }
        {
          name: 'DRIFTWARDEN_TABLE_PREFIX'
          value: tablePrefix
        }
      ], optionalAppSettings, ticketSecretAppSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyInstanceCount > 0 ? [
          {
            name: 'function:${eventFunctionName}'
            instanceCount: alwaysReadyInstanceCount
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No basic (user name / password) publishing: azd deploys with Entra ID to the deployment container.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'driftwarden-logs'
  scope: app
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output id string = app.id
output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
output eventFunctionResourceId string = '${app.id}/functions/${eventFunctionName}'
