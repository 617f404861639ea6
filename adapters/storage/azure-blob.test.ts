import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { openAzureBlobStore } from './azure-blob.ts';
import { LakeStoreError } from './cloud-url.ts';
import { objectStoreContract } from './contract.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { openObjectStore } from './index.ts';

// Fails (does not skip) with "run npm run services:up" when the test services are not running.
const services = loadServiceEnv();
const account = services.TEST_AZURE_STORAGE_ACCOUNT;
const connectionString = services.TEST_AZURE_STORAGE_CONNECTION_STRING;
const container = `lake-test-${randomUUID().slice(0, 8)}`;
const admin = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container);
/** The connection string aimed at another blob endpoint (a proxy, a dead port), same account and key. */
const connectionVia = (blobEndpoint: string) =>
  connectionString.replace(/BlobEndpoint=[^;]*/, `BlobEndpoint=${blobEndpoint}`);

beforeAll(async () => {
  vi.stubEnv('AZURE_STORAGE_CONNECTION_STRING', connectionString);
  await admin.create();
});

afterAll(async () => {
  await admin.delete();
  vi.unstubAllEnvs();
});

objectStoreContract('Azure Blob (Azurite)', async ({ pageSize }) =>
  openObjectStore(`az://${account}/${container}/contract?pageSize=${pageSize}`),
);

