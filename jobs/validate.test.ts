import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../test/harness.ts';
import { registerBatch } from './ops/batches.ts';
import { envelopeOf } from './stream-service/raw-batch.ts';
import { runValidate } from './validate.ts';

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
