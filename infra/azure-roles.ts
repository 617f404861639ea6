/**
 * Built-in Azure role definitions the platform's managed identities receive, each assigned on one
 * resource (never a resource group or subscription), Key Vault Secrets User on one secret. GUIDs are
 * Azure's fixed built-in role IDs.
 */

export const AZURE_ROLES = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975',
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
} as const;

export type AzureRole = keyof typeof AZURE_ROLES;

export function roleDefinitionId(subscriptionId: string, role: AzureRole): string {
  return `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${AZURE_ROLES[role]}`;
}

/**
 * True when the scope is a single resource (`.../providers/<namespace>/<type>/<name>`), not a
 * subscription, resource group, or a child of a resource.
 */
export function isSingleResourceScope(scope: string): boolean {
  return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i.test(scope);
}

/** True when the scope is one Key Vault secret (`.../vaults/<vault>/secrets/<name>`), not the vault. */
export function isKeyVaultSecretScope(scope: string): boolean {
  return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+\/secrets\/[^/]+$/i.test(
    scope,
  );
}

/** True when the scope is one blob container (`.../storageAccounts/<account>/blobServices/default/containers/<name>`). */
export function isBlobContainerScope(scope: string): boolean {
  return /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+\/blobServices\/default\/containers\/[^/]+$/i.test(
    scope,
  );
}