describe('Azure Blob store', () => {
  it('locates keys as blob URLs and keeps prefixes apart', async () => {
    const left = openAzureBlobStore(`az://${account}/${container}/left/side`);
    const right = openAzureBlobStore(`az://${account}/${container}/right`);
    expect(left.locate('raw/a b.csv')).toBe(
      `${services.TEST_AZURITE_BLOB_URL}/${container}/left/side/raw/a%20b.csv`,
    );
    await left.put('raw/a.csv', 'left');
    await right.put('raw/a.csv', 'right');
    const listed: string[] = [];
    for await (const info of left.list('')) listed.push(info.key);
    expect(listed).toEqual(['raw/a.csv']);
    await Promise.all([left.close(), right.close()]);
  });

  it('locates keys on the public endpoint when no connection string is set', () => {
    const store = openAzureBlobStore('az://lakeaccount/lake/zone', {});
    expect(store.locate('raw/a.csv')).toBe('https://lakeaccount.blob.core.windows.net/lake/zone/raw/a.csv');
  });

  it('names LAKE_URL and the container when the container does not exist, for every operation', async () => {
    const store = openAzureBlobStore(`az://${account}/wrong-${container}/lake`);
    const expected =
      `LAKE_URL az://${account}/wrong-${container}/lake: container "wrong-${container}" does not exist in ` +
      `storage account "${account}" (Azure ContainerNotFound)`;
    await expect(store.put('a', 'x')).rejects.toThrow(expected);
    await expect(store.get('a')).rejects.toThrow(expected);
    await expect(store.head('a')).rejects.toThrow(expected);
    await expect(store.delete('a')).rejects.toThrow(expected);
    await expect((async () => store.list('')[Symbol.asyncIterator]().next())()).rejects.toThrow(expected);
  });

  it('says authentication failed, after one request, for a wrong account key, and never prints a key', async () => {
    const wrongKey = Buffer.from('definitely-not-the-account-key').toString('base64');
    const env = {
      AZURE_STORAGE_CONNECTION_STRING: connectionString.replace(/AccountKey=[^;]*/, `AccountKey=${wrongKey}`),
    };
    const proxy = await startFaultProxy(services.TEST_AZURITE_BLOB_URL, () => undefined);
    const store = openAzureBlobStore(`az://${account}/${container}?endpoint=${proxy.url}`, env);
    const error = await store.get('a').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as Error).message).toBe(
      `LAKE_URL az://${account}/${container}: authentication failed (AuthorizationFailure, HTTP 403); ` +
        'check AZURE_STORAGE_CONNECTION_STRING or the managed identity',
    );
    expect(proxy.requests).toHaveLength(1);
    const printed = inspect(error, { depth: 10 });
    expect(printed).not.toContain(wrongKey);
    expect(printed).not.toContain(services.TEST_AZURE_STORAGE_KEY);
    await proxy.close();
  });

  it('without a connection string, uses the managed identity and says what to check when there is none', async () => {
    // DefaultAzureCredential finds no identity here (no Azure VM, no az login), or, where it does, the dead port
    // answers: either way a clear message naming LAKE_URL, quickly.
    const store = openAzureBlobStore(
      'az://someaccount/lake?endpoint=https://127.0.0.1:1/someaccount&retryDelayMs=1',
      {},
    );
    await expect(store.head('a')).rejects.toThrow(
      /^LAKE_URL az:\/\/someaccount\/lake: (authentication failed \(\w+\); check AZURE_STORAGE_CONNECTION_STRING or the managed identity|cannot reach https:\/\/127\.0\.0\.1:1 after 4 attempts)/,
    );
  });

  it('refuses a connection string for another account', () => {
    expect(() =>
      openAzureBlobStore(`az://otheraccount/${container}`, {
        AZURE_STORAGE_CONNECTION_STRING: connectionString,
      }),
    ).toThrow(
      `LAKE_URL az://otheraccount/${container}: AZURE_STORAGE_CONNECTION_STRING is for storage account "${account}", not "otheraccount"`,
    );
  });

  it('fails with a clear message after bounded retries with backoff when the endpoint refuses', async () => {
    const env = { AZURE_STORAGE_CONNECTION_STRING: connectionVia(`http://127.0.0.1:1/${account}`) };
    const store = openAzureBlobStore(`az://${account}/${container}/lake?retryDelayMs=20`, env);
    const started = performance.now();
    const error = await store.head('a').catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(
      `LAKE_URL az://${account}/${container}/lake: cannot reach http://127.0.0.1:1 after 4 attempts (ECONNREFUSED)`,
    );
    expect(inspect(error, { depth: 10 })).not.toContain(services.TEST_AZURE_STORAGE_KEY);
    // Waits of at least 10 + 20 + 40 ms: half of each exponential step is fixed, the rest is jitter.
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
  });

  it('tries exactly ?attempts= times against a server that drops every connection', async () => {
    const proxy = await startFaultProxy(undefined, () => 'drop');
    const env = { AZURE_STORAGE_CONNECTION_STRING: connectionVia(`${proxy.url}/${account}`) };
    const store = openAzureBlobStore(`az://${account}/${container}?attempts=3&retryDelayMs=1`, env);
    await expect(store.head('a')).rejects.toThrow(
      /cannot reach http:\/\/127\.0\.0\.1:\d+ after 3 attempts \(ECONNRESET\)/,
    );
    expect(proxy.requests).toHaveLength(3);
    await proxy.close();
  });

  it('retries a busy server and a failed block, and the blob arrives whole', async () => {
    let busy = false;
    let blockFailed = false;
    const proxy = await startFaultProxy(services.TEST_AZURITE_BLOB_URL, (request) => {
      if (!busy && request.method === 'HEAD') {
        busy = true;
        return { status: 503, body: '<Error><Code>ServerBusy</Code><Message>busy</Message></Error>' };
      }
      if (!blockFailed && /comp=block(&|$)/.test(request.url ?? '')) {
        blockFailed = true;
        return { status: 500, body: '<Error><Code>InternalError</Code><Message>try again</Message></Error>' };
      }
      return undefined;
    });
    const store = openAzureBlobStore(
      `az://${account}/${container}/retried?endpoint=${proxy.url}&retryDelayMs=1`,
    );
    const body = Buffer.alloc(20 * 1024 * 1024, 'z');
    const info = await store.put('big', body);
    expect(info.size).toBe(body.length);
    expect(proxy.faults).toBe(2);
    const read: Buffer[] = [];
    for await (const chunk of await store.get('big')) read.push(chunk as Buffer);
    expect(Buffer.concat(read).equals(body)).toBe(true);
    await proxy.close();
  });
});
