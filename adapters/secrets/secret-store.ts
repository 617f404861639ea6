import { redactUrl } from '../redact.ts';

/** Where credentials come from: environment, AWS Secrets Manager or Azure Key Vault. */
export interface SecretStore {
  readonly url: string;
  /** The secret's value; rejects with SecretNotFoundError (which never carries a value). */
  get(name: string): Promise<string>;
}

export class SecretNotFoundError extends Error {
  constructor(storeUrl: string, name: string) {
    super(`secret not found: ${name} in ${redactUrl(storeUrl)}`);
    this.name = 'SecretNotFoundError';
  }
}
