import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type * as AzureIdentity from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type * as StorageBlob from '@azure/storage-blob';
import type {
  AnonymousCredential,
  RequestPolicyFactory,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { redactSecrets } from '../redact.ts';
import { networkErrorCode, withRetry } from '../retry.ts';
import {
  type AzureBlobLocation,
  checkKey,
  checkListPrefix,
  describeCause,
  explainFailure,
  LakeStoreError,
  parseAzureBlobUrl,
} from './cloud-url.ts';
import { toReadable } from './local.ts';
import { type ObjectBody, type ObjectInfo, ObjectNotFoundError, type ObjectStore } from './object-store.ts';

/** Block size of a streamed upload, and how many blocks may be buffered: memory per put is BLOCKS x 8 MiB. */
/**
 * The SDKs load when a store is opened, not when this module is imported: a job on a local or an S3 lake, and every
 * worker thread that imports the storage adapters, never pays their ~35 MB.
 */
const loadSdk = createRequire(import.meta.url);
const storageBlob = () => loadSdk('@azure/storage-blob') as typeof StorageBlob;

const BLOCK_SIZE = 8 * 1024 * 1024;
const BLOCKS_IN_FLIGHT = 2;

/**
 * The lake in an Azure Blob container (ADLS Gen2 included). With AZURE_STORAGE_CONNECTION_STRING set (local runs,
 * Azurite) it authenticates with that; otherwise with DefaultAzureCredential (the job's managed identity) against
 * `https://<account>.blob.core.windows.net` or `?endpoint=`. Every request, each staged block included, is retried
 * on transient failures by one bounded policy; the SDK's own retry policy is set to a single try.
 */
export function openAzureBlobStore(url: string, env: NodeJS.ProcessEnv = process.env): ObjectStore {
  const location = parseAzureBlobUrl(url);
  const { display, prefix } = location;
  const { serviceUrl, credential } = connectionOf(location, env);
  const { BlobServiceClient, newPipeline } = storageBlob();
  const pipeline = newPipeline(credential, { retryOptions: { maxTries: 1 } });
  const origin = new URL(serviceUrl).origin;
  // A Pipeline's extra factories run outside the SDK's deserialisation, so they see its typed RestErrors and
  // re-send the same request (bodies are buffers or replayable block streams) on each try.
  const retryPolicy: RequestPolicyFactory = {
    create: (next) => ({
      sendRequest: (request) =>
        withRetry(() => next.sendRequest(request), {
          ...location.retry,
          isRetryable: isTransientAzureError,
          describe: (error, attempts) => explainAzureError(location, origin, error, attempts),
        }),
    }),
  };
  pipeline.factories.push(retryPolicy);
  const container = new BlobServiceClient(serviceUrl, pipeline).getContainerClient(location.container);

  let closed = false;
  const blobOf = (key: string) => {
    if (closed) throw new Error(`${display} is closed`);
    return container.getBlockBlobClient(prefix + checkKey(display, key));
  };
  const head = async (key: string): Promise<ObjectInfo | undefined> => {
    try {
      const found = await blobOf(key).getProperties();
      return { key, size: found.contentLength ?? 0, lastModified: found.lastModified ?? new Date(0) };
    } catch (error) {
      if (errorCodeOf(error) === 'BlobNotFound') return undefined;
      throw error;
    }
  };

  return {
    url,
    async put(key: string, body: ObjectBody, options?: { contentType?: string }) {
      const blob = blobOf(key);
      const stream = toReadable(body);
      // Blocks are staged (BLOCKS_IN_FLIGHT buffers of BLOCK_SIZE) and nothing is visible until the block list
      // is committed, which swaps the whole blob at once: readers see the old blob or the new one.
      try {
        await blob.uploadStream(stream, BLOCK_SIZE, BLOCKS_IN_FLIGHT, {
          blobHTTPHeaders: { blobContentType: options?.contentType },
        });
      } catch (error) {
        stream.destroy();
        throw error;
      }
      const info = await head(key);
      if (!info) throw new Error(`object vanished right after it was written: ${key} in ${display}`);
      return info;
    },
    async get(key: string) {
      try {
        // The SDK resumes a broken download from where it stopped, pinned to the blob's ETag: an overwrite
        // in between fails the read instead of splicing two versions.
        const found = await blobOf(key).download(0, undefined, {
          maxRetryRequests: location.retry.attempts - 1,
        });
        const stream = found.readableStreamBody;
        if (stream instanceof Readable) return stream;
        return stream === undefined ? Readable.from([]) : Readable.from(stream as AsyncIterable<Uint8Array>);
      } catch (error) {
        if (errorCodeOf(error) === 'BlobNotFound') throw new ObjectNotFoundError(display, key);
        throw error;
      }
    },
    head,
    async *list(listPrefix: string) {
      const blobs = container.listBlobsFlat({
        prefix: prefix + checkListPrefix(display, listPrefix),
        includeMetadata: true,
      });
      for await (const page of blobs.byPage({ maxPageSize: location.pageSize })) {
        for (const item of page.segment.blobItems) {
          // On ADLS Gen2 (hierarchical namespace) folders are listed as empty blobs marked hdi_isfolder.
          if (item.metadata?.hdi_isfolder === 'true') continue;
          if (item.name.endsWith('/')) continue;
          yield {
            key: item.name.slice(prefix.length),
            size: item.properties.contentLength ?? 0,
            lastModified: item.properties.lastModified,
          };
        }
      }
    },
    locate(key: string) {
      return blobOf(key).url.replace(/\?.*$/s, '');
    },
    async delete(key: string) {
      await blobOf(key).deleteIfExists();
    },
    async close() {
      // The SDK's HTTP client is shared by the process and its credential holds no connections: nothing to free.
      closed = true;
    },
  };
}

/** Where and how to connect; the connection string's secrets go only into the credential, never into messages. */
function connectionOf(
  location: AzureBlobLocation,
  env: NodeJS.ProcessEnv,
): { serviceUrl: string; credential: StorageSharedKeyCredential | AnonymousCredential | TokenCredential } {
  const connectionString = env.AZURE_STORAGE_CONNECTION_STRING?.trim();
  const fail = (detail: string) =>
    new LakeStoreError(`LAKE_URL ${location.display}: ${detail}`, 'configuration');
  if (!connectionString) {
    if (location.endpoint?.startsWith('http:'))
      throw fail(
        '?endpoint= must be https:// with a managed identity: tokens are never sent over plain http',
      );
    return {
      serviceUrl: location.endpoint ?? `https://${location.account}.blob.core.windows.net`,
      credential: new (loadSdk('@azure/identity') as typeof AzureIdentity).DefaultAzureCredential(),
    };
  }
  const fields = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const accountName = fields.get('accountname');
  if (accountName !== undefined && accountName !== location.account)
    throw fail(
      `AZURE_STORAGE_CONNECTION_STRING is for storage account "${accountName}", not "${location.account}"`,
    );
  const blobEndpoint =
    location.endpoint ??
    fields.get('blobendpoint')?.replace(/\/+$/, '') ??
    `${fields.get('defaultendpointsprotocol') ?? 'https'}://${location.account}.blob.${fields.get('endpointsuffix') ?? 'core.windows.net'}`;
  const accountKey = fields.get('accountkey');
  if (accountKey)
    return {
      serviceUrl: blobEndpoint,
      credential: new (storageBlob().StorageSharedKeyCredential)(location.account, accountKey),
    };
  const sas = fields.get('sharedaccesssignature');
  if (sas)
    return {
      serviceUrl: `${blobEndpoint}?${sas.replace(/^\?/, '')}`,
      credential: new (storageBlob().AnonymousCredential)(),
    };
  throw fail('AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature');
}

interface AzureError {
  name?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string };
  response?: { parsedHeaders?: { errorCode?: string }; headers?: { get?(name: string): string | undefined } };
  message?: string;
}

