import { describe, expect, it } from 'vitest';
import {
  compactUniqueName,
  dashedUniqueName,
  keyVaultSecretName,
  namePrefix,
  platformSecretName,
  resourceName,
  shortHash,
} from './naming.ts';

describe('naming', () => {
  it('builds dashed names from the environment prefix', () => {
    expect(resourceName(namePrefix('prod'), 'lake')).toBe('ecomm-prod-lake');
    expect(resourceName('ecomm-dev', 'job', 'extract')).toBe('ecomm-dev-job-extract');
  });

  it('derives the same short hash from the same seed and a different one from another seed', () => {
    expect(shortHash('a')).toBe(shortHash('a'));
    expect(shortHash('a')).not.toBe(shortHash('b'));
    expect(shortHash('a')).toMatch(/^[0-9a-f]{6}$/);
  });

  it('fits storage account names into 24 lowercase letters and digits', () => {
    const name = compactUniqueName('ecomm-production', 'lake', 'sub/stack', 24);
    expect(name).toMatch(/^[a-z0-9]{3,24}$/);
    expect(name.endsWith(shortHash('sub/stack'))).toBe(true);
  });

  it('keeps dashed unique names within their limit and ending with the hash', () => {
    const name = dashedUniqueName('ecomm-production-europe', 'secrets', 'seed', 24);
    expect(name.length).toBeLessThanOrEqual(24);
    expect(name).toMatch(/^[a-z0-9-]+-[0-9a-f]{6}$/);
  });

  it('maps platform secret names to Key Vault names and back', () => {
    expect(keyVaultSecretName('PII_HASH_KEY')).toBe('PII-HASH-KEY');
    expect(platformSecretName('PII-HASH-KEY')).toBe('PII_HASH_KEY');
    expect(() => keyVaultSecretName('bad name')).toThrow(/letters, digits/);
  });
});
