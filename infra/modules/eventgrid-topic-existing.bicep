// Reads the subscription's existing Microsoft.Resources.Subscriptions system topic (created by Defender,
// the portal or another team). Nothing here changes it: Driftwarden only adds its event subscriptions.
param name string

@description('Read the topic\'s system-assigned identity (it must have one when dead letters use it).')
param readSystemIdentity bool = false

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: name
}

output id string = topic.id
output name string = topic.name
output principalId string = readSystemIdentity ? topic.identity.principalId : ''
