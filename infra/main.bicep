// Driftwarden: one Flex Consumption Function App per Azure subscription, fed by the subscription's Event
// Grid system topic. Deploy with `azd up` (docs/deploy.md). The role actions and event filters are not
// written here: `azd provision` first runs `python -m warden.generate all` (hooks.preprovision in
// azure.yaml), which writes them from the remediator registry into infra/generated/ (not committed).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: part of every resource name and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of the Function App and its resources (must offer Flex Consumption).')
param location string

@description('Resource group to create; empty = rg-<environmentName>.')
param resourceGroupName string = ''

@description('DRIFTWARDEN_CONFIG_JSON app setting (warden/config.py). Empty = infra/generated/config.json, which the preprovision hook writes from the azd environment value of the same name (validated; default {"dry_run": true}).')
param driftwardenConfigJson string = ''

@description('DRIFTWARDEN_SWEEP_SCHEDULE: NCRONTAB with seconds, e.g. 0 0 */6 * * *; empty = the app default (every 6 hours).')
param sweepSchedule string = ''

@description('Most Function App instances at once. Caps the bot\'s parallel ARM calls; see the note at functionApp below.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 10

@description('Always-ready instances for the eventgrid_handler function (0 = scale to zero, pay a cold start).')
@minValue(0)
@maxValue(10)
param alwaysReadyInstanceCount int = 0

@description('Instance memory of the Flex Consumption plan.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Create the Event Grid event subscriptions. The AzureFunction destination must already hold the deployed eventgrid_handler function, so the first `azd provision` runs with false and the postdeploy hook provisions again with true.')
param enableEventSubscriptions bool = false

@description('Name of an existing Microsoft.Resources.Subscriptions system topic to reuse (a subscription holds only one). Empty = create one.')
param existingSystemTopicName string = ''

@description('Resource group of the existing system topic.')
param existingSystemTopicResourceGroup string = ''

@description('Identity Event Grid uses to write dead-lettered events: the topic\'s SystemAssigned identity, a UserAssigned identity created here, or None (no dead-lettering). docs/deploy.md explains the choice.')
@allowed([
  'SystemAssigned'
  'UserAssigned'
  'None'
])
param deadLetterIdentity string = 'SystemAssigned'

@description('Event Grid delivery attempts before an event is dead-lettered (1-30).')
@minValue(1)
@maxValue(30)
param eventMaxDeliveryAttempts int = 10

@description('Minutes Event Grid keeps retrying one event (1-1440).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveMinutes int = 720

@description('Also subscribe to the Resource Notifications topic (Microsoft.ResourceNotifications.Resources): resource bodies, no caller, no action events.')
param enableResourceNotifications bool = false

@description('Public network access of the Key Vault. The Function App has no virtual network here, so Disabled also needs VNet integration and a private endpoint.')
@allowed([
  'Enabled'
  'Disabled'
])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('IPv4 ranges allowed through the Key Vault firewall. Empty = the firewall allows all networks (RBAC still decides).')
param keyVaultAllowedIpRanges array = []

@description('Object id of a user or group that may manage the Key Vault secrets (ticket system tokens). Empty = nobody.')
param keyVaultSecretsOfficerPrincipalId string = ''

@description('Days Log Analytics keeps the remediation log.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Days a dead-lettered event stays in the dead-letter container.')
@minValue(1)
@maxValue(365)
param deadLetterRetentionDays int = 30

@description('DRIFTWARDEN_TABLE_PREFIX: the first part of every Table Storage table name the app uses (3-51 letters and digits, starting with a letter; warden/table_state.py). The tables <prefix>events, <prefix>state, <prefix>tickets and <prefix>proposals are created here.')
@minLength(3)
@maxLength(51)
param tablePrefix string = 'driftwarden'

@description('DRIFTWARDEN_TICKET_TRACKER: github, azure-devops, servicenow, jira, teams, webhook or none (docs/tickets.md). Empty = the setting is not set: the app takes the tracker from DRIFTWARDEN_TICKETS_JSON, else teams / webhook when their URL secret is set, else none.')
@allowed([
  ''
  'github'
  'azure-devops'
  'servicenow'
  'jira'
  'teams'
  'webhook'
  'none'
])
param ticketTracker string = ''

@description('DRIFTWARDEN_TICKETS_JSON: the non-secret tracker settings as one JSON object, e.g. {"tracker": "jira", "jira": {"site_url": "https://contoso.atlassian.net", "project": "SEC", "email": "driftwarden@contoso.com"}}. Empty = not set. Secrets are refused there: use ticketSecretNames.')
param ticketsJson string = ''

@description('Tracker secrets as Key Vault references: app setting name -> name of a secret in the deployment\'s Key Vault, e.g. {"DRIFTWARDEN_GITHUB_TOKEN": "github-token"} or {"DRIFTWARDEN_TEAMS_WORKFLOW_URL": "teams-workflow-url"}. Each becomes @Microsoft.KeyVault(SecretUri=<vault>/secrets/<name>/), resolved by the platform with the bot identity. Only the secret settings the app reads are accepted (function-app.bicep). Empty = none.')
param ticketSecretNames object = {}

@description('Saved searches added to those of infra/monitoring/queries/ (monitoring-content.bicep): objects { name, displayName, query, category?, functionAlias? }.')
param monitoringSavedSearches array = []

@description('Workbooks added to infra/monitoring/workbook.json (monitoring-content.bicep): objects { key, displayName, serializedData }.')
param monitoringWorkbooks array = []

@description('Microsoft Sentinel is (to be) enabled on the workspace: onboards it and deploys the scheduled analytics rules of infra/monitoring/analytics-rules/ (plus sentinelAnalyticsRules).')
param sentinelEnabled bool = false

@description('Scheduled analytics rules added to those of infra/monitoring/analytics-rules/ (monitoring-content.bicep): objects with the alertRules properties plus a key.')
param sentinelAnalyticsRules array = []

@description('Action group notified when Event Grid drops or dead-letters events. Empty = the alert fires without notifying.')
param alertActionGroupId string = ''

@description('Tags added to every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------------
// Generated from the registry (python -m warden.generate all)
// ---------------------------------------------------------------------------------------------------

var generatedRole = loadJsonContent('generated/role.json')
var generatedFilter = loadJsonContent('generated/filter.json')
var generatedArnFilter = loadJsonContent('generated/arn-filter.json')
var generatedConfigJson = loadTextContent('generated/config.json')

// ---------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, {
  'azd-env-name': environmentName
  application: 'driftwarden'
})
var rgName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
var identityName = 'id-dw-${resourceToken}'
var deadLetterIdentityName = 'id-dw-dl-${resourceToken}'
var storageName = 'stdw${resourceToken}'
var planName = 'plan-dw-${resourceToken}'
var functionAppName = 'func-dw-${resourceToken}'
var workspaceName = 'log-dw-${resourceToken}'
var appInsightsName = 'appi-dw-${resourceToken}'
var keyVaultName = 'kv-dw-${resourceToken}'
var newTopicName = 'evgt-dw-sub-${resourceToken}'
var arnTopicName = 'evgt-dw-arn-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var deadLetterContainerName = 'deadletter'
// The Table Storage tables the app uses, after DRIFTWARDEN_TABLE_PREFIX: TableNames.events / .state
// (warden/table_state.py; the remediation log shares the events table), TICKETS_TABLE
// (warden/ticketing/factory.py) and PROPOSALS_TABLE (warden/approvals.py). The app would create them on
// first use; creating them here means it never needs to. tests/infra/test_app_settings.py keeps this list
// equal to the code's.
var stateTableSuffixes = [
  'events'
  'state'
  'tickets'
  'proposals'
]
var stateTableNames = [for suffix in stateTableSuffixes: '${tablePrefix}${suffix}']
// The Event Grid trigger registered in functions/eventgrid.py: @bp.function_name("eventgrid_handler").
var eventFunctionName = 'eventgrid_handler'
var reuseTopic = !empty(existingSystemTopicName)
var topicResourceGroupName = reuseTopic ? existingSystemTopicResourceGroup : rgName

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: rgName
  location: location
  tags: allTags
}

