import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { recordingQueries } from '../../test/pg-database.ts';
import {
  buildLayer,
  buildModels,
  createBronzeTables,
  type ModelBuildResult,
  renderModelSql,
} from './build.ts';
import { runModelTests } from './model-tests.ts';
import { loadModels, type Model, parseModel } from './models.ts';
import { FIXTURE_PII, FIXTURE_PII_HASH_KEY, loadBronzeFixtures } from './test-fixtures.ts';

const vars = {};

let db: SqlDatabase;
let models: Model[];
let firstBuild: ModelBuildResult[];

beforeAll(async () => {
  db = await openPglite('pglite://memory');
  models = loadModels();
  await createBronzeTables(db);
  await loadBronzeFixtures(db);
  firstBuild = await buildModels(db, models, { vars });
});

afterAll(async () => {
  await db.close();
});

const rows = (sql: string) => db.query(sql);
const one = async (sql: string) => (await db.query(sql))[0] ?? {};

/** Every gold table's rows as text, in a stable order: the unit of parity and idempotence checks. */
async function snapshotGold(): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const model of models.filter((entry) => entry.layer === 'gold')) {
    const result = await db.query(`select t::text as row_text from ${model.name} t order by 1`);
    snapshot[model.name] = result.map((row) => String(row.row_text));
  }
  return snapshot;
}

