/**
 * Resource naming shared by both clouds. Names are deterministic (no random suffixes) so a stack
 * can be rebuilt from its config alone; globally unique Azure names get a short hash of a seed
 * that includes the subscription, so two organisations deploying this repo never collide.
 */
import { createHash } from 'node:crypto';

/** `ecomm-prod` style prefix every resource name starts with. */
export function namePrefix(environment: string): string {
  return `ecomm-${environment}`;
}

/** Joins a prefix and parts with dashes: `ecomm-prod-lake`. */
export function resourceName(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].filter((part) => part !== '').join('-');
}

/** Six hex characters derived from the seed: stable across runs, different across seeds. */
export function shortHash(seed: string): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, 6);
}

/**
 * A name for services that allow only lowercase letters and digits (Azure storage accounts,
 * container registries): the prefix without dashes, then the hash, cut to fit maxLength.
 */
export function compactUniqueName(prefix: string, part: string, seed: string, maxLength: number): string {
  const hash = shortHash(seed);
  const stem = `${prefix}${part}`.toLowerCase().replace(/[^a-z0-9]/g, '');
  return `${stem.slice(0, maxLength - hash.length)}${hash}`;
}

/** A dashed name with a hash suffix, for globally unique DNS names that allow dashes (Key Vault, Event Hubs, PostgreSQL). */
export function dashedUniqueName(prefix: string, part: string, seed: string, maxLength: number): string {
  const hash = shortHash(seed);
  const stem = resourceName(prefix, part)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '');
  return `${stem.slice(0, maxLength - hash.length - 1)}-${hash}`;
}

/**
 * Key Vault secret names allow only letters, digits and dashes, so the platform's secret names (PII_HASH_KEY, the
 * names the jobs ask the secret store for) are stored with dashes: the mapping the Key Vault secrets adapter looks
 * them up with, the one function both use.
 */
export { keyVaultName as keyVaultSecretName } from '../adapters/secrets/azure-key-vault.ts';

/** The platform secret name a Key Vault secret name stands for (inverse of keyVaultSecretName). */
export function platformSecretName(vaultName: string): string {
  return vaultName.replace(/-/g, '_').toUpperCase();
}
