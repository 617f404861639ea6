import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, type ObjectStore } from './object-store.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** What the suite asks of the store it opens: a small listing page size, so paging is exercised cheaply. */
export interface ContractStoreSettings {
  pageSize: number;
}

const MiB = 1024 * 1024;
const PAGE_SIZE = 2;
const LARGE_OBJECT_MIB = 96;

/** Live bytes (JS heap plus Buffers) right after a full collection, so garbage not yet swept cannot blur it. */
const collectGarbage: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();
function liveBytes(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Live bytes once memory that waits on finalizers (sockets, streams of earlier tests) has been released too. */
async function settledLiveBytes(): Promise<number> {
  for (let round = 0; round < 3; round += 1) {
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return liveBytes();
}

/** The spread between the lowest and highest live-byte samples: what an operation held on top of the rest. */
class MemoryGrowth {
  private low: number;
  private high: number;
  constructor(start: number) {
    this.low = start;
    this.high = start;
  }
  sample(): void {
    const live = liveBytes();
    this.low = Math.min(this.low, live);
    this.high = Math.max(this.high, live);
  }
  get bytes(): number {
    return this.high - this.low;
  }
}

/** 1 MiB chunk number i of the large object: fresh memory each time (reusing one buffer would hide buffering). */
function largeChunk(index: number): Buffer {
  const chunk = Buffer.alloc(MiB, (index * 37 + 11) % 256);
  chunk.writeUInt32BE(index, 0);
  return chunk;
}

/** The behaviour every lake backend must show; each backend's test file calls this with a fresh store. */
export function objectStoreContract(
  name: string,
  open: (settings: ContractStoreSettings) => Promise<ObjectStore>,
): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await open({ pageSize: PAGE_SIZE });
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

    it('round-trips an empty object', async () => {
      expect((await store.put('t/empty', '')).size).toBe(0);
      expect((await readAll(await store.get('t/empty'))).length).toBe(0);
    });

    it('keeps keys with partition "=", spaces, "+", "%" and non-ASCII characters exactly', async () => {
      const keys = [
        'k/source=orders/ingestion_date=2024-01-31/a b+c.csv',
        'k/percent%41%zz.txt',
        'k/ünïcødé/файл.ndjson',
      ];
      for (const key of keys) await store.put(key, key);
      for (const key of keys) expect((await readAll(await store.get(key))).toString()).toBe(key);
      const listed: string[] = [];
      for await (const info of store.list('k/')) listed.push(info.key);
      expect(listed.sort()).toEqual([...keys].sort());
    });

    it('lists every object of a prefix across many pages, in key order', async () => {
      const keys = Array.from({ length: PAGE_SIZE * 3 + 1 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
      for (const key of [...keys].reverse()) await store.put(key, key);
      for (const neighbour of ['p0', 'o/1', 'q/1']) await store.put(neighbour, neighbour);
      const listed: string[] = [];
      for await (const info of store.list('p/')) listed.push(info.key);
      expect(listed).toEqual(keys);
      const everything: string[] = [];
      for await (const info of store.list('')) everything.push(info.key);
      expect(everything).toEqual([...everything].sort());
      expect(everything).toEqual(expect.arrayContaining([...keys, 'p0', 'o/1', 'q/1']));
    });

    it('rejects a missing key with a typed not-found error after a delete too', async () => {
      await store.put('t/gone', 'x');
      await store.delete('t/gone');
      const error = await store.get('t/gone').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect((error as ObjectNotFoundError).key).toBe('t/gone');
    });

    it(`round-trips a ${LARGE_OBJECT_MIB} MiB stream without holding the object in memory`, async () => {
      const growth = new MemoryGrowth(await settledLiveBytes());
      const sent = createHash('sha256');
      async function* chunks() {
        for (let i = 0; i < LARGE_OBJECT_MIB; i += 1) {
          if (i % 4 === 0) growth.sample();
          const chunk = largeChunk(i);
          sent.update(chunk);
          yield chunk;
        }
      }
      const info = await store.put('t/large', Readable.from(chunks()));
      expect(info.size).toBe(LARGE_OBJECT_MIB * MiB);
      growth.sample();

      const received = createHash('sha256');
      let bytes = 0;
      let sinceSample = 0;
      for await (const piece of await store.get('t/large')) {
        received.update(piece as Buffer);
        bytes += (piece as Buffer).length;
        sinceSample += (piece as Buffer).length;
        if (sinceSample >= 4 * MiB) {
          sinceSample = 0;
          growth.sample();
        }
      }
      expect(bytes).toBe(LARGE_OBJECT_MIB * MiB);
      expect(received.digest('hex')).toBe(sent.digest('hex'));
      // A store that buffers the object whole holds at least its size at some sample; a streaming one holds a
      // few parts or blocks.
      expect(growth.bytes).toBeLessThan((LARGE_OBJECT_MIB * MiB) / 2);
      await store.delete('t/large');
    });

    it('overwrites atomically: a reader of the old object finishes it, pollers never see a partial one', async () => {
      const before = Buffer.alloc(2 * MiB, 'a');
      const after = Buffer.alloc(10 * MiB, 'b');
      await store.put('t/atomic', before);

      // A reader that started on the old object gets all of it, or an error: never a splice of both.
      const early = (await store.get('t/atomic'))[Symbol.asyncIterator]();
      const first = await early.next();
      await store.put('t/atomic', after);
      const rest: Buffer[] = [Buffer.from(first.value as Buffer)];
      const finished = await (async () => {
        for (let next = await early.next(); !next.done; next = await early.next())
          rest.push(Buffer.from(next.value));
      })().then(
        () => true,
        () => false,
      );
      if (finished) expect(Buffer.concat(rest).equals(before)).toBe(true);

      // Pollers during a slow streamed overwrite see the whole old object or the whole new one.
      await store.put('t/atomic', before);
      let writing = true;
      async function* slowly() {
        for (let offset = 0; offset < after.length; offset += MiB) {
          await sleep(10);
          yield Buffer.from(after.subarray(offset, offset + MiB));
        }
      }
      const writer = store.put('t/atomic', Readable.from(slowly())).finally(() => {
        writing = false;
      });
      let polls = 0;
      while (writing) {
        const info = await store.head('t/atomic');
        expect([before.length, after.length]).toContain(info?.size);
        const seen = await readAll(await store.get('t/atomic'));
        expect(seen.equals(before) || seen.equals(after)).toBe(true);
        polls += 1;
      }
      await writer;
      expect(polls).toBeGreaterThan(0);
      expect((await readAll(await store.get('t/atomic'))).equals(after)).toBe(true);
    });
  });
}
