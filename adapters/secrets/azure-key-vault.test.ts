import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type KeyVaultSecretReader,
  keyVaultName,
  keyVaultUri,
  openAzureKeyVault,
} from './azure-key-vault.ts';
import { secretStoreContract } from './contract.ts';
import { openSecretStore, SecretNotFoundError } from './index.ts';

/** An in-memory vault answering like SecretClient: 404 RestError for a name it does not hold. */
function fakeVault(secrets: Record<string, string>): KeyVaultSecretReader & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async getSecret(name: string) {
      asked.push(name);
      const value = secrets[name];
      if (value === undefined) {
        throw Object.assign(new Error(`A secret with (name/id) ${name} was not found in this key vault.`), {
          name: 'RestError',
          statusCode: 404,
          code: 'SecretNotFound',
        });
      }
      return { name, value };
    },
  };
}

describe('Azure Key Vault secrets', () => {
  it('looks PII_HASH_KEY up as PII-HASH-KEY, because vault names allow only letters, digits and dashes', async () => {
    const vault = fakeVault({ 'PII-HASH-KEY': 'vault-k3y' });
    const store = openAzureKeyVault('azure-keyvault://ecomm-prod-kv', { client: vault });
    expect(await store.get('PII_HASH_KEY')).toBe('vault-k3y');
    expect(vault.asked).toEqual(['PII-HASH-KEY']);
  });

  it('maps _ to - and refuses names Key Vault cannot hold', () => {
    expect(keyVaultName('WAREHOUSE_ADMIN_PASSWORD')).toBe('WAREHOUSE-ADMIN-PASSWORD');
    expect(keyVaultName('mixed_Case-1')).toBe('mixed-Case-1');
    expect(() => keyVaultName('bad.name')).toThrow(/must be 1-127 letters, digits, _ or -/);
  });

  it('turns a 404 into SecretNotFoundError and asks again next time', async () => {
    const secrets: Record<string, string> = {};
    const store = openAzureKeyVault('azure-keyvault://ecomm-prod-kv', { client: fakeVault(secrets) });
    const error = await store.get('PII_HASH_KEY').catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect((error as Error).message).toBe('secret not found: PII_HASH_KEY in azure-keyvault://ecomm-prod-kv');
    secrets['PII-HASH-KEY'] = 'arrived';
    expect(await store.get('PII_HASH_KEY')).toBe('arrived');
  });

  it('caches each value for the process lifetime', async () => {
    const vault = fakeVault({ 'PII-HASH-KEY': 'once' });
    const store = openAzureKeyVault('azure-keyvault://ecomm-prod-kv', { client: vault });
    await Promise.all([store.get('PII_HASH_KEY'), store.get('PII_HASH_KEY')]);
    expect(await store.get('PII_HASH_KEY')).toBe('once');
    expect(vault.asked).toEqual(['PII-HASH-KEY']);
  });

  it('never shows a value in an error or when the store is inspected', async () => {
    const forbidden = Object.assign(new Error('Caller is not authorized to perform action on resource.'), {
      statusCode: 403,
    });
    const store = openAzureKeyVault('azure-keyvault://ecomm-prod-kv', {
      client: {
        async getSecret(name) {
          if (name === 'OTHER') throw forbidden;
          return { value: 'super-secret-value' };
        },
      },
    });
    await store.get('PII_HASH_KEY');
    const error = await store.get('OTHER').catch((caught: Error) => caught);
    expect((error as Error).message).toBe(
      'cannot read secret OTHER from azure-keyvault://ecomm-prod-kv: Caller is not authorized to perform action on resource.',
    );
    expect(inspect(store, { depth: 10, showHidden: true })).not.toContain('super-secret-value');
  });
});

describe('Azure Key Vault URL', () => {
  it('addresses the public cloud by vault name, or any cloud by host name', () => {
    expect(keyVaultUri('azure-keyvault://ecomm-prod-kv')).toBe('https://ecomm-prod-kv.vault.azure.net');
    expect(keyVaultUri('azure-keyvault://ecomm.vault.azure.cn')).toBe('https://ecomm.vault.azure.cn');
  });

  it('is chosen by the factory and refuses names Key Vault would not accept', () => {
    expect(openSecretStore('azure-keyvault://ecomm-prod-kv').url).toBe('azure-keyvault://ecomm-prod-kv');
    expect(() => openSecretStore('azure-keyvault://no_underscores')).toThrow(/is not a Key Vault name/);
    expect(() => openSecretStore('azure-keyvault://ecomm-prod-kv/path')).toThrow(
      /takes no path or parameters/,
    );
  });
});

// Key Vault has no local emulator: the contract runs against a client that answers as SecretClient does (the
// secret under its vault name, a 404 RestError for a name it does not hold).
secretStoreContract('Azure Key Vault (SecretClient-shaped fake)', async () => {
  const secrets: Record<string, string> = {};
  return {
    store: openAzureKeyVault('azure-keyvault://ecomm-test-kv', { client: fakeVault(secrets) }),
    put: async (name, value) => {
      secrets[keyVaultName(name)] = value;
    },
    unique: (base) => base,
  };
});
