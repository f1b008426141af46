// Alerts when the system topic drops or dead-letters events: the safety net of "nothing is dropped
// silently", and the only signal when dead-lettering is off (deadLetterIdentity=None). On a reused topic the
// metrics also count other teams' event subscriptions; AEGDeliveryFailureLogs names the subscription.
param name string

@description('Resource id of the system topic.')
param topicId string

@description('Action group to notify; empty = the alert fires in Azure Monitor without notifying anyone.')
param actionGroupId string = ''

param tags object = {}

resource lostEvents 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    description: 'Driftwarden: Event Grid dropped or dead-lettered events for the bot. Check the dead-letter container and AEGDeliveryFailureLogs.'
    severity: 2
    enabled: true
    scopes: [
      topicId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dropped'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DroppedEventCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: empty(actionGroupId) ? [] : [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

resource deadLettered 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${name}-deadlettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'Driftwarden: Event Grid dead-lettered events for the bot (the function failed them or answered 400/403/413).'
    severity: 3
    enabled: true
    scopes: [
      topicId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadlettered'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DeadLetteredCount'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: empty(actionGroupId) ? [] : [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}
