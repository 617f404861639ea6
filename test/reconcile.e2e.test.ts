import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase, SqlParam } from '../adapters/warehouse/sql-database.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import { runReconcile } from '../jobs/reconcile/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { goldHashes, openServerPlatform, type ServerPlatform, TEST_AS_OF } from './harness.ts';
import {
  dailySalesFromGold,
  dailySalesFromSource,
  orderNetFromGold,
  orderNetFromSource,
} from './recompute.ts';

/**
 * Late commits, NULL or future updated_at, and hard deletes, on real PostgreSQL (source and warehouse). After each
 * scenario the pipeline runs, and gold must equal an independent recomputation over the surviving source rows:
 * the revenue rule of sql/README.md applied straight to the OLTP tables, leaving out what the contracts reject,
 * what was deleted and what cannot be extracted (updated_at NULL or in the future).
 */
const PII_HASH_KEY = 'reconcile-test-key';

type Platform = ServerPlatform;

async function expectGoldToMatchSource(platform: Platform): Promise<void> {
  const { source, warehouse } = platform;
  const expected = await dailySalesFromSource(source);
  expect(expected.length).toBeGreaterThan(20);
  expect(await dailySalesFromGold(warehouse)).toEqual(expected);
  expect(await orderNetFromGold(warehouse)).toEqual(await orderNetFromSource(source));

  for (const [table, key] of [
    ['orders', 'order_id'],
    ['order_items', 'order_item_id'],
    ['customers', 'customer_id'],
    ['products', 'product_id'],
    ['fx_rates', 'cast(rate_date as varchar(10)) || currency'],
  ] as const) {
    const [row] = await warehouse.query<{ n: number; keys: number }>(
      `select cast(count(*) as integer) as n, cast(count(distinct ${key}) as integer) as keys from silver.${table}`,
    );
    expect(row?.n, `silver.${table} holds one row per key`).toBe(row?.keys);
  }

  // SCD2: exactly one current version per live key, none for a deleted one.
  for (const [dimension, key, table, valid] of [
    ['dim_customers', 'customer_id', 'customers', 'true'],
    ['dim_products', 'product_id', 'products', 'unit_price >= 0'],
  ] as const) {
    const current = await warehouse.query<{ id: number; n: number }>(
      `select ${key} as id, cast(count(*) as integer) as n from gold.${dimension} where is_current
       group by ${key} order by ${key}`,
    );
    expect(
      current.every((row) => row.n === 1),
      `${dimension}: one current row per key`,
    ).toBe(true);
    const live = await source.query<{ id: number }>(
      `select ${key} as id from ${table} where updated_at is not null and updated_at <= now() and ${valid}
       order by ${key}`,
    );
    expect(
      current.map((row) => row.id),
      `${dimension}: current rows are the live source keys`,
    ).toEqual(live.map((row) => row.id));
  }
}

async function watermarkOf(warehouse: SqlDatabase, table: string): Promise<Date> {
  const [row] = await warehouse.query<{ watermark_at: Date }>(
    'select watermark_at from ops.watermarks where source = $1',
    [table],
  );
  if (!row) throw new Error(`no watermark for ${table}`);
  return new Date(row.watermark_at);
}

async function findingOf(warehouse: SqlDatabase, runId: string, checkId: string) {
  const [row] = await warehouse.query<{ status: string; failing_rows: number; details: string | null }>(
    `select status, cast(failing_rows as integer) as failing_rows, details from ops.dq_findings
     where run_id = $1 and check_id = $2`,
    [runId, checkId],
  );
  return row;
}

async function orderInSilver(warehouse: SqlDatabase, orderId: number) {
  const [row] = await warehouse.query<{ status: string; is_deleted: boolean; deleted_at: Date | null }>(
    'select status, is_deleted, deleted_at from silver.orders where order_id = $1',
    [orderId],
  );
  return row;
}

