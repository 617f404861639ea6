import type { Readable } from 'node:stream';
import { redactUrl } from '../redact.ts';

/** Bytes for an object: a stream (never buffered whole by the store), or a small in-memory value. */
export type ObjectBody = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

/**
 * The lake: a flat key space of immutable-looking objects (S3, Azure Blob/ADLS, a local folder).
 * Keys use '/' separators and never start with '/'.
 */
export interface ObjectStore {
  /** The URL the store was opened from, safe to print (no credentials). */
  readonly url: string;
  /** Writes the whole object; readers see either the old or the new object, never a partial one. */
  put(key: string, body: ObjectBody, options?: { contentType?: string }): Promise<ObjectInfo>;
  /** Streams an object. Rejects with ObjectNotFoundError when the key does not exist. */
  get(key: string): Promise<Readable>;
  /** Object metadata, or undefined when the key does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in lexicographic key order, paging internally. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** The backend's own address of a key (a path, `s3://bucket/key`, a blob URL): for engines that read the lake
   * themselves, such as Redshift's COPY. */
  locate(key: string): string;
  /** Removes an object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(storeUrl: string, key: string) {
    super(`object not found: ${key} in ${redactUrl(storeUrl)}`);
    this.name = 'ObjectNotFoundError';
    this.key = key;
  }
}
