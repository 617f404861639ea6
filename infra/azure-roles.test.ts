import { describe, expect, it } from 'vitest';
import { isKeyVaultSecretScope, isSingleResourceScope, roleDefinitionId } from './azure-roles.ts';

describe('Azure roles', () => {
  it('builds subscription-level role definition IDs for built-in roles', () => {
    expect(roleDefinitionId('sub-1', 'acrPull')).toBe(
      '/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d',
    );
  });

  it('accepts one resource as a scope and refuses groups, subscriptions and children', () => {
    const account = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake';
    expect(isSingleResourceScope(account)).toBe(true);
    expect(isSingleResourceScope('/subscriptions/s/resourceGroups/rg')).toBe(false);
    expect(isSingleResourceScope('/subscriptions/s')).toBe(false);
    expect(isSingleResourceScope(`${account}/blobServices/default`)).toBe(false);
  });

  it('accepts one Key Vault secret as a scope, not the vault or anything else', () => {
    const vault = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv';
    expect(isKeyVaultSecretScope(`${vault}/secrets/WAREHOUSE-PASSWORD`)).toBe(true);
    expect(isKeyVaultSecretScope(vault)).toBe(false);
    expect(isKeyVaultSecretScope(`${vault}/secrets`)).toBe(false);
    expect(isKeyVaultSecretScope(`${vault}/keys/k`)).toBe(false);
    expect(
      isKeyVaultSecretScope(
        '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/secrets/x',
      ),
    ).toBe(false);
  });
});
