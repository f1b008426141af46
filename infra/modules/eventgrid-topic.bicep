// An Event Grid system topic whose source is this Azure subscription: Microsoft.Resources.Subscriptions
// (ARM write/action/delete events with the caller's claims) or Microsoft.ResourceNotifications.Resources
// (resource bodies). Global sources live at location 'global'. A subscription holds one topic per type,
// so main.bicep reuses an existing one when asked (eventgrid-topic-existing.bicep).
//
// Identity: the topic's identity writes dead letters (deadLetterWithResourceIdentity). The 2021 copy of
// "enable-identity-system-topics" said global topics could not have one; the current page says they can
// (MicrosoftDocs/azure-docs articles/event-grid/enable-identity-system-topics.md). docs/deploy.md has the
// fallback when a tenant still rejects it: deadLetterIdentity=UserAssigned, or None.
param name string

@allowed([
  'Microsoft.Resources.Subscriptions'
  'Microsoft.ResourceNotifications.Resources'
])
param topicType string = 'Microsoft.Resources.Subscriptions'

@allowed([
  'SystemAssigned'
  'UserAssigned'
  'None'
])
param identityType string = 'SystemAssigned'

@description('Resource id of the dead-letter identity when identityType is UserAssigned.')
param userAssignedIdentityId string = ''

param tags object = {}
param workspaceId string

var identity = identityType == 'SystemAssigned' ? {
  type: 'SystemAssigned'
} : identityType == 'UserAssigned' ? {
  type: 'UserAssigned'
  userAssignedIdentities: {
    '${userAssignedIdentityId}': {}
  }
} : {
  type: 'None'
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: 'global'
  tags: tags
  identity: identity
  properties: {
    source: subscription().id
    topicType: topicType
  }
}

// Failed deliveries land in Log Analytics with their reason (AEGDeliveryFailureLogs).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'driftwarden-delivery'
  scope: topic
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'DeliveryFailures'
        enabled: true
      }
    ]
  }
}

output id string = topic.id
output name string = topic.name
output principalId string = identityType == 'SystemAssigned' ? topic.identity.principalId : ''
