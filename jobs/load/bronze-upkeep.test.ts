/**
 * What the load leaves behind for the hourly build on PostgreSQL and PGlite: bronze indexed by batch and arrival
 * (the older `_batch_id` index replaced), and a table the load grew by a tenth vacuumed and analyzed at once, so the
 * next transform plans by fresh statistics and reads the rows per batch and arrival from the index alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { stageOrdersBatch } from '../../test/staged-orders.ts';
import { loadConfig } from '../config.ts';
import { createJobContext, type JobContext } from '../context.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { runLoad } from './index.ts';

const at = new Date('2026-10-01T10:00:00Z');

/** How often the table was vacuumed and analyzed by hand (not by autovacuum, which is off for it). */
async function upkeepCounts(db: SqlDatabase): Promise<{ vacuums: number; analyzes: number }> {
  const [row] = await db.query<{ vacuums: unknown; analyzes: unknown }>(
    `select vacuum_count as vacuums, analyze_count as analyzes from pg_stat_user_tables
     where schemaname = 'bronze' and relname = 'orders'`,
  );
  return { vacuums: Number(row?.vacuums ?? 0), analyzes: Number(row?.analyzes ?? 0) };
}

describe.each(warehouseEngines('bronze_upkeep'))('bronze upkeep by the load on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  let lakeDir: string;
  let context: JobContext;

  beforeEach(async () => {
    ({ db, dispose } = await open());
    lakeDir = mkdtempSync(join(tmpdir(), 'ecomm-bronze-upkeep-'));
    // The older release's index, which the schema upkeep replaces.
    await ensureWarehouseSchema(db);
    await db.exec('drop index if exists bronze.orders__batch_arrival');
    await db.exec('create index orders__batch_id on bronze.orders (_batch_id)');
    await ensureWarehouseSchema(db);
    // Autovacuum off for the table, so every vacuum and analyze counted is the load's.
    await db.exec('alter table bronze.orders set (autovacuum_enabled = false)');
    context = createJobContext(
      loadConfig({ WAREHOUSE_URL: 'pglite://memory', LAKE_URL: `file://${lakeDir}`, LOG_LEVEL: 'warn' }),
      { shared: { warehouse: db } },
    );
    await context.warehouse();
  });

  afterEach(async () => {
    await dispose();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('indexes bronze by batch and arrival, replacing the older batch index', async () => {
    const indexes = await db.query<{ indexname: string; indexdef: string }>(
      "select indexname, indexdef from pg_indexes where schemaname = 'bronze' and tablename = 'orders' order by 1",
    );
    expect(indexes.map((index) => index.indexname)).toEqual(['orders__batch_arrival']);
    expect(indexes[0]?.indexdef).toMatch(/\(_batch_id, _ingested_at\)$/);
  });

  it('indexes the key an incremental silver model reads bronze rows by, when the key stays text', async () => {
    const indexes = await db.query<{ indexname: string; indexdef: string }>(
      "select indexname, indexdef from pg_indexes where schemaname = 'bronze' and tablename = 'order_events' order by 1",
    );
    expect(indexes.map((index) => index.indexname)).toEqual([
      'order_events__batch_arrival',
      'order_events__key_event_id',
    ]);
    expect(indexes[1]?.indexdef).toMatch(
      /USING hash \(\(?(TRIM\(BOTH FROM event_id\)|btrim\(\(event_id\)::text\))\)?\)$/,
    );
    // An integer key is cast from bronze text: not indexed, so a row the cast refuses cannot fail a load.
    const [orderKeys] = await db.query<{ n: number }>(
      "select cast(count(*) as integer) as n from pg_indexes where schemaname = 'bronze' and indexname like 'orders__key%'",
    );
    expect(orderKeys?.n).toBe(0);
  });

  it('vacuums and analyzes a table it grew by a tenth, and leaves a small increment to autovacuum', async () => {
    const before = await upkeepCounts(db);
    await stageOrdersBatch(context.lake(), db, { batchId: 'orders_upkeep_1', first: 1, rows: 3000, at });
    await runLoad(context);
    const grown = await upkeepCounts(db);
    expect(grown).toEqual({ vacuums: before.vacuums + 1, analyzes: before.analyzes + 1 });

    // 100 rows on 3,000 is under a tenth (and under 1,000): nothing done.
    await stageOrdersBatch(context.lake(), db, { batchId: 'orders_upkeep_2', first: 5001, rows: 100, at });
    await runLoad(context);
    expect(await upkeepCounts(db)).toEqual(grown);
  });
});
