import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { redactSecrets, redactUrl } from './redact.ts';
import { openSecretStore } from './secrets/index.ts';
import { openAzureBlobStore } from './storage/azure-blob.ts';
import { openObjectStore } from './storage/index.ts';
import { openEventStream } from './stream/index.ts';
import { explainKafkaError, kafkaClientConfig } from './stream/kafka.ts';
import { openSqlDatabase } from './warehouse/index.ts';
import { openPostgres } from './warehouse/postgres.ts';

// Fails (not skips) without the local services: `npm run services:up`.
const services = loadServiceEnv();

/** The error a call throws or rejects with: the test reads its whole message. */
async function errorOf(work: () => unknown): Promise<Error> {
  try {
    await work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

/** Every text a person may see of an error: its message, its stack and its causes' messages. */
function allTextOf(error: Error): string {
  const texts: string[] = [];
  for (let cause: unknown = error; cause instanceof Error && texts.length < 20; cause = cause.cause)
    texts.push(cause.message, String(cause.stack));
  return texts.join('\n');
}

describe('redactUrl', () => {
  it.each([
    ['a plain password', 'postgres://etl:hunter2@db/dw', 'postgres://etl:***@db/dw'],
    ['a raw @ in the password', 'postgres://etl:hun@ter2@db/dw', 'postgres://etl:***@db/dw'],
    ['a raw / in the password', 'postgres://etl:hun/ter2@db:5432/dw', 'postgres://etl:***@db:5432/dw'],
    ['raw @, / and ? together', 'postgres://etl:a/b?c@d@db/dw', 'postgres://etl:***@db/dw'],
    ['a raw space in the password', 'postgres://etl:hun ter2@db/dw', 'postgres://etl:***@db/dw'],
    ['a percent-encoded password', 'postgres://etl:hun%40ter%2F2@db/dw', 'postgres://etl:***@db/dw'],
    ['an empty user name', 'redis://:hunter2@cache:6379', 'redis://:***@cache:6379'],
    [
      '?password=',
      'postgres://etl@db/dw?password=hunter2&sslmode=require',
      'postgres://etl@db/dw?password=***&sslmode=require',
    ],
    [
      '&password= with a raw & in it, last',
      'postgres://etl@db/dw?sslmode=require&password=hun&ter2',
      'postgres://etl@db/dw?sslmode=require&password=***',
    ],
    [
      'a SAS signature',
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=abc%2Bdef%3D&se=2026-01-01',
      'https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=***&se=2026-01-01',
    ],
    [
      'a presigned S3 URL',
      'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=f00d&X-Amz-Security-Token=tok',
      'https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***',
    ],
    [
      'an Azure storage connection string',
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vd/02x+N==;EndpointSuffix=core.windows.net',
      'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net',
    ],
    [
      'an Event Hubs connection string',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=k3y=',
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=***',
    ],
    [
      'a SAS connection string',
      'BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2022&sig=abc',
      'BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=***',
    ],
  ])('hides %s', (_case, url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('keeps what is not a secret: hosts, ports, databases, secret names, plain paths', () => {
    for (const url of [
      'postgres://etl@db.internal:5432/dw?sslmode=require&passwordSecret=warehouse-password',
      'kafka://b-1.msk:9098?auth=eventhubs&connectionStringEnv=EVENTHUBS_CONNECTION_STRING',
      's3://lake-bucket/prefix?endpoint=http://127.0.0.1:5000&region=us-east-1',
      'file://./data/lake',
      'http://127.0.0.1:8080/status',
    ])
      expect(redactUrl(url)).toBe(url);
  });
});

describe('redactSecrets over whole messages', () => {
  it('hides each URL and field in a sentence, whatever surrounds it', () => {
    const message =
      'WAREHOUSE_URL postgres://etl:hun@ter/2@db/dw: failed; tried "mysql://root:toor@old/x" and ' +
      'https://acct.blob.core.windows.net/c/k?sv=1&sig=s1gn (AccountKey=abc==;) password=pw1';
    const shown = redactSecrets(message);
    for (const secret of ['hun@ter/2', 'ter/2', 'toor', 's1gn', 'abc==', 'pw1'])
      expect(shown).not.toContain(secret);
    expect(shown).toBe(
      'WAREHOUSE_URL postgres://etl:***@db/dw: failed; tried "mysql://root:***@old/x" and ' +
        'https://acct.blob.core.windows.net/c/k?sv=1&sig=*** (AccountKey=***;) password=***',
    );
  });
});

describe('no secret in the errors the adapters throw', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('warehouse: ?password= named as an unknown parameter, the value hidden', async () => {
    const error = await errorOf(() =>
      openSqlDatabase('WAREHOUSE_URL', 'postgres://etl@db.internal/dw?password=hunter2'),
    );
    expect(error.message).toBe(
      'WAREHOUSE_URL: unknown URL parameter(s) password in "postgres://etl@db.internal/dw?password=***"',
    );
  });

  it('warehouse: a raw / in the password (the URL cannot be parsed) is not printed', async () => {
    const error = await errorOf(() => openSqlDatabase('SOURCE_URL', 'postgres://etl:se/cr3t@db.internal/dw'));
    expect(error.message).toBe('SOURCE_URL: cannot parse "postgres://etl:***@db.internal/dw" as a URL');
  });

  it('warehouse: a raw @ in the password, refused by the real server: no part of it in the error', async () => {
    const url = new URL(services.TEST_PG_URL);
    const raw = `postgres://${url.username}:wr0ng@pa55@${url.host}${url.pathname}`;
    const error = await errorOf(() => openPostgres(raw, { setting: 'WAREHOUSE_URL', connectAttempts: 1 }));
    expect(error.message).toMatch(/^WAREHOUSE_URL postgres:\/\/\w+:\*\*\*@/);
    expect(allTextOf(error)).not.toMatch(/wr0ng|pa55/);
  });

  it('warehouse: a percent-encoded password, on an unreachable server: the whole message', async () => {
    const error = await errorOf(() =>
      openPostgres('postgres://etl:p%40ss%2Fw0rd@127.0.0.1:1/dw', {
        setting: 'WAREHOUSE_URL',
        connectAttempts: 1,
      }),
    );
    expect(error.message).toBe(
      'WAREHOUSE_URL postgres://etl:***@127.0.0.1:1/dw: cannot connect after 1 attempt (ECONNREFUSED)',
    );
  });

  it('stream: user-info with raw @ and / in a Kafka URL', async () => {
    const error = await errorOf(() => openEventStream('kafka://user:p@ss/w0rd@broker:9092?password=x1'));
    expect(error.message).toBe(
      'STREAM_URL kafka://***@broker:9092?password=***: expected kafka://host[:port][,host[:port]…][?auth=…]',
    );
  });

  it('stream: an Event Hubs connection string a broker error repeats is hidden', () => {
    const connectionString =
      'Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k3y=';
    const url = 'kafka://ns.servicebus.windows.net:9093?auth=eventhubs';
    const config = kafkaClientConfig(url, { EVENTHUBS_CONNECTION_STRING: connectionString });
    const sasl = Object.assign(new Error(`SASL PLAIN authentication failed for ${connectionString}`), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    const error = explainKafkaError(url, config, sasl);
    expect(error.message).toBe(
      'STREAM_URL kafka://ns.servicebus.windows.net:9093?auth=eventhubs: the broker refused auth=eventhubs (plain): ' +
        'SASL PLAIN authentication failed for Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=***',
    );
  });

  it('lake: an Azure SAS connection string, the endpoint down: the signature is not in the error', async () => {
    const store = openAzureBlobStore('az://devstoreaccount1/lake?attempts=1', {
      AZURE_STORAGE_CONNECTION_STRING:
        'BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;SharedAccessSignature=sv=2022-11-02&ss=b&sig=S1GNATURE',
    });
    const error = await errorOf(() => store.get('raw/x.json'));
    expect(error.message).toMatch(
      /^LAKE_URL az:\/\/devstoreaccount1\/lake: cannot reach http:\/\/127\.0\.0\.1:1/,
    );
    expect(allTextOf(error)).not.toContain('S1GNATURE');
  });

  it('lake: an Azure account key refused by Azurite: the key is not in the error', async () => {
    const wrongKey = Buffer.from('not-the-account-key-at-all-0123456789').toString('base64');
    const store = openAzureBlobStore(
      `az://${services.TEST_AZURE_STORAGE_ACCOUNT}/lake?attempts=1&endpoint=${services.TEST_AZURITE_BLOB_URL}`,
      {
        AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${services.TEST_AZURE_STORAGE_ACCOUNT};AccountKey=${wrongKey}`,
      },
    );
    const error = await errorOf(() => store.get('raw/x.json'));
    expect(error.message).toMatch(/authentication failed|not authorized/);
    expect(allTextOf(error)).not.toContain(wrongKey);
  });

  it('lake: an S3 secret key refused by the server: the key is not in the error', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', services.TEST_S3_ACCESS_KEY_ID);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wr0ng-s3cret-access-key-value');
    const store = openObjectStore(
      `s3://redact-test/x?endpoint=${services.TEST_S3_ENDPOINT}&region=${services.TEST_S3_REGION}&forcePathStyle=true&attempts=1`,
    );
    const error = await errorOf(() => store.put('k.txt', 'x'));
    expect(error.message).toMatch(/^LAKE_URL s3:\/\/redact-test\/x: /);
    expect(allTextOf(error)).not.toContain('wr0ng-s3cret-access-key-value');
  });

  it('secrets: a secret store URL with a password and a token', async () => {
    const error = await errorOf(() =>
      openSecretStore('aws-secretsmanager://eu-west-1?endpoint=http://u:pw1@moto:5000&token=t0k'),
    );
    expect(error.message).toBe(
      'SECRETS_URL: unknown URL parameter(s) token in "aws-secretsmanager://eu-west-1?endpoint=http://u:***@moto:5000&token=***"',
    );
  });
});
