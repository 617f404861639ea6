/**
 * AWS secrets: one Secrets Manager secret per platform secret, named `<stack prefix>/<name the jobs ask for>`
 * (SECRETS_URL = aws-secretsmanager://<region>?prefix=<stack prefix>/), values from encrypted stack config. The
 * prefix carries the environment, so aws-prod and aws-staging can share an account and a region.
 */
import * as secretsmanager from '@pulumi/aws/secretsmanager/index.js';
import * as pulumi from '@pulumi/pulumi';
import { awsSecretsUrl } from '../adapter-urls.ts';
import type { SecretsArgs, SecretsOutputs } from '../components/secrets.ts';

export interface AwsSecretsArgs extends SecretsArgs {
  region: string;
}

export class AwsSecrets extends pulumi.ComponentResource implements SecretsOutputs {
  readonly secretsUrl: pulumi.Output<string>;
  readonly secretRefs: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: AwsSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('ecomm:aws:Secrets', name, {}, opts);
    const child = { parent: this };
    this.secretRefs = {};
    for (const entry of args.secrets) {
      const secret = new secretsmanager.Secret(
        `${name}-${entry.name}`,
        {
          name: `${args.prefix}/${entry.name}`,
          description: entry.description,
          recoveryWindowInDays: 7,
          tags: args.tags,
        },
        child,
      );
      new secretsmanager.SecretVersion(
        `${name}-${entry.name}`,
        {
          secretId: secret.id,
          secretString: pulumi.secret(entry.value),
        },
        child,
      );
      this.secretRefs[entry.name] = secret.arn;
    }
    this.secretsUrl = pulumi.output(awsSecretsUrl(args.region, `${args.prefix}/`));
    this.registerOutputs({ secretsUrl: this.secretsUrl });
  }
}
