/**
 * The Snowflake history source end to end on the real services: fakesnow (a schema of this test's own) and
 * PostgreSQL. `ecomm generate` with HISTORY_SOURCE_URL seeds the source, the topics and Snowflake's
 * DAILY_SALES_HISTORY; `ecomm run` extracts it with the OLTP tables and builds gold.agg_daily_sales_history: the
 * history days before the first live order date, the live days from it, one row per date. A row corrected in
 * Snowflake (a newer updated_at) reaches gold at the next run through the cursor.
 */
import { randomBytes } from 'node:crypto';
import snowflake from 'snowflake-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSnowflakeUrl } from '../adapters/source/snowflake.ts';
import { historyRows } from '../jobs/generate/history.ts';
import { run as generateJob } from '../jobs/generate/index.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { openServerPlatform, type ServerPlatform, TEST_AS_OF } from './harness.ts';

const env = loadServiceEnv();
const SEED = 13;
/** fakesnow keeps its data until it restarts: each run writes a schema of its own. */
const SCHEMA = `HIST_${randomBytes(4).toString('hex').toUpperCase()}`;
const base = parseSnowflakeUrl('HISTORY_SOURCE_URL', env.TEST_SNOWFLAKE_URL);
const HISTORY_URL = (() => {
  const url = new URL(env.TEST_SNOWFLAKE_URL);
  url.pathname = `/${base.database}/${SCHEMA}`;
  return url.toString();
})();
const TABLE = `${base.database}.${SCHEMA}.DAILY_SALES_HISTORY`;
/** A history day and currency the second run corrects. */
const CORRECTED = { day: '2025-06-15', currency: 'USD' };

type DayRow = {
  sales_date: string;
  source: string;
  order_count: number;
  revenue_usd: string | null;
  is_fx_estimated: boolean;
};

let admin: snowflake.Connection;

function exec(sqlText: string): Promise<unknown[]> {
  return new Promise((resolve, reject) =>
    admin.execute({ sqlText, complete: (error, _s, rows) => (error ? reject(error) : resolve(rows ?? [])) }),
  );
}

