import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField } from '../../adapters/csv.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../test/harness.ts';
import { loadConfig } from '../config.ts';
import { createJobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { envelopeOf } from '../lake/raw-batch.ts';
import { registerBatch } from '../ops/batches.ts';
import { ObjectWriter, openRawRecords, runValidate, validateRecords } from './index.ts';
import { StagedCsvWriter } from './records.ts';

let platform: EmbeddedPlatform;
beforeAll(async () => {
  platform = await openEmbeddedPlatform();
});
afterAll(async () => {
  await platform.close();
});

const lines = [
  {
    event_id: 'a',
    event_type: 'page_view',
    occurred_at: '2026-10-01T10:00:00Z',
    session_id: 's',
    device: 'web',
  },
  { event_id: 'b', event_type: 'page_view', occurred_at: 'yesterday', session_id: 's', device: 'web' },
]
  .map((event, offset) =>
    JSON.stringify(
      envelopeOf({
        topic: 'clickstream',
        partition: 0,
        offset,
        key: 'k',
        value: Buffer.from(JSON.stringify(event)),
        timestamp: Date.parse('2026-10-01T10:00:05Z'),
      }),
    ),
  )
  .join('\n');

describe('validate reads raw stream batches compressed or not, and leaves the stream service its own', () => {
  it('validates .ndjson, .ndjson.gz and .ndjson.zst batches alike, and skips source_kind stream', async () => {
    const context = platform.context();
    const db = await context.warehouse();
    const batches = [
      {
        batchId: 'plain',
        rawKey: 'raw/source=clickstream/ingestion_date=2026-10-01/plain.ndjson',
        body: `${lines}\n`,
        kind: 'topic' as const,
      },
      {
        batchId: 'gzip',
        rawKey: 'raw/source=clickstream/ingestion_date=2026-10-01/gzip.ndjson.gz',
        body: gzipSync(`${lines}\n`),
        kind: 'topic' as const,
      },
      {
        batchId: 'zstd',
        rawKey: 'raw/source=clickstream/ingestion_date=2026-10-01/zstd.ndjson.zst',
        body: zstdCompressSync(`${lines}\n`),
        kind: 'topic' as const,
      },
      {
        batchId: 'service',
        rawKey: 'raw/source=clickstream/ingestion_date=2026-10-01/service.ndjson.zst',
        body: zstdCompressSync(`${lines}\n`),
        kind: 'stream' as const,
      },
    ];
    for (const batch of batches) {
      await platform.lake.put(batch.rawKey, batch.body);
      await registerBatch(db, {
        batchId: batch.batchId,
        source: 'clickstream',
        kind: batch.kind,
        ingestionDate: '2026-10-01',
        rawKey: batch.rawKey,
        rows: 2,
        at: new Date(),
      });
    }
    const results = await runValidate(context);
    expect(results.map((result) => [result.batchId, result.staged, result.quarantined])).toEqual([
      ['plain', 1, 1],
      ['gzip', 1, 1],
      ['zstd', 1, 1],
    ]);
    const [service] = await db.query<{ validated_at: unknown }>(
      "select validated_at from ops.batches where batch_id = 'service'",
    );
    expect(service?.validated_at).toBeNull();
  });
});

describe('validate holds back a batch whose raw object is cut or damaged, and goes on with the others', () => {
  it('marks a small truncated .ndjson.zst and a cut .ndjson failed with their reason; the next batch validates', async () => {
    const context = platform.context();
    const db = await context.warehouse();
    await db.exec('delete from ops.batches');
    // A hundred events: small enough to fail in one read, before the staging upload has started.
    const events = Array.from({ length: 100 }, (_, offset) =>
      JSON.stringify(
        envelopeOf({
          topic: 'clickstream',
          partition: 0,
          offset,
          key: 'k',
          value: Buffer.from(
            JSON.stringify({
              event_id: `e-${offset}`,
              event_type: 'page_view',
              occurred_at: '2026-10-01T10:00:00Z',
              session_id: 's',
              device: 'web',
            }),
          ),
          timestamp: 1,
        }),
      ),
    ).join('\n');
    const whole = zstdCompressSync(`${events}\n`);
    const batches = [
      { batchId: 'cut-zstd', ext: 'ndjson.zst', body: whole.subarray(0, Math.floor(whole.length / 2)) },
      { batchId: 'cut-plain', ext: 'ndjson', body: `${events.slice(0, events.length - 20)}\n` },
      { batchId: 'fine', ext: 'ndjson.zst', body: whole },
    ];
    for (const batch of batches) {
      const rawKey = `raw/source=clickstream/ingestion_date=2026-10-01/${batch.batchId}.${batch.ext}`;
      await platform.lake.put(rawKey, batch.body);
      await registerBatch(db, {
        batchId: batch.batchId,
        source: 'clickstream',
        kind: 'topic',
        ingestionDate: '2026-10-01',
        rawKey,
        rows: 100,
        at: new Date(),
      });
    }
    const results = await runValidate(context);
    expect(results.map((result) => result.batchId)).toEqual(['fine']);
    const failed = await db.query<{ batch_id: string; failed_step: string; failure_reason: string }>(
      'select batch_id, failed_step, failure_reason from ops.batches where failed_at is not null order by batch_id',
    );
    expect(failed).toEqual([
      {
        batch_id: 'cut-plain',
        failed_step: 'validate',
        failure_reason: expect.stringMatching(/^raw line 100 is not a stream envelope: /),
      },
      {
        batch_id: 'cut-zstd',
        failed_step: 'validate',
        failure_reason: expect.stringMatching(
          /cut-zstd\.ndjson\.zst is not valid zstd: unexpected end of file$/,
        ),
      },
    ]);
    // Nothing half-written: the failed batches left no staging object behind.
    const staged: string[] = [];
    for await (const info of platform.lake.list('staging/source=clickstream/')) staged.push(info.key);
    expect(staged.filter((key) => key.includes('/cut-'))).toEqual([]);
    expect(await runValidate(platform.context())).toEqual([]);
  });
});

describe('ObjectWriter', () => {
  it('gives up an object the store has not started reading without an uncaught error, and writes nothing', async () => {
    const written: string[] = [];
    let settled: Promise<unknown> = Promise.resolve();
    const slowStore = {
      put(key: string, body: AsyncIterable<Uint8Array>) {
        settled = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          for await (const _chunk of body);
          written.push(key);
        })();
        return settled;
      },
    } as unknown as ObjectStore;
    const writer = new ObjectWriter(slowStore, 'staging/x.csv', 'text/csv');
    await writer.write('id\n');
    writer.abort(new Error('raw object is not valid zstd'));
    await expect(settled).rejects.toThrow('raw object is not valid zstd');
    expect(written).toEqual([]);
  });
});

