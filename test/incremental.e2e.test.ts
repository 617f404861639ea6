/**
 * Incremental models (jobs/models/incremental.ts) end exactly where a full rebuild would: after runs bringing new
 * and updated rows, late rows inside and beyond the lookback, tombstones and failed batches, every incremental
 * model and every gold table hashes the same as after `--full-refresh` rebuilds them from the same bronze, on
 * PGlite and on the services' PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import type { ModelBuildResult } from '../jobs/models/build.ts';
import { loadModels } from '../jobs/models/models.ts';
import { markBatchFailed } from '../jobs/ops/batches.ts';
import { runPipeline } from '../jobs/run/pipeline.ts';
import { runTransform } from '../jobs/transform/index.ts';
import {
  type EmbeddedPlatform,
  goldHashes,
  openEmbeddedPlatform,
  openServerPlatform,
  seedPlatform,
  tableHash,
} from './harness.ts';

const INCREMENTAL = loadModels()
  .filter((model) => model.incremental)
  .map((model) => model.name);

const HOUR = 3600 * 1000;
const MINUTE = 60 * 1000;

interface Target {
  name: string;
  open(): Promise<EmbeddedPlatform & { dispose?: () => Promise<void> }>;
}

const targets: Target[] = [
  { name: 'PGlite', open: openEmbeddedPlatform },
  {
    name: 'PostgreSQL',
    open: async () => {
      process.env.PII_HASH_KEY ??= 'incremental-test-key';
      return openServerPlatform('incr_e2e', { source: 'pglite' });
    },
  },
];

/**
 * Moves every bronze row `days` back in ingestion time, as if the history had been loaded long ago: the builds
 * after it then see it as settled, beyond the lookback, and apply only what the tests add.
 */
async function backdateBronze(db: SqlDatabase, days: number): Promise<void> {
  const tables = await db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'bronze' order by 1",
  );
  for (const { table_name } of tables)
    await db.exec(`update bronze.${table_name} set _ingested_at = _ingested_at - interval '${days} days'`);
}

