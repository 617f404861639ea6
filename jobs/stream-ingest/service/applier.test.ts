import { zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresCopyError, type SqlDatabase } from '../../../adapters/warehouse/sql-database.ts';
import { type EmbeddedPlatform, openEmbeddedPlatform } from '../../../test/harness.ts';
import { loadConfig } from '../../config.ts';
import { createJobContext } from '../../context.ts';
import { envelopeOf, rawStreamKey } from '../../lake/raw-batch.ts';
import { buildModels } from '../../models/build.ts';
import { loadModels } from '../../models/models.ts';
import { registerBatch } from '../../ops/batches.ts';
import { persistOnce } from '../backpressure.ts';
import { newApplyStats, runApplier } from './applier.ts';

/**
 * The warehouse with two faults of the data kind: bronze refuses a row of the batch `bad-load` (as PostgreSQL's COPY
 * does, naming line and column), and the silver update of a round holding `bad-apply` hits a cast error.
 */
function faultyWarehouse(db: SqlDatabase): SqlDatabase {
  return {
    ...db,
    transaction: (work) => db.transaction((tx) => work(faultyWarehouse(tx))),
    async copyFromCsv(table, columns, source) {
      if (!source.key.includes('bad-load')) return db.copyFromCsv(table, columns, source);
      const refusal = Object.assign(new Error('value too long for type character varying(65535)'), {
        code: '22001',
        where: 'COPY clickstream_events, line 3, column page_url: "https://…"',
      });
      throw postgresCopyError(refusal, table, source);
    },
    async exec(sql) {
      if (sql.includes('create temp table ecomm_inc_keys') && sql.includes("'bad-apply'")) {
        throw Object.assign(new Error('invalid input syntax for type timestamp with time zone: "soon"'), {
          code: '22007',
        });
      }
      return db.exec(sql);
    },
  };
}

const events = (batchId: string) =>
  [0, 1].map((offset) =>
    envelopeOf({
      topic: 'clickstream',
      partition: 0,
      offset,
      key: 'k',
      timestamp: Date.parse('2026-10-01T10:00:00Z'),
      value: Buffer.from(
        JSON.stringify({
          event_id: `${batchId}-${offset}`,
          event_type: 'page_view',
          occurred_at: '2026-10-01T09:59:00Z',
          session_id: 's',
          device: 'web',
          page_url: 'https://shop.example/p/1',
        }),
      ),
    }),
  );

describe('stream applier: a batch whose own data fails is held back, the round goes on', () => {
  let platform: EmbeddedPlatform;
  beforeAll(async () => {
    platform = await openEmbeddedPlatform();
  });
  afterAll(async () => {
    await platform.close();
  });

  it('fails a batch bronze refuses (named) and one silver cannot cast (found by committing alone); applies the rest', async () => {
    const config = loadConfig({
      LAKE_URL: `file://${platform.folder}/lake`,
      STREAM_URL: 'memory://',
      WAREHOUSE_URL: 'pglite://memory',
      SOURCE_URL: 'pglite://memory',
      LOG_LEVEL: 'silent',
      OPENLINEAGE_URL: 'none',
      ECOMM_DEMO: '1',
    });
    const warehouse = faultyWarehouse(platform.warehouse);
    const context = createJobContext(config, {
      shared: { lake: platform.lake, stream: platform.stream, warehouse, source: platform.source },
    });
    const ids = ['ok-1', 'bad-load', 'bad-apply', 'ok-2'];
    for (const [index, batchId] of ids.entries()) {
      const rawKey = rawStreamKey('clickstream', '2026-10-01', batchId);
      const lines = events(batchId).map((envelope) => JSON.stringify(envelope));
      await platform.lake.put(rawKey, zstdCompressSync(`${lines.join('\n')}\n`));
      await registerBatch(platform.warehouse, {
        batchId,
        source: 'clickstream',
        kind: 'stream',
        ingestionDate: '2026-10-01',
        rawKey,
        rows: 2,
        at: new Date(Date.parse('2026-10-01T10:00:00Z') + index),
      });
    }
    // Silver exists already (a first build creates the table whole, from every bronze row).
    await buildModels(platform.warehouse, loadModels(), { vars: {}, only: ['silver.clickstream_events'] });
    const stats = newApplyStats();
    const stop = new AbortController();
    await runApplier(context, {
      stats,
      persist: persistOnce,
      stop: stop.signal,
      // Idle means every batch was applied or held back.
      nextWake: async () => stop.abort(),
    });

    expect(stats).toMatchObject({ batchesApplied: 2, batchesFailed: 2, eventsApplied: 4 });
    const ledger = await platform.warehouse.query<{
      batch_id: string;
      loaded: boolean;
      failed_step: string | null;
      failure_reason: string | null;
    }>(
      `select batch_id, loaded_at is not null as loaded, failed_step, failure_reason from ops.batches
       order by batch_id`,
    );
    const byId = Object.fromEntries(ledger.map((row) => [row.batch_id, row]));
    expect(byId['ok-1']).toMatchObject({ loaded: true, failed_step: null });
    expect(byId['ok-2']).toMatchObject({ loaded: true, failed_step: null });
    expect(byId['bad-load']?.failed_step).toBe('load');
    expect(byId['bad-load']?.failure_reason).toBe(
      'bronze.clickstream_events refused column page_url of batch bad-load at line 3 of ' +
        'staging/source=clickstream/ingestion_date=2026-10-01/bad-load.csv, key event_id=bad-load-1: ' +
        'value too long for type character varying(65535)',
    );
    expect(byId['bad-apply']?.failed_step).toBe('apply');
    expect(byId['bad-apply']?.failure_reason).toMatch(
      /model silver\.clickstream_events .* failed to build: invalid input syntax for type timestamp with time zone: "soon" \(SQLSTATE 22007\)/,
    );
    const silver = await platform.warehouse.query<{ event_id: string }>(
      'select event_id from silver.clickstream_events order by event_id',
    );
    expect(silver.map((row) => row.event_id)).toEqual(['ok-1-0', 'ok-1-1', 'ok-2-0', 'ok-2-1']);
    const bronze = await platform.warehouse.query<{ batch_id: string }>(
      'select distinct _batch_id as batch_id from bronze.clickstream_events order by 1',
    );
    expect(bronze.map((row) => row.batch_id)).toEqual(['ok-1', 'ok-2']);
    const runs = await platform.warehouse.query<{ batch_id: string; status: string }>(
      "select batch_id, status from ops.pipeline_runs where job = 'stream-ingest' order by batch_id",
    );
    expect(runs).toEqual([
      { batch_id: 'bad-apply', status: 'failed' },
      { batch_id: 'bad-load', status: 'failed' },
      { batch_id: 'ok-1', status: 'succeeded' },
      { batch_id: 'ok-2', status: 'succeeded' },
    ]);
    const incidents = await platform.warehouse.query<{ check_id: string }>(
      "select check_id from ops.incidents where status = 'open' order by check_id",
    );
    expect(incidents.map((row) => row.check_id)).toEqual(['batch_failed:bad-apply', 'batch_failed:bad-load']);
  });
});
