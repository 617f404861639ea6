import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectStoreContract } from './contract.ts';
import { openObjectStore } from './index.ts';
import { openLocalStore } from './local.ts';

objectStoreContract('local folder', async () =>
  openObjectStore(`file://${mkdtempSync(join(tmpdir(), 'lake-'))}`),
);

describe('local store', () => {
  it('refuses keys that would escape the lake folder', async () => {
    const store = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'lake-'))}`);
    await expect(store.put('../outside', 'x')).rejects.toThrow(/escapes the lake root/);
  });

  it('names LAKE_URL and the supported schemes for an unknown scheme', () => {
    expect(() => openObjectStore('ftp://somewhere/lake')).toThrow(
      /LAKE_URL: unsupported URL "ftp:\/\/somewhere\/lake"; expected one of file:\/\//,
    );
  });
});
