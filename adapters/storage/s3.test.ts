import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { LakeStoreError } from './cloud-url.ts';
import { objectStoreContract } from './contract.ts';
import { startFaultProxy } from './fault-proxy.ts';
import { openObjectStore } from './index.ts';
import { openS3Store } from './s3.ts';

// Fails (does not skip) with "run npm run services:up" when the test services are not running.
const services = loadServiceEnv();
const bucket = `lake-test-${randomUUID().slice(0, 8)}`;
const endpoint = services.TEST_S3_ENDPOINT;
const query = (extra = '') =>
  `?endpoint=${endpoint}&region=${services.TEST_S3_REGION}&forcePathStyle=true${extra}`;
const admin = new S3Client({
  endpoint,
  region: services.TEST_S3_REGION,
  forcePathStyle: true,
  credentials: {
    accessKeyId: services.TEST_S3_ACCESS_KEY_ID,
    secretAccessKey: services.TEST_S3_SECRET_ACCESS_KEY,
  },
});

beforeAll(async () => {
  // The store reads credentials through the AWS default provider chain, as it does on ECS.
  vi.stubEnv('AWS_ACCESS_KEY_ID', services.TEST_S3_ACCESS_KEY_ID);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', services.TEST_S3_SECRET_ACCESS_KEY);
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  for await (const page of paginateListObjectsV2({ client: admin }, { Bucket: bucket }))
    for (const item of page.Contents ?? [])
      await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: item.Key }));
  await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
  admin.destroy();
  vi.unstubAllEnvs();
});

objectStoreContract('S3 (moto)', async ({ pageSize }) =>
  openObjectStore(`s3://${bucket}/contract${query(`&pageSize=${pageSize}`)}`),
);

describe('S3 store', () => {
  it('locates keys as s3://bucket/prefix/key and keeps prefixes apart', async () => {
    const left = openS3Store(`s3://${bucket}/left/side${query()}`);
    const right = openS3Store(`s3://${bucket}/right${query()}`);
    expect(left.locate('raw/a.csv')).toBe(`s3://${bucket}/left/side/raw/a.csv`);
    await left.put('raw/a.csv', 'left');
    await right.put('raw/a.csv', 'right');
    const listed: string[] = [];
    for await (const info of left.list('')) listed.push(info.key);
    expect(listed).toEqual(['raw/a.csv']);
    await Promise.all([left.close(), right.close()]);
  });

  it('names LAKE_URL and the bucket when the bucket does not exist, for every operation', async () => {
    const store = openS3Store(`s3://wrong-bucket-${bucket}/lake${query()}`);
    const expected = `LAKE_URL s3://wrong-bucket-${bucket}/lake: bucket "wrong-bucket-${bucket}" does not exist (S3 NoSuchBucket)`;
    await expect(store.put('a', 'x')).rejects.toThrow(expected);
    await expect(store.get('a')).rejects.toThrow(expected);
    await expect(store.head('a')).rejects.toThrow(expected);
    await expect(store.delete('a')).rejects.toThrow(expected);
    await expect((async () => store.list('')[Symbol.asyncIterator]().next())()).rejects.toThrow(expected);
    await store.close();
  });

  it('does not retry an answer that will not change: one request for a missing bucket', async () => {
    const proxy = await startFaultProxy(endpoint, () => undefined);
    const store = openS3Store(
      `s3://missing-${bucket}?endpoint=${proxy.url}&region=us-east-1&forcePathStyle=true`,
    );
    await expect(store.get('a')).rejects.toThrow(/does not exist \(S3 NoSuchBucket\)/);
    expect(proxy.requests).toHaveLength(1);
    await store.close();
    await proxy.close();
  });

  it('fails with a clear message after bounded retries with backoff when the endpoint refuses', async () => {
    const store = openS3Store(
      `s3://${bucket}/lake?endpoint=http://127.0.0.1:1&region=us-east-1&forcePathStyle=true&retryDelayMs=20`,
    );
    const started = performance.now();
    const error = await store.get('a').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LakeStoreError);
    expect((error as Error).message).toBe(
      `LAKE_URL s3://${bucket}/lake: cannot reach http://127.0.0.1:1 after 4 attempts (ECONNREFUSED)`,
    );
    // Waits of at least 10 + 20 + 40 ms: half of each exponential step is fixed, the rest is jitter.
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
    await store.close();
  });

  it('tries exactly ?attempts= times against a server that drops every connection', async () => {
    const proxy = await startFaultProxy(undefined, () => 'drop');
    const store = openS3Store(
      `s3://${bucket}?endpoint=${proxy.url}&region=us-east-1&forcePathStyle=true&attempts=3&retryDelayMs=1`,
    );
    await expect(store.head('a')).rejects.toThrow(
      /cannot reach http:\/\/127\.0\.0\.1:\d+ after 3 attempts \(ECONNRESET\)/,
    );
    expect(proxy.requests).toHaveLength(3);
    await store.close();
    await proxy.close();
  });

  it('retries a throttled request and a failed multipart part, and the object arrives whole', async () => {
    let throttled = false;
    let partFailed = false;
    const proxy = await startFaultProxy(endpoint, (request) => {
      if (!throttled && request.method === 'HEAD') {
        throttled = true;
        return {
          status: 503,
          body: '<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>',
        };
      }
      if (!partFailed && request.url?.includes('partNumber=2')) {
        partFailed = true;
        return { status: 500, body: '<Error><Code>InternalError</Code><Message>try again</Message></Error>' };
      }
      return undefined;
    });
    const store = openS3Store(
      `s3://${bucket}/retried?endpoint=${proxy.url}&region=us-east-1&forcePathStyle=true&retryDelayMs=1`,
    );
    const body = Buffer.alloc(20 * 1024 * 1024, 'z');
    const info = await store.put('big', body);
    expect(info.size).toBe(body.length);
    expect(proxy.faults).toBe(2);
    const read: Buffer[] = [];
    for await (const chunk of await store.get('big')) read.push(chunk as Buffer);
    expect(Buffer.concat(read).equals(body)).toBe(true);
    await store.close();
    await proxy.close();
  });

  it('says access was denied, once, without printing the secret key', async () => {
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'very-secret-key-value');
    const proxy = await startFaultProxy(undefined, () => ({
      status: 403,
      body: '<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id does not exist</Message></Error>',
    }));
    const store = openS3Store(`s3://${bucket}?endpoint=${proxy.url}&region=us-east-1&forcePathStyle=true`);
    const error = await store.get('a').catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^LAKE_URL s3://${bucket}: access denied \\(S3 InvalidAccessKeyId, HTTP 403\\); check the credentials`,
      ),
    );
    expect(proxy.requests).toHaveLength(1);
    expect(inspect(error, { depth: 10 })).not.toContain('very-secret-key-value');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', services.TEST_S3_SECRET_ACCESS_KEY);
    await store.close();
    await proxy.close();
  });
});