describe('buildModels', () => {
  it('builds every model, a layer at a time, each after what it reads, and reports rows and timings', () => {
    const order = firstBuild.map((result) => result.name);
    expect([...order].sort()).toEqual(models.map((model) => model.name).sort());
    expect(firstBuild.findLastIndex((result) => result.layer === 'silver')).toBeLessThan(
      firstBuild.findIndex((result) => result.layer === 'gold'),
    );
    for (const model of models) {
      for (const dep of model.dependsOn.filter((name) => order.includes(name)))
        expect(order.indexOf(dep), `${model.name} after ${dep}`).toBeLessThan(order.indexOf(model.name));
    }
    for (const result of firstBuild) {
      expect(result.ms).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(result.rows)).toBe(true);
    }
    const rowsOf = Object.fromEntries(firstBuild.map((result) => [result.name, result.rows]));
    expect(rowsOf).toMatchObject({
      'silver.customers': 3,
      'silver.customer_versions': 4,
      'silver.orders': 5,
      'silver.fx_rates': 5,
      'silver.clickstream_events': 10,
      'silver.order_events': 3,
      'gold.dim_date': 5,
    });
  });

  it('builds only the requested layers', async () => {
    const silverOnly = await buildModels(db, models, { vars, layers: ['silver'] });
    expect(silverOnly.map((result) => result.layer)).toEqual(
      models.filter((m) => m.layer === 'silver').map(() => 'silver'),
    );
  });

  it('leaves no __next tables behind', async () => {
    const leftovers = await rows(
      "select table_schema, table_name from information_schema.tables where table_name like '%\\_\\_next'",
    );
    expect(leftovers).toEqual([]);
  });

  it("indexes the columns increments find rows by: keys, change stamps, readers' recompute keys, keyed_via lookups, relationships", async () => {
    const indexed = async (table: string) =>
      (
        await rows(
          `select substring(indexdef from '\\(([a-z_]+)\\)$') as column_name from pg_indexes
           where schemaname || '.' || tablename = '${table}' order by 1`,
        )
      ).map((row) => row.column_name);
    // Its key, its change stamp, and the recompute keys of fact_sessions, session_order_products and friends.
    expect(await indexed('silver.clickstream_events')).toEqual([
      '_processed_at',
      'event_id',
      'order_id',
      'session_id',
    ]);
    expect(await indexed('gold.order_conversions')).toEqual(['customer_key', 'order_id', 'session_id']);
    // Read whole by its only incremental reader's keyed_via: its own key alone.
    expect(await indexed('gold.fact_sessions')).toEqual(['session_id']);
    // Its recompute key, and the columns its blocking relationships checks find the rows pointing at a changed
    // order or session by.
    expect(await indexed('gold.marketing_attribution')).toEqual([
      'converting_session_id',
      'customer_key',
      'first_touch_session_id',
      'last_touch_session_id',
      'order_id',
    ]);
  });

  it('analyzes the columns increments look rows up by, so they plan by real key counts before autovacuum passes', async () => {
    const analyzed = async (table: string) =>
      (
        await rows(
          `select attname from pg_stats where schemaname || '.' || tablename = '${table}' order by attname`,
        )
      ).map((row) => row.attname);
    expect(await analyzed('silver.clickstream_events')).toEqual([
      '_processed_at',
      'event_id',
      'order_id',
      'session_id',
    ]);
    expect(await analyzed('gold.order_conversions')).toEqual(['customer_key', 'order_id', 'session_id']);
  });

  it('names the model file and carries the database message when a model fails', async () => {
    const broken = parseModel(
      'sql/gold/broken.sql',
      '-- grain: one row per nothing\nselect no_such_column from silver.orders',
      'gold',
    );
    await expect(buildModels(db, [broken], { vars })).rejects.toThrow(
      /model gold\.broken \(sql\/gold\/broken\.sql\) failed to build: column "no_such_column" does not exist/,
    );
    const [kept] = await rows(
      "select count(*)::int as n from information_schema.tables where table_name = 'broken'",
    );
    expect(kept?.n).toBe(0);
  });

  it('publishes nothing and names the check when a check query itself fails', async () => {
    const badCheck = parseModel(
      'sql/silver/bad_check.sql',
      '-- grain: one row per id\n-- test: expression(no_such_column > 0)\nselect 1 as id',
      'silver',
    );
    await expect(buildLayer(db, [badCheck], 'silver', { vars })).rejects.toThrow(
      /silver\.bad_check: expression\(no_such_column > 0\) \(sql\/silver\/bad_check\.sql\): check query failed: column "no_such_column" does not exist/,
    );
    const left = await rows(
      "select table_name from information_schema.tables where table_name in ('bad_check', 'bad_check__next')",
    );
    expect(left).toEqual([]);
  });

  it('fails a relationships test whose target table does not exist on every non-null value (warn warns, blocking blocks)', async () => {
    const orphans = parseModel(
      'sql/silver/orphans.sql',
      [
        '-- grain: one row per id',
        '-- test[warn]: relationships(id; silver.never_built.id)',
        '-- test: relationships(parent_id; silver.never_built.id)',
        'select 1 as id, 7 as parent_id union all select 2, null',
      ].join('\n'),
      'silver',
    );
    const warned = await buildLayer(db, [{ ...orphans, tests: orphans.tests.slice(0, 1) }], 'silver', {
      vars,
    });
    expect(warned.blockedBy).toEqual([]);
    expect(warned.checks[0]).toMatchObject({
      passed: false,
      failingRows: 2,
      details: '2 failing row(s), e.g. 1; 2 (silver.never_built does not exist)',
    });
    expect(await one('select count(*)::int as n from silver.orphans')).toEqual({ n: 2 });
    await db.exec('drop table silver.orphans');
    const blocked = await buildLayer(db, [orphans], 'silver', { vars });
    expect(blocked.blockedBy).toEqual(['silver.orphans: relationships(parent_id; silver.never_built.id)']);
    const left = await rows(
      "select table_name from information_schema.tables where table_name in ('orphans', 'orphans__next')",
    );
    expect(left).toEqual([]);
  });

  it('renders the Redshift spelling of the dialect helpers', () => {
    const factSessions = models.find((model) => model.name === 'gold.fact_sessions') as Model;
    const redshift = renderModelSql(factSessions, 'redshift', vars);
    expect(redshift).toContain('datediff(second, ');
    expect(redshift).not.toContain('{{');
  });
});

