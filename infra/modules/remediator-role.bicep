// The bot's custom role at subscription scope, assigned to its identity. The actions come from the
// remediator registry (infra/generated/role.json, written by `python -m warden.generate role`): each kind's
// read action, the write action of each check enabled for revert, nothing else. No wildcard, no listKeys.
targetScope = 'subscription'

@description('Distinguishes the role of one environment from another in the same tenant.')
param roleKey string

@description('Actions of the role (generated).')
param actions array

param roleDescription string = 'Driftwarden remediator'

@description('Principal of the bot identity.')
param principalId string

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'driftwarden-remediator', roleKey)
  properties: {
    // Role names are unique in the tenant: the subscription id keeps two subscriptions apart.
    roleName: 'Driftwarden remediator (${roleKey}, ${subscription().subscriptionId})'
    description: roleDescription
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, role.id)
  properties: {
    roleDefinitionId: role.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Driftwarden: read AI resources, revert security drift'
  }
}

output roleDefinitionId string = role.id
output roleAssignmentId string = assignment.id