/**
 * The service's error code (`BlobNotFound`). Inside the pipeline a HEAD or DELETE answer carries it only in the
 * x-ms-error-code header; the SDK copies it to `details` later, on the way out.
 */
function errorCodeOf(error: unknown): string | undefined {
  const azure = error as AzureError | undefined;
  return (
    azure?.details?.errorCode ??
    azure?.response?.parsedHeaders?.errorCode ??
    azure?.response?.headers?.get?.('x-ms-error-code') ??
    azure?.code
  );
}

/**
 * What of an SDK error may travel as a cause: its name, code, status and first message line. The RestError itself
 * holds the request, whose signed Authorization header or SAS query loggers and test reporters would print.
 */
function sanitisedCause(error: unknown): Error {
  const azure = error as AzureError | undefined;
  const cause = new Error(redactSecrets((azure?.message ?? String(error)).split('\n')[0] ?? ''));
  cause.name = azure?.name ?? 'Error';
  return Object.assign(cause, { code: errorCodeOf(error), statusCode: azure?.statusCode });
}

const TRANSIENT_CODES = new Set(['ServerBusy', 'OperationTimedOut', 'InternalError', 'REQUEST_SEND_ERROR']);
const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
]);
const AUTH_CODES = new Set(
  'AuthenticationFailed AuthorizationFailure InvalidAuthenticationInfo NoAuthenticationInformation'.split(
    ' ',
  ),
);

