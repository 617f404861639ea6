import { inspect } from 'node:util';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openAwsSecretsManager } from './aws-secrets-manager.ts';
import { secretStoreContract } from './contract.ts';
import { openSecretStore, SecretNotFoundError } from './index.ts';

// Runs against moto's Secrets Manager API; fails (not skips) without the local services: `npm run services:up`.
const env = loadServiceEnv();
const credentials = {
  accessKeyId: env.TEST_S3_ACCESS_KEY_ID,
  secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY,
};
const url = `aws-secretsmanager://${env.TEST_S3_REGION}?endpoint=${env.TEST_S3_ENDPOINT}`;
const admin = new SecretsManagerClient({
  region: env.TEST_S3_REGION,
  endpoint: env.TEST_S3_ENDPOINT,
  credentials,
});
const run = Math.random().toString(36).slice(2, 8);
const created: string[] = [];

async function createSecret(name: string, value: string | Uint8Array): Promise<void> {
  await admin.send(
    new CreateSecretCommand(
      typeof value === 'string' ? { Name: name, SecretString: value } : { Name: name, SecretBinary: value },
    ),
  );
  created.push(name);
}

afterAll(async () => {
  for (const name of created) {
    await admin.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  }
  admin.destroy();
});

describe('AWS Secrets Manager secrets (moto)', () => {
  it('returns the SecretString of the secret named as asked', async () => {
    await createSecret(`PII_HASH_KEY_${run}`, 'k3y-value-aws');
    const store = openAwsSecretsManager(url, { credentials });
    expect(await store.get(`PII_HASH_KEY_${run}`)).toBe('k3y-value-aws');
  });

  it('rejects a missing secret with SecretNotFoundError, and asks again next time', async () => {
    const store = openAwsSecretsManager(url, { credentials });
    const name = `LATER_${run}`;
    const missing = await store.get(name).catch((error: Error) => error);
    expect(missing).toBeInstanceOf(SecretNotFoundError);
    expect((missing as Error).message).toBe(`secret not found: ${name} in ${url}`);
    await createSecret(name, 'now-there');
    expect(await store.get(name)).toBe('now-there');
  });

  it('caches a value for the process lifetime, so a rotation never changes keys mid-run', async () => {
    const name = `ROTATED_${run}`;
    await createSecret(name, 'first-value');
    const store = openAwsSecretsManager(url, { credentials });
    expect(await store.get(name)).toBe('first-value');
    await admin.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'second-value' }));
    expect(await store.get(name)).toBe('first-value');
    expect(await openAwsSecretsManager(url, { credentials }).get(name)).toBe('second-value');
  });

  it('refuses a binary secret without printing its bytes, and never shows a value when inspected', async () => {
    const name = `BINARY_${run}`;
    await createSecret(name, Buffer.from('binary-secret-bytes'));
    await createSecret(`TEXT_${run}`, 'inspect-me-not');
    const store = openAwsSecretsManager(url, { credentials });
    const error = await store.get(name).catch((caught: Error) => caught);
    expect((error as Error).message).toBe(
      `secret ${name} in ${url} holds binary data; store it as text (SecretString)`,
    );
    await store.get(`TEXT_${run}`);
    expect(inspect(store, { depth: 10, showHidden: true })).not.toContain('inspect-me-not');
  });
});

describe('AWS Secrets Manager prefix (moto)', () => {
  it('reads <prefix><name>, so environments share an account and a region, and a full ARN as it is', async () => {
    const prefix = `ecomm-staging-${run}/`;
    await createSecret(`${prefix}PII_HASH_KEY`, 'staging-key');
    await createSecret(`PII_HASH_KEY_PLAIN_${run}`, 'unprefixed');
    const store = openAwsSecretsManager(`${url}&prefix=${prefix}`, { credentials });
    expect(await store.get('PII_HASH_KEY')).toBe('staging-key');
    const described = await admin.send(new DescribeSecretCommand({ SecretId: `PII_HASH_KEY_PLAIN_${run}` }));
    expect(await store.get(described.ARN as string)).toBe('unprefixed');
    const missing = await store.get('SOURCE_PASSWORD').catch((error: Error) => error);
    expect((missing as Error).message).toBe(`secret not found: SOURCE_PASSWORD in ${url}&prefix=${prefix}`);
  });

  it('refuses a prefix Secrets Manager names cannot hold', () => {
    expect(() => openSecretStore('aws-secretsmanager://eu-west-1?prefix=a b')).toThrow(
      /prefix "a b" may hold only/,
    );
  });
});

describe('AWS Secrets Manager URL', () => {
  it('is chosen by the factory for aws-secretsmanager://<region>', () => {
    expect(openSecretStore('aws-secretsmanager://eu-west-1').url).toBe('aws-secretsmanager://eu-west-1');
  });

  it('refuses a URL without a region or with unknown parameters', () => {
    expect(() => openSecretStore('aws-secretsmanager://')).toThrow(/must name a region/);
    expect(() => openSecretStore('aws-secretsmanager://eu-west-1?profile=x')).toThrow(
      /unknown URL parameter\(s\) profile/,
    );
  });

  it('wraps other failures with the secret name and the reason only', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform GetSecretValue'), {
      name: 'AccessDeniedException',
    });
    const store = openAwsSecretsManager('aws-secretsmanager://eu-west-1', {
      client: { send: async () => Promise.reject(denied) } as never,
    });
    await expect(store.get('PII_HASH_KEY')).rejects.toThrow(
      'cannot read secret PII_HASH_KEY from aws-secretsmanager://eu-west-1: AccessDeniedException: ' +
        'User is not authorized to perform GetSecretValue',
    );
  });
});

secretStoreContract('AWS Secrets Manager (moto)', async () => ({
  store: openAwsSecretsManager(url, { credentials }),
  put: (name, value) => createSecret(name, value),
  unique: (base) => `${base}_${run}_${Math.random().toString(36).slice(2, 6)}`,
}));
