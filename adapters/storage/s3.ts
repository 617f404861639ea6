import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { networkErrorCode, withRetry } from '../retry.ts';
import {
  checkKey,
  checkListPrefix,
  describeCause,
  explainFailure,
  LakeStoreError,
  parseS3Url,
  type S3Location,
} from './cloud-url.ts';
import { type ObjectBody, type ObjectInfo, ObjectNotFoundError, type ObjectStore } from './object-store.ts';

/**
 * The SDK loads when a store is opened, not when this module is imported: a job on a local or an Azure lake, and
 * every worker thread that imports the storage adapters, never pays its ~30 MB (docs/performance.md, memory).
 */
const loadSdk = createRequire(import.meta.url);

/** Multipart part size: S3's minimum is 5 MiB; 8 MiB keeps 10,000 parts >= 78 GiB per object. */
const PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight per upload: memory per put is about (QUEUE_SIZE + 1) parts whatever the object size. */
const QUEUE_SIZE = 2;

/**
 * The lake in an S3 bucket. Credentials come from the AWS default provider chain (environment, profile, the ECS
 * task role); the region from `?region=` or AWS_REGION. Every request, each multipart part included, is retried
 * on transient failures by one bounded policy (the SDK's own retries are off so attempts add up to what we say).
 */
export function openS3Store(url: string): ObjectStore {
  const location = parseS3Url(url);
  const {
    DeleteObjectCommand,
    GetObjectCommand,
    HeadBucketCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    S3Client,
  } = loadSdk('@aws-sdk/client-s3') as typeof S3Sdk;
  const { Upload } = loadSdk('@aws-sdk/lib-storage') as typeof LibStorage;
  const { bucket, prefix, display } = location;
  const client = new S3Client({
    region: location.region ?? (location.endpoint ? 'us-east-1' : undefined),
    endpoint: location.endpoint,
    forcePathStyle: location.forcePathStyle,
    maxAttempts: 1,
    // A silent (firewalled) endpoint fails like a refused one instead of hanging on the OS connect timeout.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
  });
  client.middlewareStack.add(
    (next, context) => (args) =>
      withRetry(() => next(args), {
        ...location.retry,
        isRetryable: isTransientS3Error,
        describe: (error, attempts) =>
          explainS3Error(location, context.commandName ?? 'Command', error, attempts),
      }),
    { step: 'initialize', name: 'lakeRetryMiddleware', priority: 'high' },
  );

  let closed = false;
  const objectKey = (key: string) => {
    if (closed) throw new Error(`${display} is closed`);
    return prefix + checkKey(display, key);
  };
  // HeadObject answers a bare 404 both for a missing key and a missing bucket: check the bucket once to tell.
  let bucketChecked: Promise<unknown> | undefined;
  const checkBucket = () => {
    bucketChecked ??= client.send(new HeadBucketCommand({ Bucket: bucket })).catch((error: unknown) => {
      bucketChecked = undefined;
      throw error;
    });
    return bucketChecked;
  };
  const head = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      const found = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { key, size: found.ContentLength ?? 0, lastModified: found.LastModified ?? new Date(0) };
    } catch (error) {
      if (!isMissingKey(error)) throw error;
      await checkBucket();
      return undefined;
    }
  };

  return {
    url,
    async put(key: string, body: ObjectBody, options?: { contentType?: string }) {
      // Upload cuts a stream into PART_SIZE buffers, QUEUE_SIZE at a time: one PutObject for a small body,
      // a multipart upload (aborted on failure, so no orphan parts) for a large one. Only the completed object
      // becomes visible, so readers see the old object or the new one.
      const upload = new Upload({
        client,
        params: {
          Bucket: bucket,
          Key: objectKey(key),
          Body: uploadBody(body),
          ContentType: options?.contentType,
        },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        if (body instanceof Readable) body.destroy();
        throw error;
      }
      const info = await head(key);
      if (!info) throw new Error(`object vanished right after it was written: ${key} in ${display}`);
      return info;
    },
    async get(key: string) {
      try {
        const found = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        const stream = found.Body;
        if (stream instanceof Readable) return stream;
        if (stream === undefined) return Readable.from([]);
        return Readable.from(stream as AsyncIterable<Uint8Array>);
      } catch (error) {
        if (isMissingKey(error)) throw new ObjectNotFoundError(display, key);
        throw error;
      }
    },
    head,
    async *list(listPrefix: string) {
      const fullPrefix = prefix + checkListPrefix(display, listPrefix);
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: fullPrefix,
            MaxKeys: location.pageSize,
            ContinuationToken: token,
          }),
        );
        for (const item of page.Contents ?? []) {
          // Keys ending in '/' are the console's "folder" markers, not objects of the lake.
          if (item.Key === undefined || item.Key.endsWith('/')) continue;
          yield {
            key: item.Key.slice(prefix.length),
            size: item.Size ?? 0,
            lastModified: item.LastModified ?? new Date(0),
          };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    locate(key: string) {
      return `s3://${bucket}/${objectKey(key)}`;
    },
    async delete(key: string) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    },
    async close() {
      closed = true;
      client.destroy();
    },
  };
}

