/**
 * The real-time KPIs against batch gold: for every whole day that both gold and the stream cover (up to the last
 * 7), the orders the stream counted and their revenue in USD against gold.fact_orders of the same order date
 * (cancelled orders included: the stream counts an order when it is created). A relative difference above
 * KPI_RECONCILE_TOLERANCE is a finding, with the documented causes in its details; nothing to compare is no finding.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { OWNERS } from '../alerts/owners.ts';
import { REALTIME_RECONCILIATION_CHECK } from '../kpis/realtime.ts';
import { tableExists } from '../models/existing.ts';
import type { WatchdogFinding } from './checks.ts';

export { REALTIME_RECONCILIATION_CHECK };

const DAYS_BACK = 7;
const DAY_MS = 86_400_000;

/** What makes the stream and gold disagree without a fault, named in every finding. */
export const DOCUMENTED_CAUSES =
  'known causes: orders created or changed in the source without an event, events quarantined or dead-lettered, ' +
  'orders quarantined by the batch, events not applied yet';

export interface DayComparison {
  day: string;
  streamOrders: number;
  goldOrders: number;
  streamRevenueUsd: number;
  goldRevenueUsd: number;
  /** Why the revenue was not compared (orders awaiting a rate, or version 1 events without amount), if so. */
  revenueSkipped: string | null;
  differs: boolean;
}

const isoDay = (at: Date) => at.toISOString().slice(0, 10);
const dayStart = (at: Date) => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);

/** The first instant neither gold nor the stream covers fully: the earliest of the extract watermark, gold's build and the stream's newest order event. */
async function coveredUntil(db: SqlDatabase): Promise<{ from: Date; until: Date } | null> {
  const [row] = await db.query<Record<string, unknown>>(
    `select
       (select min(minute_start) from realtime.order_minutes) as stream_from,
       (select newest_event_at from realtime.stream_progress where topic = 'order-events') as stream_newest,
       (select watermark_at from ops.watermarks where source = 'orders') as watermark,
       (select max(finished_at) from ops.pipeline_runs
          where job = 'transform' and step = 'gold.fact_orders' and status = 'succeeded') as gold_built`,
  );
  if (!row || [row.stream_from, row.stream_newest, row.watermark, row.gold_built].some((v) => v === null))
    return null;
  const at = (value: unknown) => new Date(value as string);
  // The stream's first day may have begun before the service did: compare from the day after.
  const from = new Date(dayStart(at(row.stream_from)).getTime() + DAY_MS);
  const until = new Date(
    Math.min(at(row.stream_newest).getTime(), at(row.watermark).getTime(), at(row.gold_built).getTime()),
  );
  return { from, until };
}

export async function compareRealtimeWithGold(db: SqlDatabase, tolerance: number): Promise<DayComparison[]> {
  for (const table of ['realtime.order_minutes', 'gold.fact_orders'])
    if (!(await tableExists(db, table))) return [];
  const covered = await coveredUntil(db);
  if (!covered) return [];
  const lastDay = new Date(dayStart(covered.until).getTime() - DAY_MS);
  const firstDay = new Date(Math.max(covered.from.getTime(), lastDay.getTime() - (DAYS_BACK - 1) * DAY_MS));
  if (firstDay > lastDay) return [];
  const end = new Date(lastDay.getTime() + DAY_MS);
  const stream = await db.query<Record<string, unknown>>(
    `select cast(minute_start as date) as day, sum(orders) as orders, coalesce(sum(revenue_usd), 0) as revenue,
       sum(case when revenue_usd is null and currency <> 'XXX' then orders_with_total else 0 end) as awaiting,
       sum(orders - orders_with_total) as without_amount
     from realtime.order_minutes where minute_start >= $1 and minute_start < $2
     group by cast(minute_start as date)`,
    [firstDay, end],
  );
  const gold = await db.query<Record<string, unknown>>(
    `select order_date as day, count(*) as orders, coalesce(sum(net_amount_usd), 0) as revenue
     from gold.fact_orders where order_date >= cast($1 as date) and order_date < cast($2 as date)
     group by order_date`,
    [isoDay(firstDay), isoDay(end)],
  );
  const byDay = (rows: Record<string, unknown>[]) =>
    new Map(rows.map((row) => [isoDay(new Date(row.day as string)), row]));
  const streamDays = byDay(stream);
  const goldDays = byDay(gold);
  const days: DayComparison[] = [];
  for (let at = firstDay.getTime(); at < end.getTime(); at += DAY_MS) {
    const day = isoDay(new Date(at));
    days.push(compareDay(day, streamDays.get(day), goldDays.get(day), tolerance));
  }
  return days;
}