module identity 'modules/identity.bicep' = {
  name: 'driftwarden-identity'
  scope: rg
  params: {
    name: identityName
    deadLetterIdentityName: deadLetterIdentity == 'UserAssigned' ? deadLetterIdentityName : ''
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'driftwarden-monitoring'
  scope: rg
  params: {
    workspaceName: workspaceName
    appInsightsName: appInsightsName
    location: location
    tags: allTags
    retentionInDays: logRetentionDays
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'driftwarden-storage'
  scope: rg
  params: {
    name: storageName
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    deadLetterRetentionDays: deadLetterRetentionDays
    tableNames: stateTableNames
    appPrincipalId: identity.outputs.principalId
    workspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'driftwarden-keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: allTags
    publicNetworkAccess: keyVaultPublicNetworkAccess
    allowedIpRanges: keyVaultAllowedIpRanges
    secretsUserPrincipalId: identity.outputs.principalId
    secretsOfficerPrincipalId: keyVaultSecretsOfficerPrincipalId
    workspaceId: monitoring.outputs.workspaceId
  }
}

// maximumInstanceCount (default 10) is chosen against ARM's throttling. ARM gives each principal, per
// region, token buckets: writes 200 burst refilled at 10/s, reads 250 burst refilled at 25/s
// (azure-platform-facts.md section 3). Every instance shares the one identity, so the instance count is
// the bot's ARM concurrency. At ~1 s per invocation (one GET, at most one PATCH, a re-read on 412) and one
// invocation at a time per instance, 10 instances make at most ~10 writes/s (the refill rate) and ~20-25
// reads/s; a burst of drift drains the 200-token write bucket instead of causing a 429 storm, and the
// capped Event Grid retries (eventMaxDeliveryAttempts) keep a failing run from multiplying the load.
// Raise it only with the read budget in mind (docs/scale.md).
module functionApp 'modules/function-app.bicep' = {
  name: 'driftwarden-function-app'
  scope: rg
  params: {
    planName: planName
    appName: functionAppName
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    keyVaultUri: keyVault.outputs.uri
    configJson: empty(driftwardenConfigJson) ? string(json(generatedConfigJson)) : driftwardenConfigJson
    // ARM budget per principal and region; see the note above this module.
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    instanceMemoryMB: instanceMemoryMB
    eventFunctionName: eventFunctionName
    sweepSchedule: sweepSchedule
    tablePrefix: tablePrefix
    ticketTracker: ticketTracker
    ticketsJson: ticketsJson
    ticketSecretNames: ticketSecretNames
    workspaceId: monitoring.outputs.workspaceId
  }
}

module remediatorRole 'modules/remediator-role.bicep' = {
  name: 'driftwarden-remediator-role'
  params: {
    roleKey: environmentName
    actions: generatedRole.actions
    roleDescription: generatedRole.description
    principalId: identity.outputs.principalId
  }
}

// Event Grid: the subscription's system topic (new, or the one that already exists) -----------------

module newTopic 'modules/eventgrid-topic.bicep' = if (!reuseTopic) {
  name: 'driftwarden-topic'
  scope: rg
  params: {
    name: newTopicName
    topicType: 'Microsoft.Resources.Subscriptions'
    identityType: deadLetterIdentity
    userAssignedIdentityId: identity.outputs.deadLetterIdentityId
    tags: allTags
    workspaceId: monitoring.outputs.workspaceId
  }
}

module existingTopic 'modules/eventgrid-topic-existing.bicep' = if (reuseTopic) {
  name: 'driftwarden-topic-existing'
  scope: resourceGroup(topicResourceGroupName)
  params: {
    name: existingSystemTopicName
    readSystemIdentity: deadLetterIdentity == 'SystemAssigned'
  }
}

var topicId = reuseTopic ? existingTopic.outputs.id : newTopic.outputs.id
var topicPrincipalId = reuseTopic ? existingTopic.outputs.principalId : newTopic.outputs.principalId
var topicName = reuseTopic ? existingSystemTopicName : newTopicName

// The identity that writes dead letters gets Storage Blob Data Contributor on the dead-letter container.
module deadLetterAccess 'modules/deadletter-access.bicep' = if (deadLetterIdentity != 'None') {
  name: 'driftwarden-deadletter-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    containerName: deadLetterContainerName
    principalId: deadLetterIdentity == 'UserAssigned' ? identity.outputs.deadLetterPrincipalId : topicPrincipalId
  }
}

module eventSubscriptions 'modules/eventgrid-subscriptions.bicep' = if (enableEventSubscriptions) {
  name: 'driftwarden-event-subscriptions'
  scope: resourceGroup(topicResourceGroupName)
  dependsOn: [
    newTopic
    deadLetterAccess
    functionApp
  ]
  params: {
    topicName: topicName
    subscriptions: generatedFilter.subscriptions
    nameSuffix: environmentName
    eventDeliverySchema: generatedFilter.eventDeliverySchema
    functionResourceId: functionApp.outputs.eventFunctionResourceId
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveMinutes: eventTimeToLiveMinutes
    deadLetterIdentity: deadLetterIdentity
    deadLetterUserAssignedIdentityId: identity.outputs.deadLetterIdentityId
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: deadLetterContainerName
  }
}

module topicAlerts 'modules/eventgrid-alerts.bicep' = {
  name: 'driftwarden-topic-alerts'
  scope: rg
  params: {
    name: 'alert-dw-events-lost-${resourceToken}'
    topicId: topicId
    actionGroupId: alertActionGroupId
    tags: allTags
  }
}

// Optional: Azure Resource Notifications (resource bodies, no caller) -----------------------------

module arnTopic 'modules/eventgrid-topic.bicep' = if (enableResourceNotifications) {
  name: 'driftwarden-arn-topic'
  scope: rg
  params: {
    name: arnTopicName
    topicType: 'Microsoft.ResourceNotifications.Resources'
    identityType: deadLetterIdentity
    userAssignedIdentityId: identity.outputs.deadLetterIdentityId
    tags: allTags
    workspaceId: monitoring.outputs.workspaceId
  }
}

module arnDeadLetterAccess 'modules/deadletter-access.bicep' = if (enableResourceNotifications && deadLetterIdentity == 'SystemAssigned') {
  name: 'driftwarden-arn-deadletter-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    containerName: deadLetterContainerName
    principalId: arnTopic.outputs.principalId
  }
}