describe('silver', () => {
  it('keeps the latest version of each row, and the latest load of a version extracted twice', async () => {
    expect(await one('select status, _processed_at from silver.orders where order_id = 100')).toEqual({
      status: 'delivered',
      _processed_at: new Date('2026-11-02T01:00:00Z'),
    });
    expect(
      await one(
        'select city, loyalty_tier, email_masked, country_code, _batch_id from silver.customers where customer_id = 1',
      ),
    ).toEqual({
      city: 'Lyon',
      loyalty_tier: 'silver',
      email_masked: 'j***@example.com',
      country_code: 'FR',
      _batch_id: 'b3',
    });
    expect(
      await one(
        "select rate_to_usd from silver.fx_rates where currency = 'EUR' and rate_date = '2026-11-01'",
      ),
    ).toEqual({
      rate_to_usd: '1.08500000',
    });
    expect(await one('select currency from silver.orders where order_id = 101')).toEqual({ currency: 'USD' });
  });

  it('keeps one row per distinct version for SCD2', async () => {
    const versions = await rows(
      'select version_number, city from silver.customer_versions where customer_id = 1 order by version_number',
    );
    expect(versions).toEqual([
      { version_number: 1, city: 'Paris' },
      { version_number: 2, city: 'Lyon' },
    ]);
  });

  it('deduplicates redelivered events (first delivery wins) and flags late events', async () => {
    expect(
      await one(
        "select count(*)::int as n, min(_batch_id) as batch from silver.clickstream_events where event_id = 'e5'",
      ),
    ).toEqual({
      n: 1,
      batch: 's1',
    });
    expect(await one("select count(*)::int as n from silver.order_events where event_id = 'oe2'")).toEqual({
      n: 1,
    });
    const late = await rows('select event_id from silver.clickstream_events where is_late order by event_id');
    expect(late).toEqual([{ event_id: 'e10' }]);
    expect(
      await one("select event_date::text as d from silver.clickstream_events where event_id = 'e10'"),
    ).toEqual({
      d: '2026-10-30',
    });
  });
});