function compareDay(
  day: string,
  stream: Record<string, unknown> | undefined,
  gold: Record<string, unknown> | undefined,
  tolerance: number,
): DayComparison {
  const streamOrders = Number(stream?.orders ?? 0);
  const goldOrders = Number(gold?.orders ?? 0);
  const streamRevenueUsd = Number(stream?.revenue ?? 0);
  const goldRevenueUsd = Number(gold?.revenue ?? 0);
  const awaiting = Number(stream?.awaiting ?? 0);
  const withoutAmount = Number(stream?.without_amount ?? 0);
  const revenueSkipped =
    awaiting > 0
      ? `${awaiting} order(s) await the day's FX rate`
      : withoutAmount > 0
        ? `${withoutAmount} order(s) from version 1 events carry no amount`
        : null;
  const ordersDiffer = Math.abs(streamOrders - goldOrders) > tolerance * Math.max(goldOrders, 1);
  // Gold rounds each order, the stream each minute and currency: up to a cent per order apart.
  const revenueDiffer =
    revenueSkipped === null &&
    Math.abs(streamRevenueUsd - goldRevenueUsd) > tolerance * goldRevenueUsd + 0.01 * Math.max(goldOrders, 1);
  return {
    day,
    streamOrders,
    goldOrders,
    streamRevenueUsd,
    goldRevenueUsd,
    revenueSkipped,
    differs: ordersDiffer || revenueDiffer,
  };
}

const signedPercent = (value: number, base: number) =>
  base === 0 ? 'n/a' : `${value >= base ? '+' : ''}${(((value - base) / base) * 100).toFixed(2)}%`;

function describeDay(day: DayComparison): string {
  const revenue = day.revenueSkipped
    ? `revenue not compared (${day.revenueSkipped})`
    : `revenue $${day.streamRevenueUsd.toFixed(2)} vs $${day.goldRevenueUsd.toFixed(2)} (${signedPercent(day.streamRevenueUsd, day.goldRevenueUsd)})`;
  return `${day.day}: orders ${day.streamOrders} stream vs ${day.goldOrders} gold (${signedPercent(day.streamOrders, day.goldOrders)}), ${revenue}`;
}

/** The watchdog's finding; null when there is no day both cover yet (nothing to judge). */
export async function realtimeReconciliationCheck(
  db: SqlDatabase,
  tolerance: number,
): Promise<WatchdogFinding | null> {
  const days = await compareRealtimeWithGold(db, tolerance);
  if (days.length === 0) return null;
  const differing = days.filter((day) => day.differs);
  const shown = differing.length > 0 ? differing : days;
  return {
    checkId: REALTIME_RECONCILIATION_CHECK,
    checkType: 'realtime_reconciliation',
    tableName: 'realtime.order_minutes',
    layer: 'gold',
    owner: OWNERS.commerce,
    severity: 'warn',
    passed: differing.length === 0,
    failingRows: differing.length,
    details: (differing.length > 0
      ? `${differing.length} of ${days.length} day(s) differ beyond ${(tolerance * 100).toFixed(2)}%: ${shown.map(describeDay).join('; ')}; ${DOCUMENTED_CAUSES}`
      : `${days.length} day(s) ${days[0]?.day} to ${days.at(-1)?.day} agree within ${(tolerance * 100).toFixed(2)}%: ${shown.map(describeDay).join('; ')}`
    ).slice(0, 4000),
  };
}
