import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { buildLayer, buildModels, createBronzeTables, ModelsBlockedError } from './build.ts';
import { loadModels } from './models.ts';
import { BRONZE_FIXTURES, loadBronzeFixtures } from './test-fixtures.ts';

/**
 * A failing blocking check holds back only its model and what is downstream of it (in its layer and the next):
 * every other model of both layers is published with fresh data in the same build, the held-back ones keep their
 * last published tables, and no `__next` table is left. On PGlite and on a real PostgreSQL.
 */

const vars = {};
const models = loadModels();
const STATUS_CHECK = 'silver.orders: accepted_values(status; pending, shipped, delivered, cancelled)';
/** What silver.orders holds back when its status check fails: itself, and the gold models reading it or them. */
const HELD_BY_ORDERS = [
  'gold.agg_customer_kpi',
  'gold.agg_daily_sales',
  'gold.agg_daily_sales_history',
  'gold.agg_product_kpi',
  'gold.agg_sales_kpi',
  'gold.customer_segments',
  'gold.dim_date',
  'gold.fact_order_line_items',
  'gold.fact_orders',
  'gold.marketing_attribution',
  'gold.order_conversions',
  'gold.product_performance',
  'gold.sales_analytics',
  'gold.session_order_products',
  'gold.session_products',
  'silver.orders',
];

const snapshot = async (db: SqlDatabase, table: string) =>
  (await db.query(`select cast(t as varchar(4000)) as row_text from ${table} t order by 1`)).map((row) =>
    String(row.row_text),
  );

async function nextTables(db: SqlDatabase): Promise<unknown[]> {
  return db.query(
    "select table_schema, table_name from information_schema.tables where table_name like '%\\_\\_next'",
  );
}

const batch = {
  _batch_id: 'hold-1',
  _source_file: 'staging/hold-1.csv',
  _ingested_at: '2026-11-07 01:00:00+00',
};
const FRESH_AND_BAD = {
  // Fresh data for unrelated models: a new customer (silver.customers, gold.dim_customers).
  customers: [
    {
      ...(BRONZE_FIXTURES.customers?.[3] as Record<string, string | null>),
      customer_id: '4',
      email: 'dan@example.net',
      updated_at: '2026-11-06T10:00:00Z',
      ...batch,
    },
  ],
  // A status silver.orders' blocking accepted_values test refuses.
  orders: [
    {
      ...(BRONZE_FIXTURES.orders?.[1] as Record<string, string | null>),
      order_id: '990',
      status: 'lost',
      updated_at: '2026-11-06T10:00:00Z',
      ...batch,
    },
  ],
};

const engines = warehouseEngines('hold_back');

describe.each(engines)('a failing blocking check holds back only its downstream on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ db, dispose } = await open());
    await createBronzeTables(db);
    await loadBronzeFixtures(db);
    await buildModels(db, models, { vars });
  });
  afterAll(async () => {
    await dispose?.();
  });

  it('publishes every other silver and gold model with fresh data, and keeps the held-back ones as they were', async () => {
    const held = Object.fromEntries(
      await Promise.all(HELD_BY_ORDERS.map(async (name) => [name, await snapshot(db, name)] as const)),
    );
    await loadBronzeFixtures(db, FRESH_AND_BAD);

    const silver = await buildLayer(db, models, 'silver', { vars });
    expect(silver.blockedBy).toEqual([STATUS_CHECK]);
    expect(silver.blocked).toEqual([
      expect.objectContaining({ name: 'silver.orders', blockedBy: [STATUS_CHECK], build: expect.anything() }),
    ]);
    expect(silver.built.map((result) => result.name).sort()).toEqual(
      models
        .filter((model) => model.layer === 'silver' && model.name !== 'silver.orders')
        .map((model) => model.name)
        .sort(),
    );
    const gold = await buildLayer(db, models, 'gold', { vars, heldBack: silver.blocked });
    expect(gold.blockedBy).toEqual([]);
    // Held back from upstream: never built, each naming the silver check.
    expect(gold.blocked.map((model) => model.name).sort()).toEqual(
      HELD_BY_ORDERS.filter((name) => name.startsWith('gold.')),
    );
    for (const model of gold.blocked) {
      expect(model.blockedBy).toEqual([STATUS_CHECK]);
      expect(model.build).toBeUndefined();
    }
    expect(gold.built.map((result) => result.name).sort()).toEqual([
      'gold.dim_customers',
      'gold.dim_products',
      'gold.fact_cart_events',
      'gold.fact_sessions',
    ]);

    for (const name of HELD_BY_ORDERS) expect(await snapshot(db, name), name).toEqual(held[name]);
    const [fresh] = await db.query<{ silver: number; gold: number }>(
      `select (select cast(count(*) as integer) from silver.customers where customer_id = 4) as silver,
              (select cast(count(*) as integer) from gold.dim_customers where customer_id = 4) as gold`,
    );
    expect(fresh).toEqual({ silver: 1, gold: 1 });
    const [kept] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from silver.orders where order_id = 990',
    );
    expect(kept?.n).toBe(0);
    expect(await nextTables(db)).toEqual([]);
  });

  it('buildModels publishes the rest, then names every held-back model and the check', async () => {
    const error = await buildModels(db, models, { vars }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ModelsBlockedError);
    expect((error as ModelsBlockedError).blockedBy).toEqual([STATUS_CHECK]);
    expect((error as ModelsBlockedError).blocked.map((model) => model.name).sort()).toEqual(HELD_BY_ORDERS);
    expect((error as Error).message).toMatch(/not published: silver\.orders, .*gold\.fact_orders/);
    expect(await nextTables(db)).toEqual([]);

    // Fixed at the source: everything is published again, order 990 included.
    await db.exec("update bronze.orders set status = 'delivered' where _batch_id = 'hold-1'");
    const rebuilt = await buildModels(db, models, { vars });
    expect(rebuilt.map((result) => result.name).sort()).toEqual(models.map((model) => model.name).sort());
    const [published] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from silver.orders where order_id = 990',
    );
    expect(published?.n).toBe(1);
  });

  it('times each model by its own build, one after another', async () => {
    const clockStart = new Date();
    const silver = await buildLayer(db, models, 'silver', { vars });
    expect(silver.built.length).toBeGreaterThan(5);
    let previousEnd = clockStart.getTime();
    for (const result of silver.built) {
      expect(result.startedAt.getTime(), result.name).toBeGreaterThanOrEqual(previousEnd);
      expect(result.finishedAt.getTime()).toBeGreaterThanOrEqual(result.startedAt.getTime());
      // The span recorded is the build's own (ms from the monotonic clock, within the wall clock's rounding).
      expect(result.finishedAt.getTime() - result.startedAt.getTime()).toBeGreaterThanOrEqual(
        Math.floor(result.ms) - 2,
      );
      previousEnd = result.finishedAt.getTime();
    }
    expect(new Set(silver.built.map((result) => result.startedAt.getTime())).size).toBeGreaterThan(1);
  });
});