describe('StagedCsvWriter', () => {
  /** A store that keeps the one object's bytes. */
  const memoryStore = () => {
    const objects = new Map<string, Buffer>();
    const store = {
      async put(key: string, body: AsyncIterable<Uint8Array>) {
        const chunks: Uint8Array[] = [];
        for await (const chunk of body) chunks.push(chunk);
        objects.set(key, Buffer.concat(chunks));
      },
    } as unknown as ObjectStore;
    return { store, objects };
  };

  it('writes the bytes of the cells as csvField quotes them, whatever their text or length', async () => {
    const cell = fc.oneof(
      fc.constant(null),
      fc.constant(''),
      fc.string({ unit: fc.constantFrom('a', '1', ' ', '"', ',', '\r', '\n', 'é', '😀', '\u007f', '\t') }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      // Longer than the writer's buffer.
      fc.integer({ min: 200_000, max: 400_000 }).map((length) => `${'x'.repeat(length)}é,`),
    );
    const row = fc.array(fc.tuple(cell, fc.boolean()), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 12 }), async (rows) => {
        const { store, objects } = memoryStore();
        const staging = new StagedCsvWriter(new ObjectWriter(store, 'staging/x.csv', 'text/csv'));
        let expected = '';
        for (const cells of rows) {
          for (const [value, quotable] of cells) {
            // Only text is quotable: the other cells passed a check that leaves nothing to quote.
            const plain = quotable || value === null ? value : value.replace(/[",\r\n]/g, '');
            staging.cell(plain, quotable);
            expected += `${quotable ? csvField(plain) : (plain ?? '')},`;
          }
          staging.bytes(Buffer.from('b1,raw/x.ndjson\n'));
          expected += 'b1,raw/x.ndjson\n';
          await staging.endRow();
        }
        await staging.finish();
        expect(objects.get('staging/x.csv')?.toString('utf8')).toBe(expected);
      }),
      { numRuns: 60, seed: 20261208 },
    );
  });
});

describe('validate never deletes in the lake', () => {
  it('empties a re-validated batch quarantine object when nothing is quarantined now, and writes none for a clean new batch', async () => {
    const lake = platform.lake;
    const contract = contractFor('clickstream');
    const target = {
      batchId: 'revalidated',
      source: 'clickstream',
      ingestionDate: '2026-10-01',
      rawKey: 'raw/source=clickstream/ingestion_date=2026-10-01/revalidated.ndjson',
    };
    const options = { piiHashKey: 'k', check: { now: new Date('2026-10-02T00:00:00Z') } };
    const records = async (text: string) => {
      await lake.put(target.rawKey, `${text}\n`);
      return openRawRecords(lake, target.rawKey, contract);
    };
    const first = await validateRecords(lake, contract, target, await records(lines), options);
    expect(first.quarantined).toBe(1);
    const quarantineKey = first.quarantineKey as string;
    expect((await lake.head(quarantineKey))?.size).toBeGreaterThan(0);
    // The repaired object now passes whole: the old quarantine rows must not outlive it, and nothing is deleted.
    const goodOnly = lines.split('\n')[0] as string;
    const deletes: string[] = [];
    const noDelete = { ...lake, delete: async (key: string) => void deletes.push(key) };
    const again = await validateRecords(noDelete, contract, target, await records(goodOnly), {
      ...options,
      replacesQuarantine: true,
    });
    expect(again).toMatchObject({ quarantined: 0, quarantineKey: null });
    expect((await lake.head(quarantineKey))?.size).toBe(0);
    const fresh = await validateRecords(
      noDelete,
      contract,
      { ...target, batchId: 'clean' },
      await records(goodOnly),
      options,
    );
    expect(fresh.quarantineKey).toBeNull();
    expect(await lake.head(quarantineKey.replace('revalidated', 'clean'))).toBeUndefined();
    expect(deletes).toEqual([]);
  });
});

