import { pickFactory } from '../url.ts';
import { openAwsSecretsManager } from './aws-secrets-manager.ts';
import { openAzureKeyVault } from './azure-key-vault.ts';
import { openEnvSecrets } from './env.ts';
import type { SecretStore } from './secret-store.ts';

export type { SecretStore } from './secret-store.ts';
export { SecretNotFoundError } from './secret-store.ts';

const SECRET_FACTORIES: Record<
  'env' | 'aws-secretsmanager' | 'azure-keyvault',
  (url: string) => SecretStore
> = {
  env: (url) => openEnvSecrets(url),
  'aws-secretsmanager': (url) => openAwsSecretsManager(url),
  'azure-keyvault': (url) => openAzureKeyVault(url),
};

/** The secret store named by SECRETS_URL. */
export function openSecretStore(url: string): SecretStore {
  return pickFactory('SECRETS_URL', url, SECRET_FACTORIES)(url);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const SECRETS_SCHEMES = Object.keys(SECRET_FACTORIES);