describe('gold', () => {
  it('converts a non-USD order with the rate of its UTC order date, rounded per order', async () => {
    // Order 100 (EUR): 2 × 10.00 − 1.00 + 1 × 5.50 = 24.50 EUR × 1.085 (2026-11-01) = 26.5825 → 26.58.
    expect(
      await one(
        'select net_amount, gross_amount, discount_amount, fx_rate_to_usd, net_amount_usd, shipping_amount_usd, item_count from gold.fact_orders where order_id = 100',
      ),
    ).toEqual({
      net_amount: '24.50',
      gross_amount: '25.50',
      discount_amount: '1.00',
      fx_rate_to_usd: '1.08500000',
      net_amount_usd: '26.58',
      shipping_amount_usd: '5.41',
      item_count: 3,
    });
    // Order 103 (GBP) at 23:59:59 UTC on 11-03 uses the 11-03 rate: 20.00 × 1.26845 = 25.369 → 25.37.
    expect(
      await one('select order_date::text as d, net_amount_usd from gold.fact_orders where order_id = 103'),
    ).toEqual({
      d: '2026-11-03',
      net_amount_usd: '25.37',
    });
    // Order 104 (JPY): 3000 × 0.0067 = 20.10; order 101 (USD, no USD rate row) uses 1.
    expect(await one('select net_amount_usd from gold.fact_orders where order_id = 104')).toEqual({
      net_amount_usd: '20.10',
    });
    expect(
      await one('select fx_rate_to_usd, net_amount_usd from gold.fact_orders where order_id = 101'),
    ).toEqual({
      fx_rate_to_usd: '1.00000000',
      net_amount_usd: '12.00',
    });
  });

  it('excludes cancelled orders from revenue, order counts and AOV, and fills quiet days with zeros', async () => {
    const daily = await rows(
      'select order_date::text as d, order_count, item_count, revenue_usd, aov_usd, new_customers, cancelled_order_count from gold.agg_daily_sales order by order_date',
    );
    expect(daily).toEqual([
      {
        d: '2026-11-01',
        order_count: 2,
        item_count: 4,
        revenue_usd: '38.58',
        aov_usd: '19.29',
        new_customers: 1,
        cancelled_order_count: 0,
      },
      {
        d: '2026-11-02',
        order_count: 0,
        item_count: 0,
        revenue_usd: '0.00',
        aov_usd: null,
        new_customers: 1,
        cancelled_order_count: 1,
      },
      {
        d: '2026-11-03',
        order_count: 1,
        item_count: 4,
        revenue_usd: '25.37',
        aov_usd: '25.37',
        new_customers: 0,
        cancelled_order_count: 0,
      },
      {
        d: '2026-11-04',
        order_count: 0,
        item_count: 0,
        revenue_usd: '0.00',
        aov_usd: null,
        new_customers: 0,
        cancelled_order_count: 0,
      },
      {
        d: '2026-11-05',
        order_count: 1,
        item_count: 2,
        revenue_usd: '20.10',
        aov_usd: '20.10',
        new_customers: 0,
        cancelled_order_count: 0,
      },
    ]);
    const kpi = await rows(
      'select order_date::text as d, order_count, revenue_usd from gold.agg_sales_kpi order by order_date',
    );
    expect(kpi.map((row) => [row.d, row.order_count, row.revenue_usd])).toEqual(
      daily.map((row) => [row.d, row.order_count, row.revenue_usd]),
    );
    expect(
      await one('select sum(units_sold)::int as units from gold.agg_product_kpi where product_id = 20'),
    ).toEqual({ units: 5 });
  });

  it('closes the old SCD2 version and opens the new one', async () => {
    const versions = await rows(
      'select version_number, city, loyalty_tier, valid_from, valid_to, is_current from gold.dim_customers where customer_id = 1 order by version_number',
    );
    expect(versions).toEqual([
      {
        version_number: 1,
        city: 'Paris',
        loyalty_tier: 'bronze',
        valid_from: new Date('2026-10-01T09:00:00Z'),
        valid_to: new Date('2026-11-01T12:00:00Z'),
        is_current: false,
      },
      {
        version_number: 2,
        city: 'Lyon',
        loyalty_tier: 'silver',
        valid_from: new Date('2026-11-01T12:00:00Z'),
        valid_to: null,
        is_current: true,
      },
    ]);
    expect(
      await one(
        'select email_masked, phone_masked from gold.dim_customers where customer_id = 1 and is_current',
      ),
    ).toEqual({
      email_masked: 'j***@example.com',
      phone_masked: '***78',
    });
  });

  it('joins each order line to the dimension versions valid when it was ordered', async () => {
    // Order 100 was placed at 10:00 on 11-01: before Jane moved (12:00) and before the price change (11:00).
    expect(
      await one('select customer_city, unit_price from gold.sales_analytics where order_item_id = 1000'),
    ).toEqual({
      customer_city: 'Paris',
      unit_price: '10.00',
    });
    expect(await one('select customer_city from gold.sales_analytics where order_item_id = 1005')).toEqual({
      customer_city: 'Lyon',
    });
  });

  it('builds sessions, cart events, segments and the product funnel', async () => {
    expect(
      await one(
        "select event_count, purchase_count, has_purchase, device, duration_seconds from gold.fact_sessions where session_id = 'sess-a'",
      ),
    ).toEqual({
      event_count: 5,
      purchase_count: 1,
      has_purchase: true,
      device: 'desktop',
      duration_seconds: 600,
    });
    expect(
      await one(
        "select sum(quantity_delta)::int as net from gold.fact_cart_events where session_id = 'sess-b'",
      ),
    ).toEqual({ net: 0 });
    const segments = await rows(
      'select customer_id, segment, order_count from gold.customer_segments order by customer_id',
    );
    expect(segments).toEqual([
      { customer_id: 1, segment: 'loyal', order_count: 2 },
      { customer_id: 2, segment: 'new', order_count: 1 },
      { customer_id: 3, segment: 'new', order_count: 1 },
    ]);
    expect(
      await rows(
        'select product_id, view_session_count, purchase_session_count, view_to_purchase_rate from gold.product_performance order by product_id',
      ),
    ).toEqual([
      { product_id: 10, view_session_count: 1, purchase_session_count: 1, view_to_purchase_rate: '1.0000' },
      { product_id: 20, view_session_count: 1, purchase_session_count: 0, view_to_purchase_rate: '0.0000' },
    ]);
  });

  it('carries the keyed hashes derived at validation: HMAC-SHA256 under the PII key, the same in every table', async () => {
    const hmac = (text: string) => createHmac('sha256', FIXTURE_PII_HASH_KEY).update(text).digest('hex');
    expect(
      await one(
        'select customer_key, email_hash, street_address_hash from gold.dim_customers where customer_id = 1 and is_current',
      ),
    ).toEqual({
      customer_key: hmac('1'),
      email_hash: hmac('jane.doe@example.com'),
      street_address_hash: hmac('12 Rue de Rivoli'),
    });
    expect(await one('select customer_key from gold.fact_orders where order_id = 100')).toEqual({
      customer_key: hmac('1'),
    });
    expect(
      await rows('select distinct customer_key from gold.fact_sessions where customer_key is not null'),
    ).toEqual(expect.arrayContaining([{ customer_key: hmac('1') }]));
  });

  it('holds no clear email, phone, name or street address in silver or gold', async () => {
    const silverColumns = await rows(
      "select table_name, column_name from information_schema.columns where table_schema = 'silver' and column_name in ('email', 'phone', 'first_name', 'last_name', 'street_address')",
    );
    expect(silverColumns).toEqual([]);
    const snapshot = await snapshotGold();
    for (const [table, tableRows] of Object.entries(snapshot)) {
      for (const text of tableRows) {
        for (const pii of FIXTURE_PII) {
          expect(text.toLowerCase().includes(pii.toLowerCase()), `${table} contains ${pii}`).toBe(false);
        }
      }
    }
  });

  it('passes every declared blocking test on clean fixtures', async () => {
    const results = await runModelTests(db, models);
    const failed = results
      .filter((result) => !result.passed)
      .map((result) => `${result.id} ${result.sampleKeys.join('; ')}`);
    expect(failed).toEqual([]);
  });

  it('rebuilds to identical gold rows (idempotent)', async () => {
    const before = await snapshotGold();
    await buildModels(db, models, { vars });
    expect(await snapshotGold()).toEqual(before);
  });
});

