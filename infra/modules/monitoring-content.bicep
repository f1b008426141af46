// Saved KQL queries, workbooks and Microsoft Sentinel analytics rules over the remediation log. A
// placeholder with one saved search: the content is data passed in as parameters, so queries can be added
// without touching the resources below.
//
// savedSearches: [{ name, category, displayName, query, functionAlias? }]
// workbooks:     [{ key, displayName, serializedData }]  (serializedData: the workbook JSON as a string)
// analyticsRules: [{ key, displayName, description?, severity, query, queryFrequency, queryPeriod,
//                    triggerOperator, triggerThreshold, tactics?, enabled? }]
param workspaceName string
param location string
param tags object = {}
param savedSearches array = []
param workbooks array = []

@description('Sentinel is (to be) enabled on the workspace: onboard it and deploy analyticsRules.')
param sentinelEnabled bool = false
param analyticsRules array = []

// Telemetry from the bot lands in the workspace-based Application Insights tables (AppTraces, AppEvents,
// AppExceptions...). The remediation-log schema is owned by the engine; refine this query with it.
var defaultSavedSearches = [
  {
    name: 'driftwarden-recent-activity'
    category: 'Driftwarden'
    displayName: 'Driftwarden: activity of the last 24 hours'
    query: 'union isfuzzy=true AppEvents, AppTraces, AppExceptions\n| where TimeGenerated > ago(24h)\n| where AppRoleName startswith "func-dw-"\n| project TimeGenerated, Type, Name, Message, SeverityLevel, Properties, OperationId\n| order by TimeGenerated desc'
    functionAlias: ''
  }
]
var allSavedSearches = concat(defaultSavedSearches, savedSearches)

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource searches 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for search in allSavedSearches: {
  parent: workspace
  name: search.name
  properties: {
    category: search.category
    displayName: search.displayName
    query: search.query
    functionAlias: empty(search.functionAlias) ? null : search.functionAlias
    version: 2
  }
}]

resource workbookResources 'Microsoft.Insights/workbooks@2023-06-01' = [for workbook in workbooks: {
  name: guid(workspace.id, 'driftwarden-workbook', workbook.key)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: workbook.displayName
    category: 'workbook'
    serializedData: workbook.serializedData
    sourceId: workspace.id
    version: '1.0'
  }
}]

resource sentinel 'Microsoft.SecurityInsights/onboardingStates@2024-09-01' = if (sentinelEnabled) {
  name: 'default'
  scope: workspace
  properties: {}
}

resource rules 'Microsoft.SecurityInsights/alertRules@2024-09-01' = [for rule in (sentinelEnabled ? analyticsRules : []): {
  name: guid(workspace.id, 'driftwarden-rule', rule.key)
  scope: workspace
  kind: 'Scheduled'
  dependsOn: [
    sentinel
  ]
  properties: {
    displayName: rule.displayName
    description: contains(rule, 'description') ? rule.description : ''
    enabled: contains(rule, 'enabled') ? rule.enabled : true
    severity: rule.severity
    query: rule.query
    queryFrequency: rule.queryFrequency
    queryPeriod: rule.queryPeriod
    triggerOperator: rule.triggerOperator
    triggerThreshold: rule.triggerThreshold
    suppressionEnabled: false
    suppressionDuration: 'PT1H'
    tactics: contains(rule, 'tactics') ? rule.tactics : []
    eventGroupingSettings: {
      aggregationKind: 'AlertPerResult'
    }
    incidentConfiguration: {
      createIncident: true
      groupingConfiguration: {
        enabled: true
        reopenClosedIncident: false
        lookbackDuration: 'PT5H'
        matchingMethod: 'AllEntities'
      }
    }
  }
}]

output savedSearchIds array = [for (search, i) in allSavedSearches: searches[i].id]
