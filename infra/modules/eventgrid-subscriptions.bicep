// Event subscriptions on a system topic, one per generated filter set (infra/generated/filter.json): Event
// Grid allows 25 advanced-filter values per subscription, so the registry's operations are split by
// resource kind (warden/generate.py). Every subscription delivers to the same function, one event per
// call, and dead-letters with the topic's (or the dead-letter) identity.
@description('System topic in this resource group.')
param topicName string

@description('Generated filter sets: [{ name, filter }].')
param subscriptions array

@description('Appended to each generated name, so several environments can share the subscription\'s one topic.')
param nameSuffix string

@allowed([
  'EventGridSchema'
  'CloudEventSchemaV1_0'
])
param eventDeliverySchema string = 'EventGridSchema'

@description('Resource id of the Event Grid trigger: <function app id>/functions/eventgrid_handler.')
param functionResourceId string

@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 10

@minValue(1)
@maxValue(1440)
param eventTimeToLiveMinutes int = 720

@allowed([
  'SystemAssigned'
  'UserAssigned'
  'None'
])
param deadLetterIdentity string = 'SystemAssigned'

param deadLetterUserAssignedIdentityId string = ''
param deadLetterStorageAccountId string
param deadLetterContainerName string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: topicName
}

var deadLetterDestination = {
  endpointType: 'StorageBlob'
  properties: {
    resourceId: deadLetterStorageAccountId
    blobContainerName: deadLetterContainerName
  }
}

// No key in the template: the 'AzureFunction' destination lets Event Grid fetch the function's key
// itself. With deadLetterIdentity None there is no dead-lettering at all (docs/deploy.md).
var deadLetterProperties = deadLetterIdentity == 'SystemAssigned' ? {
  deadLetterWithResourceIdentity: {
    identity: {
      type: 'SystemAssigned'
    }
    deadLetterDestination: deadLetterDestination
  }
} : deadLetterIdentity == 'UserAssigned' ? {
  deadLetterWithResourceIdentity: {
    identity: {
      type: 'UserAssigned'
      userAssignedIdentity: deadLetterUserAssignedIdentityId
    }
    deadLetterDestination: deadLetterDestination
  }
} : {}

resource eventSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = [for set in subscriptions: {
  parent: topic
  name: take('${set.name}-${nameSuffix}', 64)
  properties: union({
    eventDeliverySchema: eventDeliverySchema
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: functionResourceId
        // One event per invocation: if the function raises, Event Grid redelivers the whole batch.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    // Quoted and indexed: 'filter' is also a Bicep function name, which checkov's pinned parser rejects as a name.
    'filter': set['filter']
    // Capped: a failing event is retried for hours, not a day, so a broken deployment cannot turn into a
    // retry storm against ARM; what is left goes to the dead-letter container (and the sweep re-checks).
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveMinutes
    }
  }, deadLetterProperties)
}]

output names array = [for (set, i) in subscriptions: eventSubscriptions[i].name]
