/**
 * The historical analytics streams extract reads when HISTORY_SOURCE_URL is set: daily sales the store kept in
 * Snowflake from before the OLTP database existed (seed 004's "historical analytics data"), one spec like
 * SOURCE_TABLES. Extract hands them to the Snowflake connector (remoteName, columns, key, cursor), validate builds
 * their data contracts from the columns, bronze lands them as text and silver casts them by the same definitions
 * (column-types.ts).
 *
 * The Snowflake table (docs/contracts.md › sales_history):
 *
 * ```sql
 * create table DAILY_SALES_HISTORY (
 *   SALES_DATE DATE, CURRENCY VARCHAR(3), ORDER_COUNT NUMBER(10,0), REVENUE NUMBER(18,2),
 *   UPDATED_AT TIMESTAMP_NTZ, primary key (SALES_DATE, CURRENCY));
 * ```
 *
 * A day's orders and net revenue per currency the order was paid in (cancelled orders left out, as
 * gold.agg_daily_sales counts them), in that currency: silver.fx_rates turns it into USD in gold. UPDATED_AT (UTC
 * wall-clock time, as the connector reads a TIMESTAMP_NTZ) is set by whoever corrects a row, so a correction
 * reaches the warehouse at the next extract.
 */
import type { ColumnSpec } from './column-types.ts';

export interface HistoryStreamSpec {
  /** The lake's `source=<name>` and the bronze table. */
  name: string;
  /** The Snowflake table in the URL's schema (adapters/source/snowflake.ts matches it as Snowflake stores names). */
  remoteName: string;
  primaryKey: string[];
  cursor: string;
  columns: ColumnSpec[];
}

export const HISTORY_STREAMS: HistoryStreamSpec[] = [
  {
    name: 'sales_history',
    remoteName: 'DAILY_SALES_HISTORY',
    primaryKey: ['sales_date', 'currency'],
    cursor: 'updated_at',
    columns: [
      { name: 'sales_date', type: 'date' },
      { name: 'currency', type: 'text' },
      // A day's orders in one currency: far below 2^31, so a larger count is an error upstream.
      { name: 'order_count', type: 'int' },
      // NUMBER(18,2) in Snowflake: refused, not rounded, beyond it.
      { name: 'revenue', type: 'numeric', precision: 18, scale: 2 },
      { name: 'updated_at', type: 'timestamptz' },
    ],
  },
];

export function historyStream(name: string): HistoryStreamSpec {
  const spec = HISTORY_STREAMS.find((stream) => stream.name === name);
  if (!spec) throw new Error(`unknown history stream: ${name}`);
  return spec;
}
