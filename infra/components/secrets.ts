/** Secrets capability: the store SECRETS_URL points at, holding the platform's secrets by name. */
import type * as pulumi from '@pulumi/pulumi';
import type { SecretSpec } from '../spec.ts';
import { loginPassword } from '../warehouse-logins.ts';

export interface SecretValue {
  name: string;
  description: string;
  value: pulumi.Output<string>;
}

export interface SecretsArgs {
  prefix: string;
  secrets: SecretValue[];
  tags: Record<string, string>;
}

export interface SecretsOutputs {
  /** SECRETS_URL: `aws-secretsmanager://<region>` or `azure-keyvault://<vault>`. */
  readonly secretsUrl: pulumi.Output<string>;
  /** Cloud reference (ARN or Key Vault secret ID) per secret name, for grants. */
  readonly secretRefs: Record<string, pulumi.Output<string>>;
}

/**
 * Secret values from encrypted stack config, keyed by platform secret name, plus WAREHOUSE_LOGIN_KEY, the key the
 * warehouse logins' passwords are derived from.
 */
export type ConfigSecretValues = Partial<Record<string, pulumi.Output<string>>>;

/** The ConfigSecretValues entry holding warehouseLoginKey (not itself a platform secret: no job reads it). */
export const WAREHOUSE_LOGIN_KEY = 'WAREHOUSE_LOGIN_KEY';

/**
 * The value of each spec secret the stack supplies: from config, or for a login's password derived from
 * warehouseLoginKey; throws naming a missing one.
 */
export function configSecretsFor(
  specSecrets: Pick<SecretSpec, 'name' | 'description' | 'source' | 'login'>[],
  values: ConfigSecretValues,
  include: (secret: Pick<SecretSpec, 'source'>) => boolean,
): SecretValue[] {
  return specSecrets.filter(include).map((secret) => {
    const value = secret.login === undefined ? values[secret.name] : loginPasswordOf(secret.login, values);
    if (value === undefined) throw new Error(`no value for secret ${secret.name} in the stack config`);
    return { name: secret.name, description: secret.description, value };
  });
}

function loginPasswordOf(login: string, values: ConfigSecretValues): pulumi.Output<string> | undefined {
  const key = values[WAREHOUSE_LOGIN_KEY];
  return key?.apply((k) => loginPassword(k, login));
}
