/**
 * Seeds the Snowflake history table (HISTORY_SOURCE_URL's DAILY_SALES_HISTORY, jobs/contracts/history-streams.ts)
 * with the store's daily sales of the two years before the generated orders: per day and currency, the included
 * orders and their net revenue in that currency. The store grows over the period (from ~35% to ~90% of the live
 * daily order rate), weekends sell more, and each day and currency varies by ±15%.
 *
 * Deterministic per seed (and the live order count it scales to): every figure is a hash of (seed, day, currency),
 * never a draw of the store's generator, so adding the history changes nothing else a seed makes. A rerun replaces
 * the period's rows. Each row's updated_at is the next day's 03:00 UTC, as a nightly load would have stamped it.
 */
import { createHash } from 'node:crypto';
import { connectSnowflake, parseSnowflakeUrl } from '../../adapters/source/snowflake.ts';
import { historyStream } from '../contracts/history-streams.ts';
import { DAY, WINDOW_DAYS } from './time.ts';
import { BASE_FX_TO_USD } from './words.ts';

/** Days of history, ending the day before the generated orders' window. */
export const HISTORY_DAYS = 730;
/** Currency mix of the old shop's orders (shares of a day's orders). */
const HISTORY_CURRENCIES: readonly [string, number][] = [
  ['USD', 0.55],
  ['EUR', 0.2],
  ['GBP', 0.12],
  ['JPY', 0.08],
  ['AUD', 0.05],
];
/** Net revenue of an average order, in USD. */
const AVERAGE_ORDER_USD = 55;
/** Rows per INSERT statement. */
const INSERT_ROWS = 1000;

export interface HistoryRow {
  sales_date: string;
  currency: string;
  order_count: number;
  revenue: string;
  updated_at: string;
}

export interface HistorySeedOptions {
  /** A snowflake:// URL as HISTORY_SOURCE_URL takes it. */
  url: string;
  /** The password (the secret the URL's passwordSecret names). */
  password: string;
  seed: number;
  asOf: Date;
  /** The generated orders, which the history's daily volume scales to. */
  liveOrders: number;
}

export interface HistorySeedResult {
  days: number;
  rows: number;
  first: string;
  last: string;
}

/** A number in [0, 1) from the seed and the parts: the same for a seed, independent of any other draw. */
export function historyDraw(seed: number, ...parts: (string | number)[]): number {
  const digest = createHash('sha256')
    .update([seed, 'history', ...parts].join(':'))
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

const isoDay = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().slice(0, 10);

/** The rows of the history: the HISTORY_DAYS days before the orders' window (asOf - WINDOW_DAYS), oldest first. */
export function historyRows(options: Pick<HistorySeedOptions, 'seed' | 'asOf' | 'liveOrders'>): HistoryRow[] {
  const windowStart = options.asOf.getTime() / 1000 - WINDOW_DAYS * DAY;
  const livePerDay = options.liveOrders / WINDOW_DAYS;
  const rows: HistoryRow[] = [];
  for (let index = 0; index < HISTORY_DAYS; index += 1) {
    const day = windowStart - (HISTORY_DAYS - index) * DAY;
    const date = isoDay(day);
    const weekday = new Date(day * 1000).getUTCDay();
    const growth = 0.35 + (0.55 * index) / (HISTORY_DAYS - 1);
    const season = weekday === 0 || weekday === 6 ? 1.15 : 0.95;
    for (const [currency, share] of HISTORY_CURRENCIES) {
      const noise = 0.85 + 0.3 * historyDraw(options.seed, date, currency, 'orders');
      const orders = Math.round(livePerDay * growth * season * share * noise);
      // The aggregate has a row only for a currency the day sold in.
      if (orders === 0) continue;
      const orderValue = AVERAGE_ORDER_USD * (0.8 + 0.4 * historyDraw(options.seed, date, currency, 'value'));
      const revenue = (orders * orderValue) / (BASE_FX_TO_USD[currency] ?? 1);
      rows.push({
        sales_date: date,
        currency,
        order_count: orders,
        revenue: revenue.toFixed(2),
        updated_at: `${isoDay(day + DAY)} 03:00:00`,
      });
    }
  }
  return rows;
}

/** Creates the table when missing and replaces the period's rows with the generated ones. */
export async function seedHistory(options: HistorySeedOptions): Promise<HistorySeedResult> {
  const config = parseSnowflakeUrl('--history-url', options.url);
  const spec = historyStream('sales_history');
  const table = [config.database, config.schema, spec.remoteName]
    .map((name) => `"${name.replaceAll('"', '""')}"`)
    .join('.');
  const rows = historyRows(options);
  const first = rows[0]?.sales_date ?? '';
  const last = rows[rows.length - 1]?.sales_date ?? '';
  const connection = await connectSnowflake(config, options.password, 'ecomm-generate');
  const exec = (sqlText: string) =>
    new Promise<void>((resolve, reject) =>
      connection.execute({ sqlText, complete: (error) => (error ? reject(error) : resolve()) }),
    );
  try {
    await exec(
      `create table if not exists ${table} (SALES_DATE DATE, CURRENCY VARCHAR(3), ORDER_COUNT NUMBER(10,0),
         REVENUE NUMBER(18,2), UPDATED_AT TIMESTAMP_NTZ, primary key (SALES_DATE, CURRENCY))`,
    );
    await exec(`delete from ${table} where SALES_DATE between '${first}' and '${last}'`);
    // Literals, not binds: every value is a date, a currency code or a number this module wrote.
    for (let from = 0; from < rows.length; from += INSERT_ROWS) {
      const values = rows
        .slice(from, from + INSERT_ROWS)
        .map(
          (row) =>
            `('${row.sales_date}', '${row.currency}', ${row.order_count}, ${row.revenue}, '${row.updated_at}')`,
        );
      await exec(
        `insert into ${table} (SALES_DATE, CURRENCY, ORDER_COUNT, REVENUE, UPDATED_AT) values ${values.join(', ')}`,
      );
    }
  } finally {
    await new Promise<void>((resolve) => connection.destroy(() => resolve()));
  }
  return { days: HISTORY_DAYS, rows: rows.length, first, last };
}
