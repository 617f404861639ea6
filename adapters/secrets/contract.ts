import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretNotFoundError, type SecretStore } from './secret-store.ts';

/** What the suite needs of a backend: a store, and a way to put a secret where that store reads it. */
export interface SecretStoreFixture {
  store: SecretStore;
  put(name: string, value: string): Promise<void>;
  /** A name no other run of the suite uses (backends shared between runs need a unique suffix). */
  unique(base: string): string;
}

/**
 * What every secret store promises the jobs, run against each backend: a secret comes back byte for byte, a missing
 * one is a SecretNotFoundError that names it and the store (and is asked for again next time, so a secret created
 * after a miss is found), and no value ever shows in an error or when the store is inspected.
 */
export function secretStoreContract(label: string, open: () => Promise<SecretStoreFixture>): void {
  describe(`secret store contract: ${label}`, () => {
    it('returns a secret exactly as stored: spaces, quotes, non-ASCII text and 4 KiB values', async () => {
      const { store, put, unique } = await open();
      const values = {
        [unique('PII_HASH_KEY')]: ' k3y with spaces, \'quotes\' and "more" ',
        [unique('UNICODE')]: 'clé-秘密-🔑',
        [unique('LONG')]: 'x'.repeat(4096),
      };
      for (const [name, value] of Object.entries(values)) await put(name, value);
      for (const [name, value] of Object.entries(values)) expect(await store.get(name)).toBe(value);
    });

    it('rejects a missing secret with SecretNotFoundError naming it and the store, and asks again next time', async () => {
      const { store, put, unique } = await open();
      const name = unique('ARRIVES_LATER');
      const error = await store.get(name).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SecretNotFoundError);
      expect((error as Error).message).toBe(`secret not found: ${name} in ${store.url}`);
      await put(name, 'now-here');
      expect(await store.get(name)).toBe('now-here');
    });

    it('never shows a value when the store is inspected or logged', async () => {
      const { store, put, unique } = await open();
      const name = unique('INSPECT_ME_NOT');
      await put(name, 'value-that-must-not-show');
      await store.get(name);
      expect(inspect(store, { depth: 10, showHidden: true })).not.toContain('value-that-must-not-show');
      expect(JSON.stringify(store) ?? '').not.toContain('value-that-must-not-show');
    });
  });
}
