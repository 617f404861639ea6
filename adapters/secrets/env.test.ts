import { describe, expect, it } from 'vitest';
import { secretStoreContract } from './contract.ts';
import { openEnvSecrets } from './env.ts';
import { openSecretStore, SecretNotFoundError } from './index.ts';

describe('environment secrets', () => {
  it('returns a set variable', async () => {
    expect(await openEnvSecrets('env://', { PII_HASH_KEY: 's3cr3t' }).get('PII_HASH_KEY')).toBe('s3cr3t');
  });

  it('rejects a missing or empty secret with its name and never a value', async () => {
    const store = openEnvSecrets('env://', { EMPTY: '' });
    await expect(store.get('MISSING')).rejects.toBeInstanceOf(SecretNotFoundError);
    await expect(store.get('EMPTY')).rejects.toThrow('secret not found: EMPTY in env://');
  });

  it('names SECRETS_URL for an unknown scheme', () => {
    expect(() => openSecretStore('vault://x')).toThrow(/SECRETS_URL: unsupported URL/);
  });
});

secretStoreContract('environment variables', async () => {
  const environment: Record<string, string> = {};
  return {
    store: openEnvSecrets('env://', environment),
    put: async (name, value) => {
      environment[name] = value;
    },
    unique: (base) => base,
  };
});
