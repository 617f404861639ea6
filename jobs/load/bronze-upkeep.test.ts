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
import { loadConfig } from '../config.ts';
import { createJobContext, type JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { markValidated, registerBatch } from '../ops/batches.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { stagingColumns } from '../validate/index.ts';
import { runLoad } from './index.ts';

const at = new Date('2026-10-01T10:00:00Z');

function stagedOrders(batchId: string, first: number, rows: number): string {
  const columns = stagingColumns(contractFor('orders'));
  const lines = [columns.join(',')];
  for (let id = first; id < first + rows; id += 1) {
    const row: Record<string, string> = {
      order_id: String(id),
      customer_id: String(1 + (id % 50)),
      ordered_at: '2026-09-30T10:00:00Z',
      status: 'pending',
      channel: 'web',
      currency: 'USD',
      shipping_amount: '4.99',
      created_at: '2026-09-30T10:00:00Z',
      updated_at: '2026-09-30T10:00:00Z',
      _batch_id: batchId,
      _source_file: `raw/source=orders/${batchId}.csv`,
    };
    lines.push(columns.map((column) => row[column] ?? '').join(','));
  }
  return `${lines.join('\n')}\n`;
}

async function stageBatch(
  context: JobContext,
  db: SqlDatabase,
  batchId: string,
  first: number,
  rows: number,
) {
  const stagedKey = `staging/source=orders/ingestion_date=2026-10-01/${batchId}.csv`;
  await context.lake().put(stagedKey, Buffer.from(stagedOrders(batchId, first, rows)));
  await registerBatch(db, {
    batchId,
    source: 'orders',
    kind: 'table',
    ingestionDate: '2026-10-01',
    rawKey: `raw/source=orders/ingestion_date=2026-10-01/${batchId}.csv`,
    rows,
    at,
  });
  await markValidated(db, batchId, {
    stagedKey,
    quarantineKey: null,
    staged: rows,
    quarantined: 0,
    rescued: 0,
    at,
  });
}

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
    await stageBatch(context, db, 'orders_upkeep_1', 1, 3000);
    await runLoad(context);
    const grown = await upkeepCounts(db);
    expect(grown).toEqual({ vacuums: before.vacuums + 1, analyzes: before.analyzes + 1 });

    // 100 rows on 3,000 is under a tenth (and under 1,000): nothing done.
    await stageBatch(context, db, 'orders_upkeep_2', 5001, 100);
    await runLoad(context);
    expect(await upkeepCounts(db)).toEqual(grown);
  });
});
