// Optional: roll Driftwarden out to every subscription under a management group from one central
// deployment (docs/scale.md). Deploy main.bicep once in the central subscription, then deploy this file at
// the management group, e.g.
//   az deployment mg create -m <mg> -l <region> -f infra/modules/mg-rollout.bicep -p @mg.parameters.json
// after `python -m warden.generate all` has written infra/generated/.
//
// What it creates:
// - the custom role at management-group scope (one assignment, inherited by every subscription below);
// - per listed subscription: a resource group with the subscription's system topic (or the existing one),
//   the generated event subscriptions delivering to the central function, and dead-letter access.
targetScope = 'managementGroup'

@description('Subscriptions to cover: [{ subscriptionId, existingTopicName?, existingTopicResourceGroup? }].')
param subscriptions array

@description('Name of the central azd environment (role and event subscription names).')
param environmentName string

@description('Region of the per-subscription resource groups that hold the topics.')
param location string

@description('Resource group created in each subscription for its system topic.')
param topicResourceGroupName string = 'rg-driftwarden-events'

@description('Central Function App\'s trigger: <app id>/functions/eventgrid_handler (output DRIFTWARDEN_EVENT_FUNCTION_ID).')
param functionResourceId string

@description('Principal of the central bot identity (output DRIFTWARDEN_IDENTITY_PRINCIPAL_ID).')
param botPrincipalId string

@description('Central subscription and resource group (outputs of main.bicep).')
param centralSubscriptionId string
param centralResourceGroup string
param storageAccountName string
param deadLetterContainerName string = 'deadletter'

@description('Central Log Analytics workspace (delivery-failure logs of every topic).')
param workspaceId string

@allowed([
  'SystemAssigned'
  'UserAssigned'
  'None'
])
param deadLetterIdentity string = 'SystemAssigned'

@description('Resource id of the central dead-letter identity when deadLetterIdentity is UserAssigned.')
param deadLetterUserAssignedIdentityId string = ''

@minValue(1)
@maxValue(30)
param eventMaxDeliveryAttempts int = 10

@minValue(1)
@maxValue(1440)
param eventTimeToLiveMinutes int = 720

param tags object = {}

var generatedRole = loadJsonContent('../generated/role.json')
var generatedFilter = loadJsonContent('../generated/filter.json')
var storageAccountId = resourceId(centralSubscriptionId, centralResourceGroup, 'Microsoft.Storage/storageAccounts', storageAccountName)

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(managementGroup().id, 'driftwarden-remediator', environmentName)
  properties: {
    roleName: 'Driftwarden remediator (${environmentName}, ${managementGroup().name})'
    description: generatedRole.description
    type: 'CustomRole'
    permissions: [
      {
        actions: generatedRole.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    // At most one management group per custom role; no DataActions, or it could not be assigned here.
    assignableScopes: [
      managementGroup().id
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(managementGroup().id, botPrincipalId, role.id)
  properties: {
    roleDefinitionId: role.id
    principalId: botPrincipalId
    principalType: 'ServicePrincipal'
  }
}

module perSubscription 'mg-subscription.bicep' = [for sub in subscriptions: {
  name: take('driftwarden-${sub.subscriptionId}', 64)
  scope: subscription(sub.subscriptionId)
  params: {
    location: location
    topicResourceGroupName: contains(sub, 'existingTopicResourceGroup') ? sub.existingTopicResourceGroup : topicResourceGroupName
    existingTopicName: contains(sub, 'existingTopicName') ? sub.existingTopicName : ''
    environmentName: environmentName
    filterSets: generatedFilter.subscriptions
    eventDeliverySchema: generatedFilter.eventDeliverySchema
    functionResourceId: functionResourceId
    centralSubscriptionId: centralSubscriptionId
    centralResourceGroup: centralResourceGroup
    storageAccountName: storageAccountName
    storageAccountId: storageAccountId
    deadLetterContainerName: deadLetterContainerName
    deadLetterIdentity: deadLetterIdentity
    deadLetterUserAssignedIdentityId: deadLetterUserAssignedIdentityId
    eventMaxDeliveryAttempts: eventMaxDeliveryAttempts
    eventTimeToLiveMinutes: eventTimeToLiveMinutes
    workspaceId: workspaceId
    tags: tags
  }
}]

output ROLE_DEFINITION_ID string = role.id