/** Network failures, 5xx, 408 and throttling (429, ServerBusy): worth another try. */
export function isTransientAzureError(error: unknown): boolean {
  // The identity library has already retried its own token endpoints.
  if (CREDENTIAL_ERRORS.has(error instanceof Error ? error.name : '')) return false;
  const status = (error as AzureError | undefined)?.statusCode;
  if (status !== undefined) return status >= 500 || status === 408 || status === 429;
  return networkErrorCode(error) !== undefined || TRANSIENT_CODES.has(errorCodeOf(error) ?? '');
}

/** Rewrites an SDK error into one that names LAKE_URL and says what to fix; BlobNotFound passes through. */
export function explainAzureError(
  location: AzureBlobLocation,
  origin: string,
  error: unknown,
  attempts: number,
): unknown {
  const code = errorCodeOf(error);
  if (code === 'BlobNotFound') return error;
  const status = (error as AzureError | undefined)?.statusCode;
  const name = error instanceof Error ? error.name : undefined;
  const say = (detail: string, kind: LakeStoreError['kind']) =>
    new LakeStoreError(`LAKE_URL ${location.display}: ${detail}`, kind, { cause: sanitisedCause(error) });
  if (code === 'ContainerNotFound')
    return say(
      `container "${location.container}" does not exist in storage account "${location.account}" (Azure ContainerNotFound)`,
      'configuration',
    );
  if (CREDENTIAL_ERRORS.has(name ?? '') || AUTH_CODES.has(code ?? '') || status === 401)
    return say(
      `authentication failed (${describeCause(code ?? name, status)}); check AZURE_STORAGE_CONNECTION_STRING or the managed identity`,
      'configuration',
    );
  if (status === 403)
    return say(
      `not authorized (Azure ${describeCause(code, status)}): the identity needs the Storage Blob Data ` +
        `Contributor role on container "${location.container}"`,
      'configuration',
    );
  const networkCode = status === undefined ? networkErrorCode(error) : undefined;
  return explainFailure(
    location.display,
    {
      service: 'Azure Blob',
      where:
        networkCode === 'ENOTFOUND'
          ? `${origin} (does storage account "${location.account}" exist?)`
          : origin,
      attempts,
      networkCode,
      transient: isTransientAzureError(error),
      summary: describeCause(code ?? name, status),
      message: (error as AzureError | undefined)?.message ?? String(error),
    },
    sanitisedCause(error),
  );
}