describe('declared tests catch violations', () => {
  it('reports failing rows and sample keys for each test kind, passes the clean variants, and keeps the failing model unpublished', async () => {
    const model = parseModel(
      'sql/silver/violations.sql',
      [
        '-- grain: one row per fixture row, some of them deliberately bad',
        '-- test: unique(id)',
        '-- test: not_null(id, status)',
        '-- test: accepted_values(status; pending, shipped)',
        '-- test: relationships(customer_id; silver.customers.customer_id)',
        '-- test[warn]: expression(amount >= 0)',
        '-- test: not_null(id)',
        '-- test: accepted_values(customer_id; 1, 2, 3, 99)',
        '-- test: expression(amount > -100)',
        "select 1 as id, 'pending' as status, 1 as customer_id, 10 as amount",
        "union all select 1, 'shipped', 2, 5",
        'union all select 2, null, 3, -1',
        "union all select 3, 'lost', 99, 0",
      ].join('\n'),
      'silver',
    );
    const gated = await buildLayer(db, [model], 'silver', { vars });
    const byTest = Object.fromEntries(gated.checks.map((result) => [result.test.declaration, result]));
    expect(gated.blockedBy).toEqual([
      'silver.violations: unique(id)',
      'silver.violations: not_null(id, status)',
      'silver.violations: accepted_values(status; pending, shipped)',
      'silver.violations: relationships(customer_id; silver.customers.customer_id)',
    ]);
    expect(byTest['unique(id)']).toMatchObject({
      details: '2 failing row(s), e.g. id=1',
      failingRows: 2,
      sampleKeys: ['id=1'],
      passed: false,
      severity: 'blocking',
    });
    expect(byTest['not_null(id, status)']).toMatchObject({
      failingRows: 1,
      sampleKeys: ['id=2 (null: status)'],
    });
    expect(byTest['accepted_values(status; pending, shipped)']).toMatchObject({
      failingRows: 1,
      sampleKeys: ['id=3: lost'],
    });
    expect(byTest['relationships(customer_id; silver.customers.customer_id)']).toMatchObject({
      failingRows: 1,
      sampleKeys: ['id=3 → 99'],
    });
    expect(byTest['expression(amount >= 0)']).toMatchObject({
      failingRows: 1,
      sampleKeys: ['id=2'],
      severity: 'warn',
    });
    for (const clean of [
      'not_null(id)',
      'accepted_values(customer_id; 1, 2, 3, 99)',
      'expression(amount > -100)',
    ]) {
      expect(byTest[clean], clean).toMatchObject({ failingRows: 0, sampleKeys: [], passed: true });
    }
    const left = await rows(
      "select table_name from information_schema.tables where table_name in ('violations', 'violations__next')",
    );
    expect(left).toEqual([]);
  });
});

