// What the cloud lake backends (s3.ts, azure-blob.ts) share: reading their URLs and query parameters, and the
// error they raise, so both speak the same `LAKE_URL <url>: <what is wrong>` language.

import { redactSecrets, redactUrl } from '../redact.ts';
import type { RetryPolicy } from '../retry.ts';

/** Bounded on purpose: a job that cannot reach its lake fails in seconds and its scheduler retries the step. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 5_000 };

/** Query parameters every cloud store accepts (tests and non-default endpoints use them). */
const COMMON_PARAMETERS = ['endpoint', 'pageSize', 'attempts', 'retryDelayMs'];

export type LakeStoreErrorKind = 'configuration' | 'unreachable' | 'service';

/**
 * A lake operation that failed for a reason a person must fix or wait out: a wrong bucket, bad credentials, an
 * endpoint that does not answer. The message names LAKE_URL and never carries a secret.
 */
export class LakeStoreError extends Error {
  readonly kind: LakeStoreErrorKind;
  constructor(message: string, kind: LakeStoreErrorKind, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LakeStoreError';
    this.kind = kind;
  }
}

export interface CloudUrl {
  /** The URL without query, fragment or password: what messages print. */
  display: string;
  /** The bucket (s3) or the storage account (az). */
  host: string;
  /** Decoded path segments after the host. */
  segments: string[];
  /** `?endpoint=`: an http(s) URL without trailing slash. */
  endpoint: string | undefined;
  pageSize: number;
  retry: RetryPolicy;
  params: URLSearchParams;
}