describe('Snowflake history source end to end', () => {
  let platform: ServerPlatform;
  let liveOrders: number;

  const days = () =>
    platform.warehouse.query<DayRow>(
      `select cast(sales_date as varchar(10)) as sales_date, source, order_count,
         cast(revenue_usd as varchar(24)) as revenue_usd, is_fx_estimated
       from gold.agg_daily_sales_history order by sales_date`,
    );

  beforeAll(async () => {
    snowflake.configure({ logLevel: 'OFF' });
    admin = snowflake.createConnection({
      account: base.account,
      username: env.TEST_SNOWFLAKE_USER,
      password: env.TEST_SNOWFLAKE_PASSWORD,
      accessUrl: env.TEST_SNOWFLAKE_ENDPOINT,
    });
    await new Promise((resolve, reject) => admin.connect((error, c) => (error ? reject(error) : resolve(c))));
    await exec(`create database if not exists ${base.database}`);
    await exec(`create schema if not exists ${base.database}.${SCHEMA}`);
    process.env[base.passwordSecret] = env.TEST_SNOWFLAKE_PASSWORD;
    process.env.PII_HASH_KEY ??= 'history-e2e-test-key';
    platform = await openServerPlatform('history_e2e', { settings: { HISTORY_SOURCE_URL: HISTORY_URL } });
    const lines: string[] = [];
    const context = platform.context();
    expect(
      await generateJob(context, { seed: SEED, scale: 0.2, asOf: TEST_AS_OF }, (line) => lines.push(line)),
    ).toBe(0);
    await context.close();
    expect(lines).toContainEqual(
      expect.stringMatching(/^seeded history +\d+ rows, 730 days \(2024-09-01 to 2026-08-31\)$/),
    );
    const [orders] = await platform.source.query<{ n: number }>(
      'select cast(count(*) as integer) as n from orders',
    );
    liveOrders = orders?.n as number;
    const result = await runPipeline(platform.context());
    expect(result.blockedBy).toEqual([]);
  }, 600_000);

  afterAll(async () => {
    await platform?.dispose();
    if (admin) {
      await exec(`drop schema if exists ${base.database}.${SCHEMA}`).catch(() => undefined);
      await new Promise((resolve) => admin.destroy(resolve));
    }
  });

  it('extracts and loads every history row, and reconciles only the OLTP tables', async () => {
    const generated = historyRows({ seed: SEED, asOf: TEST_AS_OF, liveOrders });
    const [loaded] = await platform.warehouse.query<{ rows: number }>(
      'select cast(count(*) as integer) as rows from silver.sales_history',
    );
    expect(loaded?.rows).toBe(generated.length);
    const steps = await platform.warehouse.query<{ job: string; step: string }>(
      "select distinct job, step from ops.pipeline_runs where step like '%sales_history%' order by job",
    );
    expect(steps.map((row) => row.job)).not.toContain('reconcile');
    expect(steps.map((row) => row.job)).toContain('extract');
  });

  it('holds one row per date: history before the first live order date, the live days from it', async () => {
    const rows = await days();
    const live = await platform.warehouse.query<DayRow>(
      `select cast(order_date as varchar(10)) as sales_date, 'live' as source, order_count,
         cast(revenue_usd as varchar(24)) as revenue_usd, false as is_fx_estimated
       from gold.agg_daily_sales order by order_date`,
    );
    const firstLive = live[0]?.sales_date as string;
    expect(rows[0]?.sales_date).toBe('2024-09-01');
    expect(rows.at(-1)?.sales_date).toBe(live.at(-1)?.sales_date);
    // Contiguous and unique: as many rows as days from the first to the last.
    const span = (Date.parse(rows.at(-1)?.sales_date as string) - Date.parse('2024-09-01')) / 86_400_000 + 1;
    expect(rows).toHaveLength(span);
    expect(rows.filter((row) => row.sales_date < firstLive).every((row) => row.source === 'history')).toBe(
      true,
    );
    expect(rows.filter((row) => row.sales_date >= firstLive)).toEqual(live);

    // Each history day's orders are the generated rows'; revenue at each currency's rate (here its first: the
    // history predates the FX table), flagged as estimated when a currency other than USD sold that day.
    const generated = historyRows({ seed: SEED, asOf: TEST_AS_OF, liveOrders });
    const firstRates = new Map(
      (
        await platform.warehouse.query<{ currency: string; rate: string }>(
          `select currency, cast(rate_to_usd as varchar(32)) as rate from silver.fx_rates f
           where not is_deleted and rate_date = (select min(rate_date) from silver.fx_rates g
             where g.currency = f.currency and not g.is_deleted)`,
        )
      ).map((row) => [row.currency, Number(row.rate)]),
    );
    const byDay = new Map(rows.map((row) => [row.sales_date, row]));
    for (const day of ['2024-09-01', '2025-03-10', '2026-08-31']) {
      const dayRows = generated.filter((row) => row.sales_date === day);
      const cents = dayRows.reduce(
        (sum, row) =>
          sum +
          Math.round(
            Number(row.revenue) * (row.currency === 'USD' ? 1 : (firstRates.get(row.currency) ?? NaN)) * 100,
          ),
        0,
      );
      expect(byDay.get(day), day).toEqual({
        sales_date: day,
        source: 'history',
        order_count: dayRows.reduce((sum, row) => sum + row.order_count, 0),
        revenue_usd: (cents / 100).toFixed(2),
        is_fx_estimated: dayRows.some((row) => row.currency !== 'USD'),
      });
    }
  });

  it('picks up a row corrected in Snowflake at the next run, by its newer updated_at', async () => {
    const before = await days();
    await exec(
      `update ${TABLE} set ORDER_COUNT = ORDER_COUNT + 1, REVENUE = REVENUE + 100,
         UPDATED_AT = '2026-09-30 12:00:00'
       where SALES_DATE = '${CORRECTED.day}' and CURRENCY = '${CORRECTED.currency}'`,
    );
    const result = await runPipeline(platform.context());
    expect(result.blockedBy).toEqual([]);
    const after = await days();
    const old = before.find((row) => row.sales_date === CORRECTED.day) as DayRow;
    const changed = after.find((row) => row.sales_date === CORRECTED.day) as DayRow;
    expect(changed.order_count).toBe(old.order_count + 1);
    expect(Number(changed.revenue_usd)).toBeCloseTo(Number(old.revenue_usd) + 100, 2);
    expect(after.filter((row) => row.sales_date !== CORRECTED.day)).toEqual(
      before.filter((row) => row.sales_date !== CORRECTED.day),
    );
    const [versions] = await platform.warehouse.query<{ n: number }>(
      `select cast(count(distinct updated_at) as integer) as n from bronze.sales_history
       where sales_date = '${CORRECTED.day}' and currency = '${CORRECTED.currency}'`,
    );
    expect(versions?.n).toBe(2);
  });
});
