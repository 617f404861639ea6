/** Secrets capability: the store SECRETS_URL points at, holding the platform's secrets by name. */
import type * as pulumi from '@pulumi/pulumi';

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

/** Secret values from encrypted stack config, keyed by platform secret name. */
export type ConfigSecretValues = Partial<Record<string, pulumi.Output<string>>>;

/** The value of each spec secret the stack supplies from config; throws naming a missing one. */
export function configSecretsFor(
  specSecrets: { name: string; description: string; source: 'config' | 'warehouse' }[],
  values: ConfigSecretValues,
  include: (secret: { source: 'config' | 'warehouse' }) => boolean,
): SecretValue[] {
  return specSecrets.filter(include).map((secret) => {
    const value = values[secret.name];
    if (value === undefined) throw new Error(`no value for secret ${secret.name} in the stack config`);
    return { name: secret.name, description: secret.description, value };
  });
}
