// One subscription of a management-group rollout (mg-rollout.bicep): its system topic (new or existing),
// dead-letter access on the central storage, and the generated event subscriptions to the central app.
targetScope = 'subscription'

param location string
param topicResourceGroupName string
param existingTopicName string = ''
param environmentName string
param filterSets array
param eventDeliverySchema string = 'EventGridSchema'
param functionResourceId string
param centralSubscriptionId string
param centralResourceGroup string
param storageAccountName string
param storageAccountId string
param deadLetterContainerName string
param deadLetterIdentity string = 'SystemAssigned'
param deadLetterUserAssignedIdentityId string = ''
param eventMaxDeliveryAttempts int = 10
param eventTimeToLiveMinutes int = 720
param workspaceId string
param tags object = {}

var reuseTopic = !empty(existingTopicName)
var newTopicName = 'evgt-dw-sub-${toLower(uniqueString(subscription().id, environmentName))}'

resource topicGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (!reuseTopic) {
  name: topicResourceGroupName
  location: location
  tags: tags
}

module newTopic 'eventgrid-topic.bicep' = if (!reuseTopic) {
  name: 'driftwarden-topic'
  scope: resourceGroup(topicResourceGroupName)
  dependsOn: [
    topicGroup
  ]
  params: {
    name: newTopicName
    topicType: 'Microsoft.Resources.Subscriptions'
    identityType: deadLetterIdentity
    userAssignedIdentityId: deadLetterUserAssignedIdentityId
    tags: tags
    workspaceId: workspaceId
  }
}

module existingTopic 'eventgrid-topic-existing.bicep' = if (reuseTopic) {
  name: 'driftwarden-topic-existing'
  scope: resourceGroup(topicResourceGroupName)
  params: {
    name: existingTopicName
    readSystemIdentity: deadLetterIdentity == 'SystemAssigned'
  }
}

var topicName = reuseTopic ? existingTopicName : newTopicName
var topicPrincipalId = reuseTopic ? existingTopic.outputs.principalId : newTopic.outputs.principalId

// The central dead-letter identity (UserAssigned) is granted once by main.bicep; a topic's own identity
// is granted here, on the central container.
module deadLetterAccess 'deadletter-access.bicep' = if (deadLetterIdentity == 'SystemAssigned') {
  name: take('driftwarden-dl-${subscription().subscriptionId}', 64)
  scope: resourceGroup(centralSubscriptionId, centralResourceGroup)
  params: {
    storageAccountName: storageAccountName
    containerName: deadLetterContainerName
    principalId: topicPrincipalId
  }
}

module eventSubscriptions 'eventgrid-subscriptions.bicep' = {
  name: 'driftwarden-event-subscriptions'
  scope: resourceGroup(topicResourceGroupName)
  dependsOn: [
    deadLetterAccess
    newTopic
  ]
  params: {
    topicName: topicName
    subscriptions: filterSets
    nameSuffix: environmentName
    eventDeliverySchema: eventDeliverySchema
    functionResourceId: functionResourceId
    maxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveMinutes: eventTimeToLiveMinutes
    deadLetterIdentity: deadLetterIdentity
    deadLetterUserAssignedIdentityId: deadLetterUserAssignedIdentityId
    deadLetterStorageAccountId: storageAccountId
    deadLetterContainerName: deadLetterContainerName
  }
}

output topicName string = topicName
