// Saved KQL queries, the workbook and the Microsoft Sentinel scheduled analytics rules over the remediation
// log (docs/remediation-log.md: AppTraces records whose Properties carry the dw_* schema of
// warden/telemetry.py SCHEMA). The content lives in infra/monitoring/ and is loaded at compile time below.
//
// Bicep's load functions need literal paths, so every file of infra/monitoring/ is listed here, in the three
// lists that follow, and nowhere else. Adding a query, a rule or a workbook = a file in infra/monitoring/
// plus one line here; tests/infra/test_monitoring_deploy.py fails when a file is not listed or a listed
// path does not exist (infra/scripts/check_wiring.py checks the same in the gate).
//
// The parameters add content on top of the files (main.bicep leaves them empty):
// savedSearches:  [{ name, displayName, query, category? (default Driftwarden), functionAlias? }]
// workbooks:      [{ key, displayName, serializedData }]  (serializedData: the workbook JSON as a string)
// analyticsRules: [{ key, displayName, description?, severity, query, queryFrequency, queryPeriod,
//                    triggerOperator, triggerThreshold, tactics?, techniques?, entityMappings?,
//                    eventGroupingSettings?, suppressionEnabled?, suppressionDuration?, enabled? }]
param workspaceName string
param location string
param tags object = {}
param savedSearches array = []
param workbooks array = []

@description('Sentinel is (to be) enabled on the workspace: onboard it and deploy the analytics rules.')
param sentinelEnabled bool = false
param analyticsRules array = []

// ---------------------------------------------------------------------------------------------------
// The files of infra/monitoring/ (the one list of them)
// ---------------------------------------------------------------------------------------------------

// queries/*.kql: each file starts with `// <displayName>. <what it shows>`; displayName repeats that first
// sentence (the test checks they agree).
var querySearches = [
  {
    name: 'driftwarden-remediation-log'
    displayName: 'Driftwarden: remediation log'
    query: loadTextContent('../monitoring/queries/remediation-log.kql')
  }
  {
    name: 'driftwarden-failures'
    displayName: 'Driftwarden: failures'
    query: loadTextContent('../monitoring/queries/failures.kql')
  }
  {
    name: 'driftwarden-exemptions'
    displayName: 'Driftwarden: exemptions'
    query: loadTextContent('../monitoring/queries/exemptions.kql')
  }
  {
    name: 'driftwarden-flapping-resources'
    displayName: 'Driftwarden: flapping resources'
    query: loadTextContent('../monitoring/queries/flapping-resources.kql')
  }
  {
    name: 'driftwarden-repeat-offenders'
    displayName: 'Driftwarden: who keeps re-enabling public access or fetching keys'
    query: loadTextContent('../monitoring/queries/repeat-offenders.kql')
  }
]

// workbook.json: the workbook's serializedData object.
var remediationWorkbook = loadJsonContent('../monitoring/workbook.json')

// analytics-rules/*.json: one Sentinel scheduled rule each (its alertRules properties plus a key).
var ruleFiles = [
  loadJsonContent('../monitoring/analytics-rules/remediation-failed.json')
  loadJsonContent('../monitoring/analytics-rules/revert-flapping.json')
  loadJsonContent('../monitoring/analytics-rules/key-retrieval-local-auth.json')
  loadJsonContent('../monitoring/analytics-rules/exemption-over-30-days.json')
]

// ---------------------------------------------------------------------------------------------------
// Content = files + parameters
// ---------------------------------------------------------------------------------------------------

var allSavedSearches = concat(querySearches, savedSearches)

var allWorkbooks = concat([
  {
    key: 'remediation-log'
    displayName: 'Driftwarden: security drift on Azure AI resources'
    // The file's fallbackResourceIds is empty; pointing it at this workspace makes the workbook open on its
    // data from the Azure Monitor gallery too, not only from the workspace's Workbooks blade.
    serializedData: string(union(remediationWorkbook, {
      fallbackResourceIds: [
        workspace.id
      ]
    }))
  }
], workbooks)

var allAnalyticsRules = concat(ruleFiles, analyticsRules)

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource searches 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for search in allSavedSearches: {
  parent: workspace
  name: search.name
  properties: {
    category: contains(search, 'category') ? search.category : 'Driftwarden'
    displayName: search.displayName
    query: search.query
    functionAlias: (contains(search, 'functionAlias') ? !empty(search.functionAlias) : false) ? search.functionAlias : null
    version: 2
  }
}]

// Shared workbook attached to the workspace; the name is a guid of the workspace and the key, so a
// re-deployment updates it in place.
resource workbookResources 'Microsoft.Insights/workbooks@2023-06-01' = [for workbook in allWorkbooks: {
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

// Sentinel onboarding of the workspace, then the scheduled rules (which need it).
resource sentinel 'Microsoft.SecurityInsights/onboardingStates@2024-09-01' = if (sentinelEnabled) {
  name: 'default'
  scope: workspace
  properties: {}
}

resource rules 'Microsoft.SecurityInsights/alertRules@2024-09-01' = [for rule in (sentinelEnabled ? allAnalyticsRules : []): {
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
    tactics: contains(rule, 'tactics') ? rule.tactics : []
    techniques: contains(rule, 'techniques') ? rule.techniques : []
    entityMappings: contains(rule, 'entityMappings') ? rule.entityMappings : null
    eventGroupingSettings: contains(rule, 'eventGroupingSettings') ? rule.eventGroupingSettings : {
      aggregationKind: 'AlertPerResult'
    }
    suppressionEnabled: contains(rule, 'suppressionEnabled') ? rule.suppressionEnabled : false
    suppressionDuration: contains(rule, 'suppressionDuration') ? rule.suppressionDuration : 'PT1H'
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
output workbookIds array = [for (workbook, i) in allWorkbooks: workbookResources[i].id]
output analyticsRuleCount int = sentinelEnabled ? length(allAnalyticsRules) : 0
