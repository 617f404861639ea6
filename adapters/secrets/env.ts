import { SecretNotFoundError, type SecretStore } from './secret-store.ts';

/** Secrets from environment variables (`env://`): the embedded default, and how containers get injected secrets. */
export function openEnvSecrets(url: string, environment: NodeJS.ProcessEnv = process.env): SecretStore {
  return {
    url,
    async get(name: string) {
      const value = environment[name];
      if (value === undefined || value === '') throw new SecretNotFoundError(url, name);
      return value;
    },
  };
}