function uploadBody(body: ObjectBody): Readable | Uint8Array | string {
  if (typeof body === 'string' || body instanceof Uint8Array || body instanceof Readable) return body;
  return Readable.from(body);
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const statusOf = (error: unknown) => (error as SdkError | undefined)?.$metadata?.httpStatusCode;
const nameOf = (error: unknown) => (error instanceof Error ? error.name : undefined);

/** NoSuchKey from GetObject, a bare 404 from HeadObject: the store turns them into not-found answers. */
function isMissingKey(error: unknown): boolean {
  return nameOf(error) === 'NoSuchKey' || (nameOf(error) === 'NotFound' && statusOf(error) === 404);
}

const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'TooManyRequestsException',
  'InternalError',
  'ServiceUnavailable',
]);
const AUTH_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
]);

/** Network failures, 5xx and throttling: worth another try. A 4xx answer will not change by asking again. */
export function isTransientS3Error(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined)
    return status >= 500 || status === 429 || TRANSIENT_NAMES.has(nameOf(error) ?? '');
  return networkErrorCode(error) !== undefined || TRANSIENT_NAMES.has(nameOf(error) ?? '');
}

/** Rewrites an SDK error into one that names LAKE_URL and says what to fix; not-found answers pass through. */
export function explainS3Error(
  location: S3Location,
  command: string,
  error: unknown,
  attempts: number,
): unknown {
  if (isMissingKey(error) && command !== 'HeadBucketCommand') return error;
  const name = nameOf(error);
  const status = statusOf(error);
  const say = (detail: string, kind: LakeStoreError['kind']) =>
    new LakeStoreError(`LAKE_URL ${location.display}: ${detail}`, kind, { cause: error });
  if (name === 'NoSuchBucket' || (command === 'HeadBucketCommand' && status === 404))
    return say(`bucket "${location.bucket}" does not exist (S3 NoSuchBucket)`, 'configuration');
  if (AUTH_NAMES.has(name ?? '') || status === 401 || status === 403)
    return say(
      `access denied (S3 ${describeCause(name, status)}); check the credentials (AWS_ACCESS_KEY_ID and ` +
        `AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the task role) and that they may use bucket "${location.bucket}"`,
      'configuration',
    );
  if (name === 'CredentialsProviderError')
    return say(
      'no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with a role',
      'configuration',
    );
  if (/region is missing/i.test((error as SdkError | undefined)?.message ?? ''))
    return say('no AWS region; set AWS_REGION or add ?region= to the URL', 'configuration');
  return explainFailure(
    location.display,
    {
      service: `S3 ${command.replace(/Command$/, '')}`,
      where: location.endpoint ?? `S3 (region ${location.region ?? process.env.AWS_REGION ?? 'default'})`,
      attempts,
      networkCode:
        status === undefined
          ? (networkErrorCode(error) ?? (name === 'TimeoutError' ? name : undefined))
          : undefined,
      transient: isTransientS3Error(error),
      summary: describeCause(name, status),
      message: (error as SdkError | undefined)?.message ?? String(error),
    },
    error,
  );
}
