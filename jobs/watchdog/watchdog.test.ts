import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { runChecks, volumeVerdict, type WatchdogFinding } from './checks.ts';
import { BUSINESS_RULES, type BusinessRule, TABLE_RULES, type TableRules } from './rules.ts';

const day = (offset: number) => new Date(Date.UTC(2026, 8, 1 + offset)).toISOString().slice(0, 10);
const series = (values: number[]) => new Map(values.map((count, index) => [day(index), count]));

describe('volume z-score', () => {
  const now = new Date('2026-12-01T12:00:00Z');

  it('needs a minimum history before it judges', () => {
    const verdict = volumeVerdict(series([100, 100, 100, 5]), now, { minHistoryDays: 7 });
    expect(verdict).toMatchObject({ judged: false, passed: true, historyDays: 3, judgedDay: day(3) });
  });

  it('stays quiet on ordinary noise and fires on a drop or a spike', () => {
    const history = [96, 104, 99, 101, 110, 93, 100, 97, 103, 105, 95, 100, 102, 98];
    expect(volumeVerdict(series([...history, 107]), now)).toMatchObject({ judged: true, passed: true });
    const drop = volumeVerdict(series([...history, 40]), now);
    expect(drop).toMatchObject({ judged: true, passed: false, count: 40, historyDays: 14 });
    expect(drop.z).toBeLessThan(-3);
    expect(volumeVerdict(series([...history, 200]), now).passed).toBe(false);
  });

  it('judges yesterday while today is still filling, and counts days without rows as zero', () => {
    const today = new Date(`${day(15)}T09:00:00Z`);
    const history = [50, 52, 49, 51, 50, 48, 53, 50, 51, 49, 50, 52, 47, 50, 51];
    const verdict = volumeVerdict(series([...history, 3]), today);
    expect(verdict).toMatchObject({ judgedDay: day(14), count: 51, passed: true });
    const gap = new Map(series(history));
    gap.delete(day(14));
    gap.set(day(15), 40);
    expect(volumeVerdict(gap, today)).toMatchObject({ judgedDay: day(14), count: 0, passed: false });
  });

  it('treats a constant history exactly: the same count passes, any other fails', () => {
    expect(volumeVerdict(series([5, 5, 5, 5, 5, 5, 5, 5]), now).passed).toBe(true);
    expect(volumeVerdict(series([5, 5, 5, 5, 5, 5, 5, 4]), now)).toMatchObject({
      passed: false,
      z: -Infinity,
    });
  });
});