/** A valid order of the given status that has lines, the lowest id above `after`. */
async function pickOrder(source: SqlDatabase, status: string, after = 0): Promise<number> {
  const [row] = await source.query<{ order_id: number }>(
    `select o.order_id from orders o
     where o.status = $1 and o.customer_id is not null and o.order_id > $2 and o.shipping_amount >= 0
       and exists (select 1 from order_items i where i.order_id = o.order_id)
       and not exists (select 1 from order_items i where i.order_id = o.order_id
                       and (i.product_id is null or i.unit_price < 0))
     order by o.order_id limit 1`,
    [status, after],
  );
  if (!row) throw new Error(`no ${status} order after ${after}`);
  return row.order_id;
}

/** Puts rows read with `select *` back as they were (a restore from a backup). */
async function insertRows(
  source: SqlDatabase,
  table: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  for (const row of rows) {
    const columns = Object.keys(row);
    await source.query(
      `insert into ${table} (${columns.join(', ')}) values (${columns.map((_, index) => `$${index + 1}`).join(', ')})`,
      columns.map((column) => row[column] as SqlParam),
    );
  }
}

async function run(platform: Platform): Promise<string> {
  const context = platform.context();
  const result = await runPipeline(context);
  expect(result.blockedBy).toEqual([]);
  expect(result.ok).toBe(true);
  return context.runId;
}

