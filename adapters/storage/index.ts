import { pickFactory } from '../url.ts';
import { openAzureBlobStore } from './azure-blob.ts';
import { openLocalStore } from './local.ts';
import type { ObjectStore } from './object-store.ts';
import { openS3Store } from './s3.ts';

export type { ObjectBody, ObjectInfo, ObjectStore } from './object-store.ts';
export { ObjectNotFoundError } from './object-store.ts';

const STORE_FACTORIES: Record<'file' | 's3' | 'az', (url: string) => ObjectStore> = {
  file: openLocalStore,
  s3: openS3Store,
  az: openAzureBlobStore,
};

/** The lake named by LAKE_URL, its backend picked by the URL scheme. */
export function openObjectStore(url: string): ObjectStore {
  return pickFactory('LAKE_URL', url, STORE_FACTORIES)(url);
}

/** URL schemes this family accepts; configuration validation uses the same list. */
export const STORAGE_SCHEMES = Object.keys(STORE_FACTORIES);
