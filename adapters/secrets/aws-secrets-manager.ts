import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { redactSecrets, redactUrl } from '../redact.ts';
import { SecretNotFoundError, type SecretStore } from './secret-store.ts';

const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

export interface AwsSecretsOptions {
  /** Credentials for tests; by default the SDK's chain (the job's task role on AWS). */
  credentials?: SecretsManagerClientConfig['credentials'];
  /** A client to use instead of one built from the URL. */
  client?: Pick<SecretsManagerClient, 'send'>;
}

/**
 * AWS Secrets Manager (`aws-secretsmanager://<region>`, `?endpoint=<url>` for an emulator such as moto): the
 * secret named as the job asks (`PII_HASH_KEY`) after the URL's `?prefix=` (`ecomm-staging/`, so environments can
 * share an account and a region), its SecretString; a full ARN is read as it is. Values are cached for the process
 * lifetime: a job runs minutes, and a rotated key must not change mid-run anyway (hashes would stop joining).
 */
export function openAwsSecretsManager(url: string, options: AwsSecretsOptions = {}): SecretStore {
  const display = redactUrl(url);
  if (!URL.canParse(url)) throw new Error(`SECRETS_URL: cannot parse "${display}" as a URL`);
  const parsed = new URL(url);
  const region = parsed.hostname;
  if (!AWS_REGION.test(region)) {
    throw new Error(
      `SECRETS_URL: "${display}" must name a region: aws-secretsmanager://<region>, e.g. eu-west-1`,
    );
  }
  const unknown = [...parsed.searchParams.keys()].filter((key) => key !== 'endpoint' && key !== 'prefix');
  if (unknown.length > 0)
    throw new Error(`SECRETS_URL: unknown URL parameter(s) ${unknown.join(', ')} in "${display}"`);
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  const prefix = parsed.searchParams.get('prefix') ?? '';
  if (!/^[A-Za-z0-9/_+=.@-]{0,256}$/.test(prefix))
    throw new Error(
      `SECRETS_URL: prefix "${prefix}" may hold only letters, digits and /_+=.@- (Secrets Manager names)`,
    );
  const secretId = (name: string) => (name.startsWith('arn:') ? name : `${prefix}${name}`);
  let client = options.client;
  const cache = new Map<string, Promise<string>>();
  async function read(name: string): Promise<string> {
    let text: string | undefined;
    try {
      // Loaded on first use: the SDK costs start-up time that embedded runs and --help should not pay.
      const sdk = await import('@aws-sdk/client-secrets-manager');
      client ??= new sdk.SecretsManagerClient({
        region,
        endpoint,
        credentials: options.credentials,
        maxAttempts: 4,
      });
      text = (await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId(name) }))).SecretString;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') throw new SecretNotFoundError(url, name);
      // AWS error messages name the secret and the reason (AccessDenied, a KMS problem), never its value.
      const { name: kind, message } = error as Error;
      throw new Error(`cannot read secret ${name} from ${display}: ${kind}: ${redactSecrets(message)}`, {
        cause: error,
      });
    }
    if (text === undefined)
      throw new Error(`secret ${name} in ${display} holds binary data; store it as text (SecretString)`);
    if (text === '') throw new SecretNotFoundError(url, name);
    return text;
  }
  return {
    url,
    get(name: string) {
      let value = cache.get(name);
      if (value === undefined) {
        value = read(name);
        cache.set(name, value);
        // A failure is not cached: the next get asks again.
        value.catch(() => cache.delete(name));
      }
      return value;
    },
  };
}