describe('late commits, NULL or future updated_at and hard deletes (PostgreSQL source and warehouse)', () => {
  let platform: Platform;

  beforeAll(async () => {
    process.env.PII_HASH_KEY = PII_HASH_KEY;
    platform = await openServerPlatform('reconcile');
    await createSourceSchema(platform.source);
    await generate({
      db: platform.source,
      stream: platform.context().stream(),
      seed: 5,
      scale: 0.2,
      asOf: TEST_AS_OF,
    });
    await run(platform);
  }, 300_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await platform?.dispose();
  });

  it('builds gold equal to the recomputation from the source, and the reconciliation finds nothing', async () => {
    await expectGoldToMatchSource(platform);
    const runs = await platform.warehouse.query<{ step: string; status: string; message: string }>(
      "select step, status, message from ops.pipeline_runs where job = 'reconcile' order by step",
    );
    // In step, the cheap path is the whole cost: every bucket agrees, no key is listed.
    for (const row of runs) {
      expect(row.status, row.step).toBe('succeeded');
      expect(row.message, row.step).toMatch(/^0 of \d+ key buckets differed, 0 keys compared; 0 deleted/);
    }
    expect(runs.map((row) => row.step)).toEqual([
      'customers',
      'fx_rates',
      'order_items',
      'orders',
      'products',
    ]);
    const [deletes] = await platform.warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from bronze.source_deletes',
    );
    expect(deletes?.n).toBe(0);
  });

  it('picks up a long transaction committed after the extract with an updated_at inside the lookback window', async () => {
    const late = await pickOrder(platform.source, 'pending');
    const other = await pickOrder(platform.source, 'pending', late);
    const newer = await pickOrder(platform.source, 'pending', other);
    const longTransaction = new pg.Client({ connectionString: platform.settings.SOURCE_URL });
    await longTransaction.connect();
    try {
      // now() is the transaction's start: this row's updated_at is older than anything committed after it.
      await longTransaction.query('begin');
      await longTransaction.query(
        "update orders set status = 'shipped', updated_at = now() where order_id = $1",
        [late],
      );
      await platform.source.query(
        "update orders set status = 'shipped', updated_at = now() where order_id = $1",
        [other],
      );
      await run(platform);
      expect((await orderInSilver(platform.warehouse, other))?.status).toBe('shipped');
      // The extract could not see the uncommitted row, and its watermark has moved past it.
      expect((await orderInSilver(platform.warehouse, late))?.status).toBe('pending');
      await longTransaction.query('commit');
    } finally {
      await longTransaction.end();
    }
    await platform.source.query(
      "update orders set status = 'shipped', updated_at = now() where order_id = $1",
      [newer],
    );

    const runId = await run(platform);
    expect((await orderInSilver(platform.warehouse, late))?.status).toBe('shipped');
    expect((await orderInSilver(platform.warehouse, newer))?.status).toBe('shipped');
    // The lookback read it, so the reconciliation had nothing left to repair.
    const finding = await findingOf(platform.warehouse, runId, 'bronze.orders:late_commits');
    expect(finding?.status).toBe('pass');
    const [extract] = await platform.warehouse.query<{ message: string }>(
      "select message from ops.pipeline_runs where run_id = $1 and job = 'extract' and step = 'orders'",
      [runId],
    );
    expect(extract?.message).toMatch(/re-read/);
    await expectGoldToMatchSource(platform);
  });

  it('repairs a late commit older than the lookback window and reports it with its key', async () => {
    const late = await pickOrder(platform.source, 'pending');
    const watermark = await watermarkOf(platform.warehouse, 'orders');
    const stale = new Date(watermark.getTime() - 2 * 3_600_000);
    await platform.source.query("update orders set status = 'shipped', updated_at = $2 where order_id = $1", [
      late,
      stale,
    ]);

    const runId = await run(platform);
    expect((await orderInSilver(platform.warehouse, late))?.status).toBe('shipped');
    const finding = await findingOf(platform.warehouse, runId, 'bronze.orders:late_commits');
    expect(finding?.status).toBe('fail');
    expect(finding?.failing_rows).toBe(1);
    expect(finding?.details).toContain(String(late));
    await expectGoldToMatchSource(platform);

    // Repaired for good: the next run finds nothing and changes nothing.
    const before = await goldHashes(platform.warehouse);
    const again = await run(platform);
    expect((await findingOf(platform.warehouse, again, 'bronze.orders:late_commits'))?.status).toBe('pass');
    expect(await goldHashes(platform.warehouse)).toEqual(before);
  });

  it('reports a source row whose updated_at moved back below the version the warehouse holds', async () => {
    const orderId = await pickOrder(platform.source, 'delivered');
    const [row] = await platform.source.query<{ updated_at: Date }>(
      'select updated_at from orders where order_id = $1',
      [orderId],
    );
    const original = row?.updated_at as Date;
    await platform.source.query('update orders set updated_at = $2 where order_id = $1', [
      orderId,
      new Date(original.getTime() - 86_400_000),
    ]);
    try {
      const runId = await run(platform);
      const finding = await findingOf(platform.warehouse, runId, 'bronze.orders:updated_at_regressions');
      expect(finding?.status).toBe('fail');
      expect(finding?.failing_rows).toBe(1);
      expect(finding?.details).toContain(String(orderId));
      // Re-extracting an older version would change nothing in silver: it is reported, not repaired.
      expect((await findingOf(platform.warehouse, runId, 'bronze.orders:late_commits'))?.status).toBe('pass');
    } finally {
      await platform.source.query('update orders set updated_at = $2 where order_id = $1', [
        orderId,
        original,
      ]);
    }
    const runId = await run(platform);
    expect((await findingOf(platform.warehouse, runId, 'bronze.orders:updated_at_regressions'))?.status).toBe(
      'pass',
    );
  });

  it('refuses to mark more of a table deleted than RECONCILE_MAX_DELETE_PERCENT allows, writing nothing', async () => {
    const [row] = await platform.source.query<{ product_id: number }>(
      'select product_id from products where unit_price >= 0 order by product_id desc limit 1',
    );
    const productId = row?.product_id as number;
    const saved = await platform.source.query('select * from products where product_id = $1', [productId]);
    await platform.source.query('delete from products where product_id = $1', [productId]);
    try {
      const context = platform.context({ settings: { RECONCILE_MAX_DELETE_PERCENT: '0' } });
      await expect(runReconcile(context)).rejects.toThrow(
        /products: 1 of \d+ keys \(.*%\) are gone from the source.*RECONCILE_MAX_DELETE_PERCENT \(0\)/,
      );
      const [deletes] = await platform.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from bronze.source_deletes',
      );
      expect(deletes?.n).toBe(0);
    } finally {
      await insertRows(platform.source, 'products', saved);
    }
  });

  describe('a hard delete', () => {
    let deletedOrder: number;
    let deletedLine: number;
    let deletedCustomer: number;
    let deletedProduct: number;
    let savedOrder: Record<string, unknown>[];
    let savedLines: Record<string, unknown>[];

    beforeAll(async () => {
      const { source } = platform;
      deletedOrder = await pickOrder(source, 'delivered');
      const partly = await pickOrder(source, 'delivered', deletedOrder);
      savedOrder = await source.query('select * from orders where order_id = $1', [deletedOrder]);
      savedLines = await source.query('select * from order_items where order_id = $1', [deletedOrder]);
      const [line] = await source.query<{ order_item_id: number }>(
        'select min(order_item_id) as order_item_id from order_items where order_id = $1',
        [partly],
      );
      deletedLine = line?.order_item_id as number;
      const [customer] = await source.query<{ customer_id: number }>(
        `select c.customer_id from customers c where not exists (select 1 from orders o where o.customer_id = c.customer_id)
         order by c.customer_id limit 1`,
      );
      deletedCustomer = customer?.customer_id as number;
      const [product] = await source.query<{ product_id: number }>(
        `select p.product_id from products p
         where p.unit_price >= 0 and exists (select 1 from order_items i where i.product_id = p.product_id)
         order by p.product_id limit 1`,
      );
      deletedProduct = product?.product_id as number;
      await source.query('delete from order_items where order_id = $1 or order_item_id = $2', [
        deletedOrder,
        deletedLine,
      ]);
      await source.query('delete from orders where order_id = $1', [deletedOrder]);
      await source.query('delete from customers where customer_id = $1', [deletedCustomer]);
      await source.query('delete from products where product_id = $1', [deletedProduct]);
      await run(platform);
    }, 300_000);

    it('flags the rows deleted in silver, with when the deletion was seen', async () => {
      const order = await orderInSilver(platform.warehouse, deletedOrder);
      expect(order?.is_deleted).toBe(true);
      expect(order?.deleted_at).not.toBeNull();
      const lines = await platform.warehouse.query<{ order_item_id: number; is_deleted: boolean }>(
        `select order_item_id, is_deleted from silver.order_items where order_id = $1 or order_item_id = $2
         order by order_item_id`,
        [deletedOrder, deletedLine],
      );
      expect(lines.length).toBe(savedLines.length + 1);
      expect(lines.every((line) => line.is_deleted)).toBe(true);
      const [live] = await platform.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from silver.orders where is_deleted',
      );
      expect(live?.n).toBe(1);
    });

    it('closes the SCD2 versions of the deleted customer and product at the deletion', async () => {
      for (const [dimension, key, id] of [
        ['dim_customers', 'customer_id', deletedCustomer],
        ['dim_products', 'product_id', deletedProduct],
      ] as const) {
        const versions = await platform.warehouse.query<{
          is_current: boolean;
          valid_to: Date | null;
          is_deleted: boolean;
        }>(
          `select is_current, valid_to, is_deleted from gold.${dimension} where ${key} = $1 order by version_number`,
          [id],
        );
        expect(versions.length, dimension).toBeGreaterThan(0);
        expect(
          versions.some((version) => version.is_current),
          dimension,
        ).toBe(false);
        const last = versions.at(-1);
        expect(last?.is_deleted, dimension).toBe(true);
        const [silver] = await platform.warehouse.query<{ deleted_at: Date }>(
          `select deleted_at from silver.${dimension === 'dim_customers' ? 'customers' : 'products'} where ${key} = $1`,
          [id],
        );
        expect(last?.valid_to).toEqual(silver?.deleted_at);
      }
    });

    it('leaves the deleted rows out of every fact and mart, and gold equals the recomputation', async () => {
      const [facts] = await platform.warehouse.query<{ orders: number; lines: number; analytics: number }>(
        `select
           cast((select count(*) from gold.fact_orders where order_id = $1) as integer) as orders,
           cast((select count(*) from gold.fact_order_line_items where order_id = $1 or order_item_id = $2) as integer)
             as lines,
           cast((select count(*) from gold.sales_analytics where order_id = $1 or order_item_id = $2) as integer)
             as analytics`,
        [deletedOrder, deletedLine],
      );
      expect(facts).toEqual({ orders: 0, lines: 0, analytics: 0 });
      const [marts] = await platform.warehouse.query<{ segments: number; performance: number }>(
        `select
           cast((select count(*) from gold.customer_segments where customer_id = $1) as integer) as segments,
           cast((select count(*) from gold.product_performance where product_id = $2) as integer) as performance`,
        [deletedCustomer, deletedProduct],
      );
      expect(marts).toEqual({ segments: 0, performance: 0 });
      await expectGoldToMatchSource(platform);
    });

    it('writes each tombstone once: the next run adds none and changes no gold table', async () => {
      const count = async () =>
        (
          await platform.warehouse.query<{ n: number }>(
            'select cast(count(*) as integer) as n from bronze.source_deletes',
          )
        )[0]?.n;
      expect(await count()).toBe(savedLines.length + 4);
      const before = await goldHashes(platform.warehouse);
      await run(platform);
      expect(await count()).toBe(savedLines.length + 4);
      expect(await goldHashes(platform.warehouse)).toEqual(before);
    });

    it('brings a deleted order back when it reappears in the source', async () => {
      await insertRows(platform.source, 'orders', savedOrder);
      await insertRows(platform.source, 'order_items', savedLines);
      await run(platform);
      expect((await orderInSilver(platform.warehouse, deletedOrder))?.is_deleted).toBe(false);
      const [order] = await platform.warehouse.query<{ n: number }>(
        'select cast(count(*) as integer) as n from gold.fact_orders where order_id = $1',
        [deletedOrder],
      );
      expect(order?.n).toBe(1);
      await expectGoldToMatchSource(platform);
    });
  });

  it('reports rows whose updated_at is NULL or in the future, with their keys, on every run', async () => {
    const [template] = await platform.source.query<Record<string, unknown>>(
      "select * from orders where status = 'delivered' and customer_id is not null order by order_id limit 1",
    );
    const [next] = await platform.source.query<{ id: number }>('select max(order_id) + 1 as id from orders');
    const nullId = next?.id as number;
    const futureId = nullId + 1;
    const insert = `insert into orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount,
      created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
    const values = (id: number, updatedAt: Date | null) => [
      id,
      template?.customer_id as number,
      template?.ordered_at as Date,
      'delivered',
      template?.channel as string,
      template?.currency as string,
      template?.shipping_amount as string,
      template?.created_at as Date,
      updatedAt,
    ];
    await platform.source.query(insert, values(nullId, null));
    await platform.source.query(insert, values(futureId, new Date(Date.now() + 86_400_000)));

    for (let attempt = 0; attempt < 2; attempt += 1) {
      const runId = await run(platform);
      const finding = await findingOf(platform.warehouse, runId, 'bronze.orders:unextractable_updated_at');
      expect(finding?.status).toBe('fail');
      expect(finding?.failing_rows).toBe(2);
      expect(finding?.details).toContain(String(nullId));
      expect(finding?.details).toContain(String(futureId));
      const passing = await platform.warehouse.query<{ check_id: string; status: string }>(
        `select check_id, status from ops.dq_findings where run_id = $1 and check_type = 'unextractable_updated_at'
         and check_id <> 'bronze.orders:unextractable_updated_at'`,
        [runId],
      );
      expect(passing.map((row) => row.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
      // Not a late commit: nothing to repair, and neither row reaches silver.
      expect((await findingOf(platform.warehouse, runId, 'bronze.orders:late_commits'))?.status).toBe('pass');
      expect(await orderInSilver(platform.warehouse, nullId)).toBeUndefined();
      expect(await orderInSilver(platform.warehouse, futureId)).toBeUndefined();
      await expectGoldToMatchSource(platform);
    }
  });
});