describe("a model's checks share one scan", () => {
  it("counts a table's not_null, unique, accepted_values and expression tests in one query, and queries only a failing one for samples", async () => {
    const warehouse = await openPglite('pglite://memory');
    try {
      await warehouse.exec(
        [
          'create schema silver',
          "create table silver.scanned as select 1 as id, 'pending' as status, 10 as amount union all select 2, 'shipped', 5 union all select 3, 'lost', 7",
        ].join(';\n'),
      );
      const model = parseModel(
        'sql/silver/scanned.sql',
        [
          '-- grain: one row per fixture row',
          '-- test: unique(id)',
          '-- test: not_null(id, status)',
          '-- test: accepted_values(status; pending, shipped)',
          '-- test: expression(amount > 0)',
          '-- test[warn]: expression(amount < 10)',
          'select 1 as id',
        ].join('\n'),
        'silver',
      );
      const { db: counting, queries: statements } = recordingQueries(warehouse);
      const results = await runModelTests(counting, [model]);
      expect(results.map((result) => [result.id, result.failingRows, result.sampleKeys])).toEqual([
        ['silver.scanned: unique(id)', 0, []],
        ['silver.scanned: not_null(id, status)', 0, []],
        ['silver.scanned: accepted_values(status; pending, shipped)', 1, ['id=3: lost']],
        ['silver.scanned: expression(amount > 0)', 0, []],
        ['silver.scanned: expression(amount < 10)', 1, ['id=1']],
      ]);
      // The five tests in one scan; then only the two that failed, for their samples.
      const checks = statements.filter((sql) => sql.includes('silver.scanned'));
      expect(checks).toHaveLength(3);
      expect(checks[0]).toContain('count(distinct id)');
      expect(checks.filter((sql) => sql.includes('sum(case when'))).toHaveLength(1);

      // An expression that errors on a row fails the check naming the tests its scan counted.
      const erroring = parseModel(
        'sql/silver/scanned.sql',
        [
          '-- grain: one row per fixture row',
          '-- test: not_null(id)',
          '-- test: expression(100 / (amount - 5) > 0)',
          'select 1 as id',
        ].join('\n'),
        'silver',
      );
      await expect(runModelTests(warehouse, [erroring])).rejects.toThrow(
        /silver\.scanned: not_null\(id\), silver\.scanned: expression\(100 \/ \(amount - 5\) > 0\) \(sql\/silver\/scanned\.sql\): check query failed: division by zero/,
      );
    } finally {
      await warehouse.close();
    }
  });
});