/** Takes `<scheme>://host/seg/ments?params` apart, refusing anything it would otherwise silently ignore. */
export function parseCloudUrl(
  url: string,
  scheme: string,
  options: { extraParameters: string[]; maxPageSize: number },
): CloudUrl {
  const display = redactUrl(url.replace(/[?#].*$/s, ''));
  const fail = (detail: string) => new LakeStoreError(`LAKE_URL ${display}: ${detail}`, 'configuration');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail(`not a valid URL; expected ${scheme}://…`);
  }
  if (parsed.protocol !== `${scheme}:`) throw fail(`expected a ${scheme}:// URL`);
  if (parsed.username || parsed.password) throw fail('credentials do not belong in the URL');
  if (parsed.port) throw fail('a port does not belong here; use ?endpoint=');
  if (parsed.hash) throw fail('unexpected #fragment');
  const segments = parsed.pathname.split('/').slice(1).map(decodeURIComponent);
  if (segments.at(-1) === '') segments.pop();
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..'))
    throw fail('empty, "." or ".." path segment');

  const supported = [...COMMON_PARAMETERS, ...options.extraParameters];
  for (const name of new Set(parsed.searchParams.keys()))
    if (!supported.includes(name))
      throw fail(`unknown query parameter "${name}" (supported: ${supported.join(', ')})`);
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const text = parsed.searchParams.get(name);
    if (text === null) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max)
      throw fail(`?${name}= must be a whole number from ${min} to ${max}, got "${text}"`);
    return value;
  };
  let endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined) {
    if (!/^https?:\/\/[^/?#@]+(\/[^?#]*)?$/i.test(endpoint))
      throw fail('?endpoint= must be an http(s):// URL');
    endpoint = endpoint.replace(/\/+$/, '');
  }
  return {
    display,
    host: decodeURIComponent(parsed.hostname),
    segments,
    endpoint,
    pageSize: integer('pageSize', options.maxPageSize, 1, options.maxPageSize),
    retry: {
      attempts: integer('attempts', DEFAULT_RETRY.attempts, 1, 10),
      baseDelayMs: integer('retryDelayMs', DEFAULT_RETRY.baseDelayMs, 0, 60_000),
      maxDelayMs: DEFAULT_RETRY.maxDelayMs,
    },
    params: parsed.searchParams,
  };
}

/** The key prefix a store lives under: '' or 'a/b/'. */
export function prefixOf(segments: string[]): string {
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}

/** Keys are relative, '/'-separated and plain: cloud SDKs and proxies may normalise `.`, `..` or `//` away. */
export function checkKey(display: string, key: string): string {
  if (key === '' || key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..'))
    throw new Error(`invalid object key "${key}" for ${display}: empty, "." or ".." segment`);
  return key;
}

export function checkListPrefix(display: string, prefix: string): string {
  if (prefix.startsWith('/')) throw new Error(`invalid list prefix "${prefix}" for ${display}: leading "/"`);
  return prefix;
}

/** The `(ECONNREFUSED)`-style note for a message: the error's code or name, and its HTTP status. */
export function describeCause(code: string | undefined, status: number | undefined): string {
  return [code, status === undefined ? undefined : `HTTP ${status}`].filter(Boolean).join(', ');
}

/** The facts behind a failed request that no setting explains, as explainFailure words them. */
export interface FailureFacts {
  /** 'S3 GetObject', 'Azure Blob'. */
  service: string;
  /** The endpoint or service that was asked. */
  where: string;
  attempts: number;
  /** Set when no answer came back at all: ECONNREFUSED, ENOTFOUND, TimeoutError. */
  networkCode: string | undefined;
  transient: boolean;
  /** describeCause of the error: `SlowDown, HTTP 503`. */
  summary: string;
  message: string;
}

/** "cannot reach … after N attempts", "… kept failing after N attempts" or "… failed": one wording for all. */
export function explainFailure(display: string, facts: FailureFacts, cause: unknown): LakeStoreError {
  const tries = `${facts.attempts} attempt${facts.attempts === 1 ? '' : 's'}`;
  const say = (detail: string, kind: LakeStoreErrorKind) =>
    new LakeStoreError(`LAKE_URL ${display}: ${detail}`, kind, { cause });
  if (facts.networkCode)
    return say(`cannot reach ${facts.where} after ${tries} (${facts.networkCode})`, 'unreachable');
  if (facts.transient)
    return say(`${facts.service} kept failing after ${tries} (${facts.summary})`, 'service');
  return say(
    `${facts.service} failed (${facts.summary}): ${redactSecrets(facts.message.split('\n')[0] ?? '')}`,
    'service',
  );
}

export interface S3Location {
  display: string;
  bucket: string;
  /** '' or 'a/b/'. */
  prefix: string;
  endpoint: string | undefined;
  region: string | undefined;
  forcePathStyle: boolean;
  pageSize: number;
  retry: RetryPolicy;
}

/** `s3://bucket/optional/prefix?endpoint=http://host:port&region=us-east-1&forcePathStyle=true&pageSize=…`. */
export function parseS3Url(url: string): S3Location {
  const parsed = parseCloudUrl(url, 's3', {
    extraParameters: ['region', 'forcePathStyle'],
    maxPageSize: 1000, // ListObjectsV2's ceiling
  });
  const fail = (detail: string) =>
    new LakeStoreError(`LAKE_URL ${parsed.display}: ${detail}`, 'configuration');
  const bucket = parsed.host;
  if (bucket === '') throw fail('names no bucket; expected s3://bucket/prefix');
  // S3's bucket naming rules; checking here beats a puzzling error from the first request.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..'))
    throw fail(`"${bucket}" is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`);
  const region = parsed.params.get('region') ?? undefined;
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region)) throw fail(`"${region}" is not an AWS region`);
  const pathStyle = parsed.params.get('forcePathStyle');
  if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false')
    throw fail('?forcePathStyle= must be true or false');
  return {
    display: parsed.display,
    bucket,
    prefix: prefixOf(parsed.segments),
    endpoint: parsed.endpoint,
    region,
    forcePathStyle: pathStyle === 'true',
    pageSize: parsed.pageSize,
    retry: parsed.retry,
  };
}

export interface AzureBlobLocation {
  display: string;
  account: string;
  container: string;
  /** '' or 'a/b/'. */
  prefix: string;
  endpoint: string | undefined;
  pageSize: number;
  retry: RetryPolicy;
}

/** `az://account/container/optional/prefix?endpoint=https://…&pageSize=…`. */
export function parseAzureBlobUrl(url: string): AzureBlobLocation {
  const parsed = parseCloudUrl(
    url,
    'az',
    { extraParameters: [], maxPageSize: 5000 } /* List Blobs' ceiling */,
  );
  const fail = (detail: string) =>
    new LakeStoreError(`LAKE_URL ${parsed.display}: ${detail}`, 'configuration');
  const [container, ...prefix] = parsed.segments;
  if (parsed.host === '' || container === undefined)
    throw fail('expected az://account/container/optional/prefix');
  if (!/^[a-z0-9]{3,24}$/.test(parsed.host))
    throw fail(`"${parsed.host}" is not a valid storage account name (3-24 lowercase letters and digits)`);
  if (!/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/.test(container))
    throw fail(
      `"${container}" is not a valid container name (3-63 lowercase letters, digits, single hyphens)`,
    );
  return {
    display: parsed.display,
    account: parsed.host,
    container,
    prefix: prefixOf(prefix),
    endpoint: parsed.endpoint,
    pageSize: parsed.pageSize,
    retry: parsed.retry,
  };
}
