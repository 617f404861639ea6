import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, type ObjectStore } from './object-store.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The behaviour every lake backend must show; each backend's test file calls this with a fresh store. */
export function objectStoreContract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    it('round-trips bytes written from a string, a buffer and a stream', async () => {
      await store.put('t/a.txt', 'hello');
      await store.put('t/b.bin', new Uint8Array([0, 1, 2, 255]));
      await store.put('t/c.txt', Readable.from([Buffer.from('part 1,'), Buffer.from('part 2')]));
      expect((await readAll(await store.get('t/a.txt'))).toString()).toBe('hello');
      expect([...(await readAll(await store.get('t/b.bin')))]).toEqual([0, 1, 2, 255]);
      expect((await readAll(await store.get('t/c.txt'))).toString()).toBe('part 1,part 2');
    });

    it('reports size on put and head, and undefined for a missing key', async () => {
      const info = await store.put('t/sized', 'abcdef');
      expect(info.size).toBe(6);
      expect((await store.head('t/sized'))?.size).toBe(6);
      expect(await store.head('t/none')).toBeUndefined();
    });

    it('rejects a missing key with a typed not-found error naming the key', async () => {
      await expect(store.get('t/missing.csv')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get('t/missing.csv')).rejects.toThrow(/t\/missing\.csv/);
    });

    it('lists by prefix in key order, including nested keys and not neighbours', async () => {
      for (const key of ['l/x/2', 'l/x/1', 'l/x/sub/3', 'l/y/1', 'l/xy']) await store.put(key, key);
      const listed: string[] = [];
      for await (const info of store.list('l/x/')) listed.push(info.key);
      expect(listed).toEqual(['l/x/1', 'l/x/2', 'l/x/sub/3']);
    });

    it('overwrites a key whole: readers see the old or the new object', async () => {
      await store.put('t/over', 'old-old-old');
      await store.put('t/over', 'new');
      expect((await readAll(await store.get('t/over'))).toString()).toBe('new');
    });

    it('deletes, and deleting a missing key is not an error', async () => {
      await store.put('t/del', 'x');
      await store.delete('t/del');
      await store.delete('t/del');
      expect(await store.head('t/del')).toBeUndefined();
    });

    it('streams a multi-megabyte object in chunks rather than one buffer', async () => {
      const chunk = Buffer.alloc(1024 * 1024, 7);
      await store.put('t/big', Readable.from(Array.from({ length: 8 }, () => chunk)));
      let chunks = 0;
      let bytes = 0;
      for await (const piece of await store.get('t/big')) {
        chunks += 1;
        bytes += (piece as Buffer).length;
      }
      expect(bytes).toBe(8 * 1024 * 1024);
      expect(chunks).toBeGreaterThan(1);
    });
  });
}