describe.each(targets)('incremental models on $name', (target) => {
  let platform: EmbeddedPlatform & { dispose?: () => Promise<void> };
  let db: SqlDatabase;

  beforeAll(async () => {
    platform = await target.open();
    db = platform.warehouse;
    await seedPlatform(platform, 11, 0.2);
    const first = await runPipeline(platform.context());
    expect(first.ok).toBe(true);
    await backdateBronze(db, 30);
    await runTransform(platform.context(), ['silver', 'gold'], { fullRefresh: true });
  }, 240_000);

  afterAll(async () => {
    if (platform.dispose) await platform.dispose();
    else await platform.close();
  });

  const transform = async (fullRefresh = false) =>
    (await runTransform(platform.context(), ['silver', 'gold'], { fullRefresh })).built;
  const modes = (built: ModelBuildResult[]) =>
    Object.fromEntries(
      built.filter((model) => model.incremental).map((model) => [model.name, model.incremental?.mode]),
    );
  const hashes = async () => {
    const all = await goldHashes(db);
    for (const name of INCREMENTAL) all[name] = await tableHash(db, name);
    return all;
  };
  /** The incremental result must be what a full rebuild of the same bronze gives. */
  const expectSameAsFullRebuild = async () => {
    const incremental = await hashes();
    const full = await transform(true);
    expect(new Set(Object.values(modes(full)))).toEqual(new Set(['full']));
    expect(incremental).toEqual(await hashes());
  };
  const highWater = async (table: string) => {
    const [row] = await db.query<{ at: Date }>(`select max(_ingested_at) as at from ${table}`);
    return new Date(row?.at as Date);
  };
  /** Copies some bronze rows into a new batch, changed by `set`, arriving at `ingestedAt`. */
  const copyRows = async (table: string, batch: string, where: string, set: string, ingestedAt: Date) => {
    await db.exec('drop table if exists incr_copy');
    await db.exec(`create temp table incr_copy as select * from ${table} where ${where}`);
    await db.query(`update incr_copy set ${set}, _batch_id = $1, _ingested_at = $2`, [batch, ingestedAt]);
    await db.exec(`insert into ${table} select * from incr_copy`);
    await db.exec('drop table incr_copy');
  };

  it('has the statistics of every bronze table a load filled (1,000 rows or more), for the plans that read them', async () => {
    const never = await db.query<{ name: string }>(
      `select c.relname as name from pg_class c inner join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'bronze' and c.relkind = 'r' and c.reltuples < 0
         and c.relname in ('clickstream_events', 'order_events', 'order_items')`,
    );
    expect(never).toEqual([]);
  });

  it('builds every incremental model whole the first time, then applies only what changed', async () => {
    const again = await transform();
    for (const name of INCREMENTAL) {
      const built = again.find((model) => model.name === name);
      expect(built?.incremental, name).toMatchObject({ mode: 'incremental', keys: 0 });
    }
    await expectSameAsFullRebuild();
  }, 240_000);

  it('new and updated rows, then rows arriving late inside the lookback: applied incrementally, same as full', async () => {
    const now = await highWater('bronze.orders');
    // Updated orders (a later version) and new clickstream events in new batches.
    await copyRows(
      'bronze.orders',
      'incr-updates',
      'cast(trim(order_id) as bigint) % 7 = 0',
      "status = 'cancelled', updated_at = '2026-10-05T00:00:00Z'",
      new Date(now.getTime() + HOUR),
    );
    await copyRows(
      'bronze.clickstream_events',
      'incr-new-events',
      'cast(trim(_stream_offset) as bigint) % 5 = 0',
      "event_id = 'n-' || trim(event_id), session_id = 'n-' || trim(session_id)",
      new Date(now.getTime() + HOUR),
    );
    expect(modes(await transform())).toMatchObject(
      Object.fromEntries(INCREMENTAL.map((name) => [name, 'incremental'])),
    );
    // Late: a load transaction open across that build committed rows stamped 10 minutes before its high-water mark
    // (the models' lookback is 1 hour).
    const mark = await highWater('bronze.clickstream_events');
    await copyRows(
      'bronze.clickstream_events',
      'incr-late-inside',
      'cast(trim(_stream_offset) as bigint) % 11 = 0',
      "event_id = 'l-' || trim(event_id), session_id = 'n-' || trim(session_id), event_type = 'add_to_cart'",
      new Date(mark.getTime() - 10 * MINUTE),
    );
    await copyRows(
      'bronze.order_items',
      'incr-late-items',
      'cast(trim(order_item_id) as bigint) % 9 = 0',
      "quantity = '3', discount_amount = '0', updated_at = '2026-10-06T00:00:00Z'",
      new Date((await highWater('bronze.order_items')).getTime() - 10 * MINUTE),
    );
    const late = modes(await transform());
    expect(late['silver.clickstream_events']).toBe('incremental');
    expect(late['gold.fact_sessions']).toBe('incremental');
    expect(late['silver.order_items']).toBe('incremental');
    const [{ n } = { n: 0 }] = await db.query<{ n: number }>(
      "select cast(count(*) as integer) as n from gold.fact_cart_events where event_id like 'l-%'",
    );
    expect(n).toBeGreaterThan(0);
    await expectSameAsFullRebuild();
  }, 240_000);

  it('a row arriving beyond the lookback is noticed and its model built whole, same as full', async () => {
    const mark = await highWater('bronze.clickstream_events');
    await copyRows(
      'bronze.clickstream_events',
      'incr-late-beyond',
      'cast(trim(_stream_offset) as bigint) % 13 = 0',
      "event_id = 'b-' || trim(event_id)",
      new Date(mark.getTime() - 10 * 24 * HOUR),
    );
    const built = await transform();
    const clicks = built.find((model) => model.name === 'silver.clickstream_events');
    expect(clicks?.incremental).toMatchObject({ mode: 'full', reason: expect.stringMatching(/lookback/) });
    expect(modes(built)['silver.orders']).toBe('incremental');
    await expectSameAsFullRebuild();
  }, 240_000);

  it('tombstones and failed batches reach the incremental models as a full rebuild, same as full', async () => {
    const [order] = await db.query<{ order_id: string }>(
      'select cast(order_id as varchar(20)) as order_id from silver.orders where not is_deleted order by order_id limit 1',
    );
    // Reconcile writes a tombstone later than the order's latest version.
    await db.query(
      `insert into bronze.source_deletes (source, key_text, key_event, detected_at, run_id, _batch_id, _ingested_at)
       values ('orders', $1, 'deleted', $2, 'incr-run', 'incr-tombstone', $2)`,
      [order?.order_id as string, new Date((await highWater('bronze.orders')).getTime() + 2 * HOUR)],
    );
    expect(modes(await transform())['silver.orders']).toBe('incremental');
    const [deleted] = await db.query<{ is_deleted: boolean }>(
      'select is_deleted from silver.orders where cast(order_id as varchar(20)) = $1',
      [order?.order_id as string],
    );
    expect(deleted?.is_deleted).toBe(true);
    // A batch set aside (its bronze rows leave): the updated orders, and one stream batch the pipeline loaded.
    await db.query("delete from bronze.orders where _batch_id = 'incr-updates'");
    const [stream] = await db.query<{ batch_id: string }>(
      "select batch_id from ops.batches where source = 'clickstream' and loaded_at is not null order by batch_id limit 1",
    );
    expect(stream).toBeDefined();
    await markBatchFailed(db, {
      batchId: stream?.batch_id as string,
      step: 'transform',
      reason: 'test: set aside',
      at: new Date(),
    });
    const afterFailure = modes(await transform());
    expect(afterFailure['silver.orders']).toBe('incremental');
    expect(afterFailure['silver.clickstream_events']).toBe('incremental');
    await expectSameAsFullRebuild();
  }, 240_000);

  it('order facts: changed lines applied by order, FX and product/customer versions, deleted lines: same as full', async () => {
    let results: ModelBuildResult[] = [];
    const built = async () => {
      results = await transform();
      return (name: string) => results.find((model) => model.name === name)?.incremental;
    };
    /** The models kept as published: not incremental, their SQL and inputs as at their last build. */
    const kept = () => results.filter((model) => model.unchanged).map((model) => model.name);
    const next = async (table: string) => new Date((await highWater(table)).getTime() + HOUR);
    // Changed lines of existing orders (a later version): fact_orders recomputes their orders, and
    // fact_order_line_items every line of those orders (recompute_key=order_id).
    await copyRows(
      'bronze.order_items',
      'incr-lines',
      'cast(trim(order_item_id) as bigint) % 10 = 3',
      "quantity = '2', discount_amount = '0', updated_at = '2027-06-01T00:00:00Z'",
      await next('bronze.order_items'),
    );
    let incremental = await built();
    expect(incremental('gold.fact_orders')).toMatchObject({ mode: 'incremental', keys: expect.any(Number) });
    expect(incremental('gold.fact_orders')?.keys).toBeGreaterThan(0);
    expect(incremental('gold.fact_order_line_items')?.mode).toBe('incremental');
    // Nothing they read changed: the dimensions and the FX, product and customer tables are kept, not rebuilt.
    expect(kept()).toEqual(
      expect.arrayContaining([
        'silver.fx_rates',
        'silver.products',
        'gold.dim_products',
        'gold.dim_customers',
      ]),
    );
    expect(kept()).not.toContain('gold.sales_analytics');
    // Gold on gold: the wide mart recomputes the orders its inputs' increments recomputed, and the product KPIs the
    // order dates of those orders' lines.
    // (Only orders with rows in the facts, before or after: a recomputed order without lines names no line here.)
    expect(incremental('gold.sales_analytics')?.mode).toBe('incremental');
    expect(incremental('gold.sales_analytics')?.keys).toBeGreaterThan(0);
    expect(incremental('gold.sales_analytics')?.keys).toBeLessThanOrEqual(
      incremental('gold.fact_orders')?.keys as number,
    );
    expect(incremental('gold.agg_product_kpi')?.mode).toBe('incremental');
    expect(incremental('gold.agg_product_kpi')?.keys).toBeGreaterThan(0);
    await expectSameAsFullRebuild();
    // A new FX rate version names no order (whole_on=silver.fx_rates): both facts built whole.
    await copyRows(
      'bronze.fx_rates',
      'incr-fx',
      "trim(currency) = 'EUR'",
      "rate_to_usd = '1.5', updated_at = '2027-06-01T00:00:00Z'",
      await next('bronze.fx_rates'),
    );
    incremental = await built();
    expect(incremental('gold.fact_orders')).toMatchObject({
      mode: 'full',
      reason: expect.stringContaining('silver.fx_rates changed'),
    });
    expect(incremental('gold.fact_order_line_items')?.mode).toBe('full');
    expect(incremental('gold.sales_analytics')).toMatchObject({
      mode: 'full',
      reason: expect.stringMatching(/gold\.fact_order.* changes in this build \(built whole\)/),
    });
    await expectSameAsFullRebuild();
    // New product and customer versions change the dimensions and what reads them, not the order facts.
    await copyRows(
      'bronze.products',
      'incr-products',
      'cast(trim(product_id) as bigint) % 4 = 1',
      "category = 'Renamed', updated_at = '2027-06-01T00:00:00Z'",
      await next('bronze.products'),
    );
    await copyRows(
      'bronze.customers',
      'incr-customers',
      'cast(trim(customer_id) as bigint) % 4 = 1',
      "loyalty_tier = 'gold', updated_at = '2027-06-01T00:00:00Z'",
      await next('bronze.customers'),
    );
    incremental = await built();
    expect(incremental('gold.fact_orders')).toMatchObject({ mode: 'incremental', keys: 0 });
    expect(kept()).not.toContain('gold.dim_products');
    expect(kept()).not.toContain('gold.dim_customers');
    expect(kept()).toContain('silver.fx_rates');
    expect(incremental('gold.sales_analytics')).toMatchObject({
      mode: 'full',
      reason: expect.stringMatching(/gold\.dim_.* changes in this build \(built whole\)/),
    });
    await expectSameAsFullRebuild();
    // A deleted line (a tombstone: whole_on=silver.deleted_keys) leaves both facts, built whole.
    const [line] = await db.query<{ order_item_id: string }>(
      'select cast(order_item_id as varchar(20)) as order_item_id from gold.fact_order_line_items order by 1 limit 1',
    );
    await db.query(
      `insert into bronze.source_deletes (source, key_text, key_event, detected_at, run_id, _batch_id, _ingested_at)
       values ('order_items', $1, 'deleted', $2, 'incr-run', 'incr-line-tombstone', $2)`,
      [line?.order_item_id as string, new Date('2027-07-01T00:00:00Z')],
    );
    incremental = await built();
    expect(incremental('gold.fact_order_line_items')).toMatchObject({
      mode: 'full',
      reason: expect.stringContaining('bronze.source_deletes changed'),
    });
    const [gone] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from gold.fact_order_line_items where cast(order_item_id as varchar(20)) = $1',
      [line?.order_item_id as string],
    );
    expect(gone?.n).toBe(0);
    await expectSameAsFullRebuild();
  }, 300_000);

  it('product funnel: a purchase naming an order, and a line added to a purchased order, recompute their sessions only', async () => {
    const results = async () => {
      const built = await transform();
      return (name: string) => built.find((model) => model.name === name)?.incremental;
    };
    const next = async (table: string) => new Date((await highWater(table)).getTime() + HOUR);
    // A second purchase event naming an existing order, in another existing session that viewed products.
    const [pair] = await db.query<{ session_id: string; order_id: string }>(
      `select min(viewed.session_id) as session_id, cast(min(lines.order_id) as varchar(20)) as order_id
       from silver.clickstream_events viewed, gold.fact_order_line_items lines
       where viewed.event_type = 'product_view' and viewed.session_id not in
         (select session_id from silver.clickstream_events where event_type = 'purchase')`,
    );
    expect(pair?.order_id).toBeDefined();
    await copyRows(
      'bronze.clickstream_events',
      'incr-purchase-by-order',
      `event_id = (select min(event_id) from bronze.clickstream_events where trim(event_type) = 'product_view')`,
      `event_id = 'p-' || trim(event_id), event_type = 'purchase', product_id = null, ` +
        `order_id = '${pair?.order_id}', session_id = '${pair?.session_id}'`,
      await next('bronze.clickstream_events'),
    );
    let incremental = await results();
    expect(incremental('gold.session_order_products')).toMatchObject({ mode: 'incremental' });
    expect(incremental('gold.session_order_products')?.keys).toBe(1);
    expect(incremental('gold.session_products')?.mode).toBe('incremental');
    const [purchased] = await db.query<{ n: number }>(
      'select cast(count(*) as integer) as n from gold.session_products where session_id = $1 and is_purchased',
      [pair?.session_id as string],
    );
    expect(purchased?.n).toBeGreaterThan(0);
    await expectSameAsFullRebuild();
    // A new line, of another product, on that order: the sessions naming the order gain it as purchased.
    await copyRows(
      'bronze.order_items',
      'incr-line-added',
      `order_item_id = (select min(order_item_id) from bronze.order_items where cast(trim(order_id) as bigint) = ${Number(pair?.order_id)})`,
      'order_item_id = (select cast(max(cast(trim(order_item_id) as bigint)) + 1 as varchar(20)) from bronze.order_items), ' +
        'product_id = ' +
        "(select min(trim(product_id)) from bronze.products), updated_at = '2027-07-01T00:00:00Z'",
      await next('bronze.order_items'),
    );
    incremental = await results();
    expect(incremental('gold.session_order_products')?.mode).toBe('incremental');
    expect(incremental('gold.session_products')?.mode).toBe('incremental');
    expect(incremental('gold.session_products')?.keys).toBeGreaterThan(0);
    await expectSameAsFullRebuild();
  }, 240_000);

  it("attribution: an anonymous session converting an order, then its late landing, recompute that order's customer", async () => {
    const results = async () => {
      const built = await transform();
      return (name: string) => built.find((model) => model.name === name)?.incremental;
    };
    const next = async (table: string) => new Date((await highWater(table)).getTime() + HOUR);
    const [converted] = await db.query<{ order_id: number }>(
      'select min(order_id) as order_id from gold.marketing_attribution where converting_session_id is not null',
    );
    const orderId = Number(converted?.order_id);
    expect(orderId).toBeGreaterThan(0);
    // A second purchase naming the order, from a session with no customer: it names the order alone.
    await copyRows(
      'bronze.clickstream_events',
      'incr-anon-purchase',
      `event_id = (select min(event_id) from bronze.clickstream_events
         where trim(event_type) = 'purchase' and trim(order_id) = '${orderId}')`,
      "event_id = 'anon-buy', session_id = 'anon-converting', customer_id = null, customer_key = null, " +
        // A year after the order: later than any of its sessions (the tests before add some), so its landing will be
        // the last touch.
        `occurred_at = (select cast(ordered_at + interval '365 days' as varchar(40)) from gold.fact_orders
           where order_id = ${orderId})`,
      await next('bronze.clickstream_events'),
    );
    let incremental = await results();
    expect(incremental('gold.order_conversions')).toMatchObject({ mode: 'incremental', keys: 1 });
    expect(incremental('gold.marketing_attribution')).toMatchObject({ mode: 'incremental', keys: 1 });
    await expectSameAsFullRebuild();
    // Its landing page view arrives late, with a campaign: only the session changes, and the order gains a touch.
    await copyRows(
      'bronze.clickstream_events',
      'incr-anon-landing',
      "event_id = 'anon-buy'",
      "event_id = 'anon-land', event_type = 'page_view', order_id = null, utm_source = 'Late_Partner', " +
        "utm_medium = 'referral', utm_campaign = 'late', " +
        "occurred_at = cast(cast(trim(occurred_at) as timestamptz) - interval '5 minutes' as varchar(40))",
      await next('bronze.clickstream_events'),
    );
    incremental = await results();
    expect(incremental('gold.order_conversions')).toMatchObject({ mode: 'incremental', keys: 0 });
    expect(incremental('gold.marketing_attribution')).toMatchObject({ mode: 'incremental', keys: 1 });
    const [touched] = await db.query<{ sources: string }>(
      `select first_touch_source || ' ' || last_touch_source as sources from gold.marketing_attribution
       where order_id = $1`,
      [orderId],
    );
    expect(touched?.sources).toContain('late_partner');
    await expectSameAsFullRebuild();
  }, 240_000);

  it('gold on gold: an order moved to another day recomputes both days; a missed publication builds whole', async () => {
    const result = async (only?: string[]) => {
      const built = (await runTransform(platform.context(), ['silver', 'gold'], only ? { only } : {})).built;
      return (name: string) => built.find((model) => model.name === name)?.incremental;
    };
    await result();
    const [latest] = await db.query<{ day: string }>(
      'select cast(max(order_date) as varchar(10)) as day from gold.fact_orders',
    );
    const daysBefore = (count: number) =>
      new Date(Date.parse(`${latest?.day}T00:00:00Z`) - count * 24 * HOUR).toISOString().slice(0, 10);
    // A source correction moves some orders to one day, then to another: the first day's product rows must lose them.
    for (const [batch, day] of [
      ['incr-moved-1', daysBefore(2)],
      ['incr-moved-2', daysBefore(3)],
    ] as const) {
      await copyRows(
        'bronze.orders',
        batch,
        'cast(trim(order_id) as bigint) % 10 = 7',
        `ordered_at = '${day}T12:00:00Z', updated_at = '${latest?.day}T23:00:00Z'`,
        new Date((await highWater('bronze.orders')).getTime() + HOUR),
      );
      const incremental = await result();
      expect(incremental('gold.sales_analytics')?.mode).toBe('incremental');
      expect(incremental('gold.agg_product_kpi')?.mode).toBe('incremental');
      // The days the moved orders left and the day they reached.
      expect(incremental('gold.agg_product_kpi')?.keys).toBeGreaterThanOrEqual(2);
      await expectSameAsFullRebuild();
    }
    // Only the order facts built: the mart missed their publication and is built whole next time.
    await copyRows(
      'bronze.orders',
      'incr-missed',
      'cast(trim(order_id) as bigint) % 10 = 1',
      "status = 'cancelled', updated_at = '2027-06-04T00:00:00Z'",
      new Date((await highWater('bronze.orders')).getTime() + HOUR),
    );
    expect((await result(['silver.orders', 'gold.fact_orders']))('gold.fact_orders')?.mode).toBe(
      'incremental',
    );
    const next = await result();
    expect(next('gold.sales_analytics')).toMatchObject({
      mode: 'full',
      reason: expect.stringContaining("gold.fact_orders was published since this model's last build"),
    });
    expect(next('gold.agg_product_kpi')).toMatchObject({
      mode: 'full',
      reason: expect.stringContaining('built whole'),
    });
    await expectSameAsFullRebuild();
  }, 300_000);

  it('gold on gold: an order status moving on recomputes no key of the marts that read no status; a cancellation does', async () => {
    const result = async () => {
      const built = (await runTransform(platform.context(), ['silver', 'gold'], {})).built;
      return (name: string) => built.find((model) => model.name === name)?.incremental;
    };
    await result();
    // The latest bronze version of some pending orders, again in a new batch with the next status.
    const advance = async (batch: string, from: string, to: string, updatedAt: string) =>
      copyRows(
        'bronze.orders',
        batch,
        `cast(trim(order_id) as bigint) % 10 = 3 and _batch_id = (select s._batch_id from silver.orders s
           where s.order_id = cast(trim(bronze.orders.order_id) as bigint) and s.status = '${from}')`,
        `status = '${to}', updated_at = '${updatedAt}'`,
        new Date((await highWater('bronze.orders')).getTime() + HOUR),
      );
    await advance('incr-shipped', 'pending', 'shipped', '2027-06-05T00:00:00Z');
    const shipped = await result();
    expect(shipped('gold.fact_orders')?.keys).toBeGreaterThan(0);
    expect(shipped('gold.sales_analytics')?.keys).toBeGreaterThan(0);
    // They read amounts, dates, customers and cancellation, not the status: their rows are what they were.
    expect(shipped('gold.agg_product_kpi')).toMatchObject({ mode: 'incremental', keys: 0 });
    expect(shipped('gold.marketing_attribution')).toMatchObject({ mode: 'incremental', keys: 0 });
    await expectSameAsFullRebuild();
    await result();
    await advance('incr-cancelled', 'shipped', 'cancelled', '2027-06-06T00:00:00Z');
    const cancelled = await result();
    expect(cancelled('gold.agg_product_kpi')?.keys).toBeGreaterThan(0);
    expect(cancelled('gold.marketing_attribution')?.keys).toBeGreaterThan(0);
    await expectSameAsFullRebuild();
  }, 300_000);
});
