/**
 * Load runs bronze tables side by side (LOAD_CONCURRENCY) on PostgreSQL and PGlite: every batch lands once, a
 * table's batches land in ledger order, and a batch held back in one table stops neither its table's later batches
 * nor the other table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { stageBatch, stageOrdersBatch } from '../../test/staged-orders.ts';
import { loadConfig } from '../config.ts';
import { createJobContext, type JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { stagingColumns } from '../validate/index.ts';
import { loadLanes, runLoad } from './index.ts';

const base = new Date('2026-10-01T10:00:00Z');
/** The ledger orders batches by when they were extracted: the k-th batch staged k seconds after base. */
const atSecond = (k: number) => new Date(base.getTime() + k * 1000);

/** A validated products batch of `rows` products from `first`; `staged: false` registers it without its object. */
async function stageProductsBatch(
  context: JobContext,
  db: SqlDatabase,
  batchId: string,
  first: number,
  rows: number,
  options: { staged?: boolean; at?: Date } = {},
): Promise<void> {
  const lines = [stagingColumns(contractFor('products')).join(',')];
  for (let id = first; id < first + rows; id += 1)
    lines.push(
      `${id},SKU-${id},Product ${id},toys,Acme,9.99,USD,true,2026-09-30T10:00:00Z,2026-09-30T10:00:00Z,,${batchId},raw/${batchId}.csv`,
    );
  await stageBatch(context.lake(), db, {
    source: 'products',
    batchId,
    csv: `${lines.join('\n')}\n`,
    rows,
    at: options.at ?? base,
    ...(options.staged === false ? { staged: false } : {}),
  });
}

/** A load context on the shared warehouse with the lake in `lakeDir`, loading `lanes` tables at once. */
function loadContext(db: SqlDatabase, lakeDir: string, lanes: number): JobContext {
  return createJobContext(
    loadConfig({
      WAREHOUSE_URL: 'pglite://memory',
      LAKE_URL: `file://${lakeDir}`,
      LOG_LEVEL: 'warn',
      LOAD_CONCURRENCY: String(lanes),
    }),
    { shared: { warehouse: db } },
  );
}

describe.each(warehouseEngines('load_lanes'))('load, tables side by side, on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  let lakeDir: string;
  let context: JobContext;

  beforeEach(async () => {
    ({ db, dispose } = await open());
    lakeDir = mkdtempSync(join(tmpdir(), 'ecomm-load-lanes-'));
    await ensureWarehouseSchema(db);
    context = loadContext(db, lakeDir, 2);
    await context.warehouse();
  });

  afterEach(async () => {
    await dispose();
    rmSync(lakeDir, { recursive: true, force: true });
  });

  it('loads every batch once, each table in ledger order, the two tables at once', async () => {
    // Ledger order interleaves the tables; the orders batches are larger, so their lane runs longer.
    await stageOrdersBatch(context.lake(), db, {
      batchId: 'orders_1',
      first: 1,
      rows: 4000,
      at: atSecond(1),
    });
    await stageProductsBatch(context, db, 'products_1', 1, 50, { at: atSecond(2) });
    await stageOrdersBatch(context.lake(), db, {
      batchId: 'orders_2',
      first: 4001,
      rows: 4000,
      at: atSecond(3),
    });
    await stageProductsBatch(context, db, 'products_2', 51, 50, { staged: false, at: atSecond(4) });
    await stageOrdersBatch(context.lake(), db, {
      batchId: 'orders_3',
      first: 8001,
      rows: 4000,
      at: atSecond(5),
    });
    await stageProductsBatch(context, db, 'products_3', 101, 50, { at: atSecond(6) });

    const loaded = await runLoad(context);
    // Results in ledger order; products_2 has no staged object: held back, and its table went on.
    expect(loaded.map((batch) => batch.batchId)).toEqual([
      'orders_1',
      'products_1',
      'orders_2',
      'orders_3',
      'products_3',
    ]);
    const failed = await db.query<{ batch_id: string }>(
      'select batch_id from ops.batches where failed_at is not null',
    );
    expect(failed.map((row) => row.batch_id)).toEqual(['products_2']);
    const counts = await db.query<{ batch: string; n: number }>(
      `select _batch_id as batch, cast(count(*) as integer) as n from bronze.orders group by _batch_id
       union all
       select _batch_id as batch, cast(count(*) as integer) as n from bronze.products group by _batch_id
       order by batch`,
    );
    expect(counts).toEqual([
      { batch: 'orders_1', n: 4000 },
      { batch: 'orders_2', n: 4000 },
      { batch: 'orders_3', n: 4000 },
      { batch: 'products_1', n: 50 },
      { batch: 'products_3', n: 50 },
    ]);

    // Within a table, each batch's transaction began after the one before it in the ledger.
    const arrivals = await db.query<{ batch: string }>(
      'select _batch_id as batch from bronze.orders group by _batch_id order by min(_ingested_at)',
    );
    expect(arrivals.map((row) => row.batch)).toEqual(['orders_1', 'orders_2', 'orders_3']);
    // The products lane started while the orders lane was still at work (not after every orders batch).
    const steps = await db.query<{ batch_id: string; started_at: Date; finished_at: Date }>(
      `select batch_id, started_at, finished_at from ops.pipeline_runs where job = 'load' and batch_id is not null`,
    );
    const step = (batchId: string) => steps.find((row) => row.batch_id === batchId);
    expect(new Date(step('products_1')?.started_at ?? 0).getTime()).toBeLessThan(
      new Date(step('orders_3')?.started_at ?? 0).getTime(),
    );
  });

  it('with LOAD_CONCURRENCY=1 loads the batches one after the other in ledger order', async () => {
    const oneLane = loadContext(db, lakeDir, 1);
    await stageOrdersBatch(oneLane.lake(), db, { batchId: 'orders_1', first: 1, rows: 500, at: atSecond(1) });
    await stageProductsBatch(oneLane, db, 'products_1', 1, 20, { at: atSecond(2) });
    await stageOrdersBatch(oneLane.lake(), db, {
      batchId: 'orders_2',
      first: 501,
      rows: 500,
      at: atSecond(3),
    });
    await runLoad(oneLane);
    const steps = await db.query<{ batch_id: string }>(
      `select batch_id from ops.pipeline_runs where job = 'load' and batch_id is not null order by started_at`,
    );
    // orders_1, then orders_2 (the orders lane), then products_1: one lane at a time.
    expect(steps.map((row) => row.batch_id)).toEqual(['orders_1', 'orders_2', 'products_1']);
  });
});

describe('loadLanes', () => {
  it('loads tables side by side, but in turn where writers conflict (Redshift) whatever LOAD_CONCURRENCY says', () => {
    const engine = (writersConflict: boolean) =>
      ({
        concurrency: { connections: 4, locksBlockReaders: writersConflict, writersConflict },
      }) as SqlDatabase;
    expect(loadLanes(engine(false), 3)).toBe(3);
    expect(loadLanes(engine(true), 3)).toBe(1);
  });
});
