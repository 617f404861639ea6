/**
 * gold.agg_daily_sales_history on hand-written bronze rows: the live shop fixtures of test-fixtures.ts (orders from
 * 2026-11-01 to 2026-11-05) plus Snowflake daily sales history before and across that boundary, and FX rates that
 * cover some history days and not others. Expected rows are worked out by hand from the rows below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { buildModels, createBronzeTables } from './build.ts';
import { loadModels } from './models.ts';
import { BRONZE_FIXTURES, loadBronzeFixtures } from './test-fixtures.ts';

type Row = Record<string, string | null>;

const load = (batch: string, ingestedAt: string) => ({
  _batch_id: batch,
  _source_file: `staging/${batch}.csv`,
  _ingested_at: ingestedAt,
});
const H1 = load('hist1', '2026-11-06 02:00:00+00');
const H2 = load('hist2', '2026-11-07 02:00:00+00');

const sales = (
  day: string,
  currency: string,
  orders: string,
  revenue: string,
  updatedAt: string,
  batch: Row,
): Row => ({
  sales_date: day,
  currency,
  order_count: orders,
  revenue,
  updated_at: updatedAt,
  ...batch,
});

const SALES_HISTORY: Row[] = [
  // A rate of that very day: converted at it, not estimated.
  sales('2026-10-27', 'EUR', '1', '10.00', '2026-10-28 01:00:00', H1),
  sales('2026-10-27', 'USD', '2', '30.00', '2026-10-28 01:00:00', H1),
  // No EUR rate that day: the nearest earlier one (10-27, 1.05); USD is always 1.
  sales('2026-10-28', 'EUR', '2', '50.00', '2026-10-29 01:00:00', H1),
  sales('2026-10-28', 'USD', '3', '100.00', '2026-10-29 01:00:00', H1),
  // 2026-10-29: no history row: a quiet history day.
  // GBP's rates start later (11-03): its first one. AUD has no rate at all: the day's revenue is unknown.
  sales('2026-10-30', 'GBP', '1', '10.00', '2026-10-31 01:00:00', H1),
  sales('2026-10-30', 'aud', '1', '20.00', '2026-10-31 01:00:00', H1),
  // Corrected in Snowflake later (a newer updated_at, another batch): the correction wins.
  sales('2026-10-31', 'USD', '4', '70.00', '2026-11-01 01:00:00', H1),
  sales('2026-10-31', 'USD', '4', '80.00', '2026-11-06 12:00:00', H2),
  // On and after the first live order date (11-01): live wins, these never count.
  sales('2026-11-01', 'USD', '9', '999.00', '2026-11-02 01:00:00', H1),
  sales('2026-11-04', 'USD', '9', '999.00', '2026-11-05 01:00:00', H1),
];

const EXTRA_RATES: Row[] = [
  {
    rate_date: '2026-10-27',
    currency: 'EUR',
    rate_to_usd: '1.05000000',
    created_at: '2026-10-27T06:00:00Z',
    updated_at: '2026-10-27T06:00:00Z',
    ...H1,
  },
];

type DayRow = {
  sales_date: string;
  source: string;
  order_count: number;
  revenue_usd: string | null;
  is_fx_estimated: boolean;
};

const DAYS_SQL = `select cast(sales_date as varchar(10)) as sales_date, source, order_count,
    cast(revenue_usd as varchar(24)) as revenue_usd, is_fx_estimated
  from gold.agg_daily_sales_history order by sales_date`;
const LIVE_SQL = `select cast(order_date as varchar(10)) as sales_date, 'live' as source, order_count,
    cast(revenue_usd as varchar(24)) as revenue_usd, false as is_fx_estimated
  from gold.agg_daily_sales order by order_date`;

const models = loadModels();

describe.each(warehouseEngines('sales_history'))('gold.agg_daily_sales_history on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ db, dispose } = await open());
    await createBronzeTables(db);
    await loadBronzeFixtures(db, {
      ...BRONZE_FIXTURES,
      fx_rates: [...(BRONZE_FIXTURES.fx_rates ?? []), ...EXTRA_RATES],
      sales_history: SALES_HISTORY,
    });
    await buildModels(db, models, { vars: {} });
  }, 120_000);

  afterAll(async () => {
    await dispose?.();
  });

  it('keeps the latest version per day and currency in silver, currency upper-cased', async () => {
    const rows = await db.query<{ sales_date: string; currency: string; revenue: string }>(
      `select cast(sales_date as varchar(10)) as sales_date, currency, cast(revenue as varchar(24)) as revenue
       from silver.sales_history order by sales_date, currency`,
    );
    expect(rows).toHaveLength(9);
    expect(rows.find((row) => row.sales_date === '2026-10-31')?.revenue).toBe('80.00');
    expect(rows.filter((row) => row.currency === 'AUD')).toHaveLength(1);
  });

  it('holds history before the first live order date and the live days from it, one row per day', async () => {
    const days = await db.query<DayRow>(DAYS_SQL);
    const live = await db.query<DayRow>(LIVE_SQL);
    expect(live.map((row) => row.sales_date)).toEqual([
      '2026-11-01',
      '2026-11-02',
      '2026-11-03',
      '2026-11-04',
      '2026-11-05',
    ]);
    expect(days).toEqual([
      // EUR 10.00 × 1.05 + USD 30.00
      {
        sales_date: '2026-10-27',
        source: 'history',
        order_count: 3,
        revenue_usd: '40.50',
        is_fx_estimated: false,
      },
      // EUR 50.00 × 1.05 (the 10-27 rate) + USD 100.00
      {
        sales_date: '2026-10-28',
        source: 'history',
        order_count: 5,
        revenue_usd: '152.50',
        is_fx_estimated: true,
      },
      {
        sales_date: '2026-10-29',
        source: 'history',
        order_count: 0,
        revenue_usd: '0.00',
        is_fx_estimated: false,
      },
      // GBP 10.00 × 1.268450 (its first rate, 11-03) would be 12.68; AUD has no rate: unknown.
      {
        sales_date: '2026-10-30',
        source: 'history',
        order_count: 2,
        revenue_usd: null,
        is_fx_estimated: true,
      },
      {
        sales_date: '2026-10-31',
        source: 'history',
        order_count: 4,
        revenue_usd: '80.00',
        is_fx_estimated: false,
      },
      // From the first live order date, gold.agg_daily_sales' days exactly: the 999.00 history rows never count.
      ...live,
    ]);
  });

  it('converts a day before every rate of its currency at the first rate, flagged', async () => {
    await db.exec(`delete from bronze.sales_history where currency = 'AUD' or lower(currency) = 'aud'`);
    await buildModels(db, models, { vars: {} });
    const [day] = await db.query<DayRow>(
      `${DAYS_SQL.replace(' order by sales_date', '')} where sales_date = cast('2026-10-30' as date)`,
    );
    expect(day).toEqual({
      sales_date: '2026-10-30',
      source: 'history',
      order_count: 1,
      revenue_usd: '12.68',
      is_fx_estimated: true,
    });
  });

  it('holds only the live days without history', async () => {
    await db.exec('delete from bronze.sales_history');
    await buildModels(db, models, { vars: {} });
    expect(await db.query<DayRow>(DAYS_SQL)).toEqual(await db.query<DayRow>(LIVE_SQL));
  });
});