describe('validate on worker threads (threads.ts)', () => {
  it('stages and quarantines exactly what the job thread does, and still sets a damaged batch aside alone', async () => {
    const db = await platform.context().warehouse();
    await db.exec('delete from ops.batches');
    const eventLines = (batch: number) =>
      Array.from({ length: 400 }, (_, offset) =>
        JSON.stringify(
          envelopeOf({
            topic: 'clickstream',
            partition: batch,
            offset,
            key: 'k',
            value: Buffer.from(
              JSON.stringify({
                event_id: `t${batch}-${offset}`,
                event_type: offset % 7 === 0 ? 'no_such_type' : 'page_view',
                occurred_at: '2026-10-01T10:00:00Z',
                session_id: `s${offset % 13}`,
                customer_id: offset % 5 === 0 ? null : offset % 50,
                device: 'web',
              }),
            ),
            timestamp: Date.parse('2026-10-01T10:00:05Z'),
          }),
        ),
      ).join('\n');
    const batches = [0, 1, 2, 3].map((batch) => ({
      batchId: `threads-${batch}`,
      rawKey: `raw/source=clickstream/ingestion_date=2026-10-01/threads-${batch}.ndjson.zst`,
      // The last one is cut in half: not valid zstd.
      body:
        batch === 3
          ? zstdCompressSync(`${eventLines(batch)}\n`).subarray(0, 300)
          : zstdCompressSync(`${eventLines(batch)}\n`),
    }));
    const register = async () => {
      await db.exec('delete from ops.batches');
      for (const batch of batches) {
        await platform.lake.put(batch.rawKey, batch.body);
        await registerBatch(db, {
          batchId: batch.batchId,
          source: 'clickstream',
          kind: 'topic',
          ingestionDate: '2026-10-01',
          rawKey: batch.rawKey,
          rows: 400,
          at: new Date(),
        });
      }
    };
    const stagedObjects = async () => {
      const objects: Record<string, string> = {};
      for await (const info of platform.lake.list(
        'staging/source=clickstream/ingestion_date=2026-10-01/threads-',
      ))
        objects[info.key] = await new Response(
          (await platform.lake.get(info.key)) as unknown as ReadableStream,
        ).text();
      return objects;
    };
    const summary = (results: Awaited<ReturnType<typeof runValidate>>) =>
      results.map((result) => [result.batchId, result.staged, result.quarantined, [...result.reasons]]);
    const failedBatches = async () =>
      db.query<{ batch_id: string; failure_reason: string }>(
        'select batch_id, failure_reason from ops.batches where failed_at is not null order by batch_id',
      );

    await register();
    // A context that opens its lake from LAKE_URL, as the CLI does: the threads open the same lake.
    const threaded = createJobContext(
      loadConfig({
        LAKE_URL: `file://${platform.folder}/lake`,
        WAREHOUSE_URL: 'pglite://memory',
        LOG_LEVEL: 'silent',
        ECOMM_DEMO: '1',
        VALIDATE_WORKERS: '2',
      }),
      { shared: { warehouse: db } },
    );
    expect(threaded.sharedLake).toBe(false);
    const onThreads = await runValidate(threaded, { threadsMinRows: 0 });
    const stagedOnThreads = await stagedObjects();
    const failedOnThreads = await failedBatches();

    await register();
    const onThisThread = await runValidate(platform.context());
    expect(summary(onThreads)).toEqual(summary(onThisThread));
    expect(onThreads.map((result) => result.batchId)).toEqual(['threads-0', 'threads-1', 'threads-2']);
    expect(onThreads[0]?.quarantined).toBeGreaterThan(0);
    expect(stagedOnThreads).toEqual(await stagedObjects());
    expect(Object.keys(stagedOnThreads)).toHaveLength(3);
    expect(failedOnThreads).toEqual(await failedBatches());
    expect(failedOnThreads).toEqual([
      { batch_id: 'threads-3', failure_reason: expect.stringMatching(/is not valid zstd/) },
    ]);
    await threaded.close();
  });
});