describe('watchdog checks on a warehouse', () => {
  let db: SqlDatabase;
  const loadedAt = new Date('2026-10-01T10:00:00Z');
  const tables: TableRules[] = [
    {
      table: 'silver.demo_orders',
      owner: 'commerce-analytics',
      freshness: { slaMinutes: 75, severity: 'warn', measure: { column: '_ingested_at' } },
      volume: { dayExpression: 'order_date', severity: 'warn' },
      nulls: { columns: { customer_id: 0, coupon: 0.5 }, severity: 'blocking' },
      references: [
        { column: 'customer_id', references: 'silver.demo_customers.customer_id', severity: 'critical' },
      ],
    },
    {
      table: 'gold.not_built_yet',
      owner: 'commerce-analytics',
      freshness: {
        slaMinutes: 75,
        severity: 'blocking',
        measure: { pipelineStep: { job: 'transform', step: 'gold.not_built_yet' } },
      },
      nulls: { columns: { x: 0 }, severity: 'warn' },
    },
  ];
  const rules: BusinessRule[] = [
    {
      name: 'no_negative_amounts',
      description: 'amounts are never negative',
      table: 'silver.demo_orders',
      owner: 'finance-data',
      severity: 'critical',
      sql: 'select order_id, amount from silver.demo_orders where amount < 0',
    },
  ];
  const check = async (now: Date) => {
    const findings = await runChecks(db, now, tables, rules);
    return new Map(findings.map((finding) => [finding.checkId, finding]));
  };
  const failing = (findings: Map<string, WatchdogFinding>) =>
    [...findings.values()].filter((finding) => !finding.passed).map((finding) => finding.checkId);

  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
    await db.exec(`
      create schema if not exists silver;
      create table silver.demo_customers (customer_id integer);
      insert into silver.demo_customers select g from generate_series(1, 50) g;
      create table silver.demo_orders (order_id integer, customer_id integer, order_date date, amount numeric(12,2),
        coupon varchar(16), _ingested_at timestamptz);
    `);
  });
  beforeEach(async () => {
    // 21 days of 90-100 orders a day (a fixed weekly-ish pattern), one in ten without a coupon.
    await db.exec('delete from silver.demo_orders');
    await db.query(
      `insert into silver.demo_orders
       select row_number() over (order by d, n), 1 + (n % 50), cast(d as date), 10 + n % 7,
         case when n % 10 = 0 then null else 'SAVE10' end, $1
       from generate_series(cast('2026-09-10' as date), cast('2026-09-30' as date), interval '1 day') d,
         generate_series(1, 100) n
       where n <= 90 + (extract(day from d) * 7) % 21`,
      [loadedAt],
    );
  });
  afterAll(async () => {
    await db.close();
  });

  it('stays quiet on clean data', async () => {
    const findings = await check(new Date(loadedAt.getTime() + 10 * 60_000));
    expect(failing(findings)).toEqual(['watchdog:freshness:gold.not_built_yet']);
    expect(findings.get('watchdog:volume:silver.demo_orders')?.details).toMatch(/^2026-09-30: \d+ rows vs/);
    expect(findings.get('watchdog:null_pct:silver.demo_orders.coupon')).toMatchObject({
      passed: true,
      column: 'coupon',
    });
    // A table that does not exist yet fails freshness and skips its other checks.
    expect(findings.has('watchdog:null_pct:gold.not_built_yet.x')).toBe(false);
  });

  it('fires freshness once the newest data is older than the SLA', async () => {
    const findings = await check(new Date(loadedAt.getTime() + 2 * 3_600_000));
    expect(findings.get('watchdog:freshness:silver.demo_orders')).toMatchObject({
      passed: false,
      severity: 'warn',
      owner: 'commerce-analytics',
      layer: 'silver',
    });
    expect(findings.get('watchdog:freshness:silver.demo_orders')?.details).toMatch(
      /120 min old .*SLA 75 min/,
    );
  });

  it('fires the volume anomaly when a day loses most of its rows', async () => {
    await db.exec("delete from silver.demo_orders where order_date = '2026-09-30' and order_id % 10 <> 0");
    const findings = await check(loadedAt);
    const volume = findings.get('watchdog:volume:silver.demo_orders');
    expect(volume).toMatchObject({ passed: false, checkType: 'volume_anomaly' });
    expect(volume?.details).toMatch(/z -\d+/);
  });

  it('fires null percentage, referential integrity and business rules on broken rows', async () => {
    await db.exec(`
      update silver.demo_orders set coupon = 'X', customer_id = null where order_id % 50 = 1;
      update silver.demo_orders set coupon = 'X' where order_id % 3 = 0;
      update silver.demo_orders set customer_id = 999 where order_id % 97 = 0;
      update silver.demo_orders set amount = -1 where order_id = 5;
    `);
    const findings = await check(loadedAt);
    expect(findings.get('watchdog:null_pct:silver.demo_orders.customer_id')).toMatchObject({
      passed: false,
      severity: 'blocking',
    });
    expect(findings.get('watchdog:null_pct:silver.demo_orders.coupon')?.passed).toBe(true);
    const reference = findings.get(
      'watchdog:referential_integrity:silver.demo_orders.customer_id->silver.demo_customers.customer_id',
    );
    expect(reference).toMatchObject({ passed: false, severity: 'critical' });
    expect(reference?.details).toMatch(/e\.g\. 999/);
    expect(findings.get('watchdog:business_rule:no_negative_amounts')).toMatchObject({
      passed: false,
      failingRows: 1,
      owner: 'finance-data',
    });
  });

  it('declares every rule once, with an owner and a severity', () => {
    const ids = [...TABLE_RULES.map((table) => table.table), ...BUSINESS_RULES.map((rule) => rule.name)];
    expect(new Set(ids).size).toBe(ids.length);
    for (const table of TABLE_RULES) expect(table.owner).toMatch(/^[a-z-]+$/);
    for (const rule of BUSINESS_RULES) expect(rule.name).toMatch(/^[a-z_]+$/);
  });
});
