// The bot's user-assigned managed identity: the Function App runs as it (ARM calls, host storage, tables,
// telemetry, Key Vault). Optionally a second identity that only writes Event Grid dead letters.
@description('Name of the bot identity.')
param name string

@description('Name of the dead-letter identity; empty = none (the topic\'s system identity or no dead-lettering).')
param deadLetterIdentityName string = ''

param location string
param tags object = {}

resource bot 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

// Kept apart from the bot identity on purpose: the dead-letter writer needs blob access to one container
// and nothing else, and the bot must not be able to write where lost events are kept.
resource deadLetter 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (!empty(deadLetterIdentityName)) {
  name: empty(deadLetterIdentityName) ? '${name}-unused' : deadLetterIdentityName
  location: location
  tags: tags
}

output id string = bot.id
output name string = bot.name
output principalId string = bot.properties.principalId
output clientId string = bot.properties.clientId
output deadLetterIdentityId string = empty(deadLetterIdentityName) ? '' : deadLetter.id
output deadLetterPrincipalId string = empty(deadLetterIdentityName) ? '' : deadLetter.properties.principalId