module arnSubscriptions 'modules/eventgrid-subscriptions.bicep' = if (enableResourceNotifications && enableEventSubscriptions) {
  name: 'driftwarden-arn-subscriptions'
  scope: rg
  dependsOn: [
    arnTopic
    arnDeadLetterAccess
    deadLetterAccess
    functionApp
  ]
  params: {
    topicName: arnTopicName
    subscriptions: generatedArnFilter.subscriptions
    nameSuffix: environmentName
    eventDeliverySchema: generatedArnFilter.eventDeliverySchema
    functionResourceId: functionApp.outputs.eventFunctionResourceId
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveMinutes: eventTimeToLiveMinutes
    deadLetterIdentity: deadLetterIdentity
    deadLetterUserAssignedIdentityId: identity.outputs.deadLetterIdentityId
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: deadLetterContainerName
  }
}

// Saved searches, workbook and Sentinel rules: the files of infra/monitoring/ (listed in the module) ---

module monitoringContent 'modules/monitoring-content.bicep' = {
  name: 'driftwarden-monitoring-content'
  scope: rg
  params: {
    workspaceName: monitoring.outputs.workspaceName
    location: location
    tags: allTags
    savedSearches: monitoringSavedSearches
    workbooks: monitoringWorkbooks
    sentinelEnabled: sentinelEnabled
    analyticsRules: sentinelAnalyticsRules
  }
}

// ---------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment)
// ---------------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output DRIFTWARDEN_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output DRIFTWARDEN_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output DRIFTWARDEN_STORAGE_ACCOUNT string = storage.outputs.name
output DRIFTWARDEN_TABLE_PREFIX string = tablePrefix
output DRIFTWARDEN_DEADLETTER_CONTAINER string = deadLetterContainerName
output DRIFTWARDEN_DEADLETTER_IDENTITY_ID string = identity.outputs.deadLetterIdentityId
output DRIFTWARDEN_CUSTOM_ROLE_ID string = remediatorRole.outputs.roleDefinitionId
output DRIFTWARDEN_EVENT_FUNCTION_ID string = functionApp.outputs.eventFunctionResourceId
output EVENT_GRID_SYSTEM_TOPIC_NAME string = topicName
output EVENT_GRID_SYSTEM_TOPIC_RESOURCE_GROUP string = topicResourceGroupName
output EVENT_GRID_EVENT_SUBSCRIPTIONS_ENABLED bool = enableEventSubscriptions
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.appInsightsConnectionString
