/**
 * Real-time KPIs, kept by the stream service's applier in the transaction that brings silver up to date
 * (jobs/stream-ingest/service/applier.ts commitRound), so they are exactly as applied as silver is: a crashed
 * round rolls both back, a replayed batch is refused before either changes.
 *
 * Every measure is additive (sql/realtime/*.sql): orders, amounts and cancellations per minute and currency;
 * sessions counted in the minute they started. A round adds the silver rows it writes and takes away the rows they
 * replace (addOrderChange, called by applyIncrementally): a redelivery changes nothing, and neither does an earlier
 * delivery applied after a later one (during a rebalance), which becomes the first delivery in silver's place. Sessions
 * merge by min and max, so a redelivery leaves them as they are. Late events land in their own minute. A day
 * is the sum of its minutes. Revenue in USD uses the day's rate from silver.fx_rates; a minute whose day has no
 * rate keeps revenue_usd null (flagged, not zero), and every round that applies order events fills in the rates
 * that have arrived since (or changed).
 *
 * realtimeKpiDrift recomputes every table from silver and lists the differences: the fault tests hold it empty.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { IncrementalChange } from '../models/build.ts';
import { tableExists } from '../models/existing.ts';
import { BATCH_ID } from '../ops/bronze-batches.ts';

export const REALTIME_SCHEMA = 'realtime';

/** The realtime tables and the key each is found by (sql/realtime declares them). */
export const REALTIME_KEYS: Record<string, string[]> = {
  'realtime.order_minutes': ['minute_start', 'currency'],
  'realtime.sessions': ['session_id'],
  'realtime.session_minutes': ['minute_start'],
  'realtime.stream_progress': ['topic'],
};

/** ISO 4217's code for "no currency": the version 1 order events, which carry no amount. */
export const NO_CURRENCY = 'XXX';

/** The silver table whose changes the order KPIs follow. */
export const ORDER_EVENTS = 'silver.order_events';

/** The watchdog's check comparing these tables with gold per day (jobs/watchdog/realtime-reconciliation.ts). */
export const REALTIME_RECONCILIATION_CHECK = 'watchdog:realtime_reconciliation';

const CLICKSTREAM = 'silver.clickstream_events';
const TEMP = {
  orderDelta: 'ecomm_rt_order_delta',
  orderMerged: 'ecomm_rt_order_merged',
  sessionDelta: 'ecomm_rt_session_delta',
  sessionMerged: 'ecomm_rt_session_merged',
  minuteDelta: 'ecomm_rt_session_minute_delta',
  minuteMerged: 'ecomm_rt_session_minute_merged',
} as const;

export interface RealtimeRound {
  /** Batches of order events this round applied to silver.order_events (their rows went through addOrderChange). */
  orderBatchIds: string[];
  /** Batches of clickstream events this round applied to silver.clickstream_events. */
  clickstreamBatchIds: string[];
  now: Date;
}

/** Brings the realtime KPI tables up to date with a round's batches; `tx` is the round's transaction. */
export async function applyRealtimeKpis(tx: SqlDatabase, round: RealtimeRound): Promise<void> {
  if (round.orderBatchIds.length > 0) {
    await resolveRates(tx, round.now);
    await advanceProgress(tx, 'order-events', ORDER_EVENTS, round.orderBatchIds, round.now);
  }
  if (round.clickstreamBatchIds.length > 0) {
    await addSessions(tx, round.clickstreamBatchIds, round.now);
    await advanceProgress(tx, 'clickstream', CLICKSTREAM, round.clickstreamBatchIds, round.now);
  }
}

/** The topic's newest applied event time moves to the round's newest, if later (a late event leaves it). */
async function advanceProgress(
  tx: SqlDatabase,
  topic: string,
  silver: string,
  batchIds: string[],
  now: Date,
): Promise<void> {
  const [row] = await tx.query<{ newest: unknown }>(
    `select max(newest) as newest from (
       select newest_event_at as newest from realtime.stream_progress where topic = '${topic}'
       union all
       select max(occurred_at) as newest from ${silver} where _batch_id in (${batchList(batchIds)})
     ) candidates`,
  );
  if (row?.newest === null || row?.newest === undefined) return;
  await tx.exec(`delete from realtime.stream_progress where topic = '${topic}'`);
  await tx.query(
    'insert into realtime.stream_progress (topic, newest_event_at, applied_at) values ($1, $2, $3)',
    [topic, row.newest as Date, now],
  );
}

/** Batch ids as SQL literals: `create table as` takes no bind parameters, so each id is checked first. */
function batchList(batchIds: readonly string[]): string {
  const bad = batchIds.filter((id) => !BATCH_ID.test(id));
  if (bad.length > 0) throw new Error(`realtime KPIs: unexpected batch id(s) ${bad.join(', ')}`);
  return batchIds.map((id) => `'${id}'`).join(', ');
}

/**
 * Order events' contributions to their minute and currency, each row weighted by the column `weight` (1 to add it,
 * -1 to take it away); the drift check weighs every row 1.
 */
const ORDER_MEASURES = `
  date_trunc('minute', occurred_at) as minute_start,
  coalesce(upper(currency), '${NO_CURRENCY}') as currency,
  sum(case when event_type = 'order_created' then weight else 0 end) as orders,
  sum(case when event_type = 'order_created' and order_total is not null then weight else 0 end) as orders_with_total,
  sum(case when event_type = 'order_created' then coalesce(order_total, 0) * weight else 0 end) as order_total,
  sum(case when event_type = 'order_status_changed' and status = 'cancelled' then weight else 0 end)
    as cancellations`;

const ORDER_COLUMNS = 'occurred_at, currency, event_type, order_total, status';

/**
 * Adds a change to silver.order_events to the order minutes: the rows written less the rows they replace. Called by
 * applyIncrementally (its onReplace) inside the round's transaction, under silver's lock.
 */
export async function addOrderChange(tx: SqlDatabase, change: IncrementalChange, now: Date): Promise<void> {
  await tx.exec(
    `create temp table ${TEMP.orderDelta} as select ${ORDER_MEASURES}
     from (
       select ${ORDER_COLUMNS}, 1 as weight from ${change.after} a
       union all
       select ${ORDER_COLUMNS}, -1 as weight from ${change.before} b
     ) weighed group by 1, 2`,
  );
  const sameKey = `m.minute_start = d.minute_start and m.currency = d.currency`;
  await tx.exec(
    `create temp table ${TEMP.orderMerged} as
     select minute_start, currency, sum(orders) as orders, sum(orders_with_total) as orders_with_total,
       sum(order_total) as order_total, sum(cancellations) as cancellations
     from (
       select m.minute_start, m.currency, m.orders, m.orders_with_total, m.order_total, m.cancellations
       from realtime.order_minutes m where exists (select 1 from ${TEMP.orderDelta} d where ${sameKey})
       union all
       select minute_start, currency, orders, orders_with_total, order_total, cancellations from ${TEMP.orderDelta}
     ) contributions
     group by minute_start, currency`,
  );
  await tx.exec(
    `delete from realtime.order_minutes where exists (select 1 from ${TEMP.orderDelta} d
       where d.minute_start = order_minutes.minute_start and d.currency = order_minutes.currency)`,
  );
  await tx.query(
    `insert into realtime.order_minutes
       (minute_start, currency, orders, orders_with_total, order_total, cancellations, rate_to_usd, revenue_usd,
        updated_at)
     select minute_start, currency, orders, orders_with_total, order_total, cancellations, null, null, $1
     from ${TEMP.orderMerged}`,
    [now],
  );
  await tx.exec(`drop table ${TEMP.orderDelta}; drop table ${TEMP.orderMerged}`);
}

const FX_RATES = 'silver.fx_rates';

/**
 * The day's rate per currency other than USD: silver.fx_rates' live rates, or none while the batch run has not
 * built that table yet (a stream-only warehouse).
 */
async function dayRates(db: SqlDatabase): Promise<string> {
  if (!(await tableExists(db, FX_RATES)))
    return `(select cast(null as date) as rate_date, cast(null as varchar(3)) as currency,
      cast(null as numeric(18,8)) as rate_to_usd where 1 = 0)`;
  return `(select cast(rate_date as date) as rate_date, upper(currency) as currency, rate_to_usd
    from ${FX_RATES} where not is_deleted and upper(currency) <> 'USD')`;
}

/**
 * Fills rate_to_usd and revenue_usd where the day's rate is known and differs from the one used (new rows, rates
 * that arrived after their orders, corrected rates), and empties them where the rate went away.
 */
async function resolveRates(tx: SqlDatabase, now: Date): Promise<void> {
  const dayRate = await dayRates(tx);
  await tx.query(
    `update realtime.order_minutes set rate_to_usd = 1, revenue_usd = order_total, updated_at = $1
     where currency = 'USD' and (rate_to_usd is null or revenue_usd is null or revenue_usd <> order_total)`,
    [now],
  );
  await tx.query(
    `update realtime.order_minutes set rate_to_usd = r.rate_to_usd,
       revenue_usd = round(realtime.order_minutes.order_total * r.rate_to_usd, 2), updated_at = $1
     from ${dayRate} r
     where r.rate_date = cast(realtime.order_minutes.minute_start as date)
       and r.currency = realtime.order_minutes.currency
       and (realtime.order_minutes.rate_to_usd is null or realtime.order_minutes.rate_to_usd <> r.rate_to_usd
         or realtime.order_minutes.revenue_usd is null
         or realtime.order_minutes.revenue_usd <> round(realtime.order_minutes.order_total * r.rate_to_usd, 2))`,
    [now],
  );
  await tx.query(
    `update realtime.order_minutes set rate_to_usd = null, revenue_usd = null, updated_at = $1
     where currency not in ('USD', '${NO_CURRENCY}') and rate_to_usd is not null
       and not exists (select 1 from ${dayRate} r
         where r.rate_date = cast(realtime.order_minutes.minute_start as date)
           and r.currency = realtime.order_minutes.currency)`,
    [now],
  );
}

/**
 * Sessions: each touched session's start is the earliest of what realtime.sessions held and the round's events, and
 * it is converted if either has a purchase. The session minutes change by the touched sessions' new contributions
 * less their old ones, so no minute is recounted from the sessions table.
 */
async function addSessions(tx: SqlDatabase, batchIds: string[], now: Date): Promise<void> {
  await tx.exec(
    `create temp table ${TEMP.sessionDelta} as
     select session_id, min(occurred_at) as started_at,
       max(case when event_type = 'purchase' then 1 else 0 end) as converted
     from ${CLICKSTREAM} where _batch_id in (${batchList(batchIds)}) group by session_id`,
  );
  const touched = `(select session_id from ${TEMP.sessionDelta})`;
  await tx.exec(
    `create temp table ${TEMP.sessionMerged} as
     select session_id, min(started_at) as started_at, max(converted) as converted
     from (
       select session_id, started_at, case when converted then 1 else 0 end as converted
       from realtime.sessions where session_id in ${touched}
       union all
       select session_id, started_at, converted from ${TEMP.sessionDelta}
     ) contributions
     group by session_id`,
  );
  await tx.exec(
    `create temp table ${TEMP.minuteDelta} as
     select minute_start, sum(sessions) as sessions, sum(converted) as converted_sessions
     from (
       select start_minute as minute_start, -1 as sessions, case when converted then -1 else 0 end as converted
       from realtime.sessions where session_id in ${touched}
       union all
       select date_trunc('minute', started_at), 1, converted from ${TEMP.sessionMerged}
     ) contributions
     group by minute_start`,
  );
  await tx.exec(`delete from realtime.sessions where session_id in ${touched}`);
  await tx.query(
    `insert into realtime.sessions (session_id, started_at, start_minute, converted, updated_at)
     select session_id, started_at, date_trunc('minute', started_at), converted = 1, $1 from ${TEMP.sessionMerged}`,
    [now],
  );
  await tx.exec(
    `create temp table ${TEMP.minuteMerged} as
     select minute_start, sum(sessions) as sessions, sum(converted_sessions) as converted_sessions
     from (
       select m.minute_start, m.sessions, m.converted_sessions from realtime.session_minutes m
       where m.minute_start in (select minute_start from ${TEMP.minuteDelta})
       union all
       select minute_start, sessions, converted_sessions from ${TEMP.minuteDelta}
     ) contributions
     group by minute_start`,
  );
  await tx.exec(
    `delete from realtime.session_minutes where minute_start in (select minute_start from ${TEMP.minuteDelta})`,
  );
  await tx.query(
    `insert into realtime.session_minutes (minute_start, sessions, converted_sessions, updated_at)
     select minute_start, sessions, converted_sessions, $1 from ${TEMP.minuteMerged} where sessions <> 0`,
    [now],
  );
  for (const table of [TEMP.sessionDelta, TEMP.sessionMerged, TEMP.minuteDelta, TEMP.minuteMerged])
    await tx.exec(`drop table ${table}`);
}

/** One difference between a realtime table and its recomputation from silver. */
export interface RealtimeDrift {
  table: string;
  key: string;
  kept: string | null;
  recomputed: string | null;
}

/**
 * Recomputes the realtime tables from silver (all of it: for tests and audits, not for every round) and lists
 * every key whose row differs from what the applier kept. Empty means the KPIs are exactly what silver says.
 */
export async function realtimeKpiDrift(db: SqlDatabase): Promise<RealtimeDrift[]> {
  const dayRate = await dayRates(db);
  const silver = async (table: string, columns: string) =>
    (await tableExists(db, table)) ? table : `(select ${columns} where 1 = 0)`;
  const orderEvents = await silver(
    ORDER_EVENTS,
    `cast(null as timestamptz) as occurred_at, cast(null as varchar(3)) as currency,
     cast(null as varchar(32)) as event_type, cast(null as numeric(12,2)) as order_total,
     cast(null as varchar(32)) as status`,
  );
  const clickstream = await silver(
    CLICKSTREAM,
    `cast(null as varchar(64)) as session_id, cast(null as timestamptz) as occurred_at,
     cast(null as varchar(32)) as event_type`,
  );
  const orders = await compare(
    db,
    'realtime.order_minutes',
    `select minute_start, currency, orders, orders_with_total, order_total, cancellations, rate_to_usd, revenue_usd
     from realtime.order_minutes`,
    `select o.minute_start, o.currency, o.orders, o.orders_with_total, o.order_total, o.cancellations,
       case when o.currency = 'USD' then 1 else r.rate_to_usd end as rate_to_usd,
       case when o.currency = 'USD' then o.order_total else round(o.order_total * r.rate_to_usd, 2) end as revenue_usd
     from (select ${ORDER_MEASURES} from (select *, 1 as weight from ${orderEvents} e) weighed group by 1, 2) o
     left join ${dayRate} r on r.rate_date = cast(o.minute_start as date) and r.currency = o.currency`,
    ['minute_start', 'currency'],
  );
  const sessionsSql = `select session_id, min(occurred_at) as started_at,
      max(case when event_type = 'purchase' then 1 else 0 end) = 1 as converted
    from ${clickstream} e group by session_id`;
  const sessions = await compare(
    db,
    'realtime.sessions',
    'select session_id, started_at, converted from realtime.sessions',
    sessionsSql,
    ['session_id'],
  );
  const minutes = await compare(
    db,
    'realtime.session_minutes',
    'select minute_start, sessions, converted_sessions from realtime.session_minutes',
    `select date_trunc('minute', started_at) as minute_start, cast(count(*) as integer) as sessions,
       cast(sum(case when converted then 1 else 0 end) as integer) as converted_sessions
     from (${sessionsSql}) s group by 1`,
    ['minute_start'],
  );
  const progress = await compare(
    db,
    'realtime.stream_progress',
    'select topic, newest_event_at from realtime.stream_progress',
    `select 'order-events' as topic, max(occurred_at) as newest_event_at from ${orderEvents} e
       having count(*) > 0
     union all
     select 'clickstream' as topic, max(occurred_at) as newest_event_at from ${clickstream} e having count(*) > 0`,
    ['topic'],
  );
  return [...orders, ...sessions, ...minutes, ...progress];
}

async function compare(
  db: SqlDatabase,
  table: string,
  keptSql: string,
  recomputedSql: string,
  key: string[],
): Promise<RealtimeDrift[]> {
  const rowsByKey = async (sql: string) => {
    const rows = await db.query<Record<string, unknown>>(sql);
    return new Map(rows.map((row) => [key.map((column) => text(row[column])).join('|'), rowText(row)]));
  };
  const kept = await rowsByKey(keptSql);
  const recomputed = await rowsByKey(recomputedSql);
  const drift: RealtimeDrift[] = [];
  for (const rowKey of new Set([...kept.keys(), ...recomputed.keys()])) {
    const keptRow = kept.get(rowKey) ?? null;
    const recomputedRow = recomputed.get(rowKey) ?? null;
    if (keptRow !== recomputedRow)
      drift.push({ table, key: rowKey, kept: keptRow, recomputed: recomputedRow });
  }
  return drift.sort((a, b) => a.key.localeCompare(b.key));
}

/** A value as comparable text: numbers by value (numeric comes back as text), times as ISO. */
function text(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return String(Number(value));
  return String(value);
}

function rowText(row: Record<string, unknown>): string {
  return Object.keys(row)
    .sort()
    .map((column) => `${column}=${text(row[column])}`)
    .join(' ');
}

/** The KPIs of a time range, from the realtime tables. Money is decimal text as the warehouse holds it. */
export interface LiveKpis {
  orders: number;
  /** Revenue in USD of the orders with an amount and a known rate. */
  revenueUsd: string;
  /** revenueUsd / the orders it counts; null when none. */
  aovUsd: string | null;
  /** Orders with an amount whose day has no FX rate yet: left out of revenue (flagged, not zero). */
  ordersAwaitingRate: number;
  /** Orders whose events carry no amount (contract version 1). */
  ordersWithoutAmount: number;
  cancellations: number;
  sessions: number;
  convertedSessions: number;
  /** convertedSessions / sessions; null when no session. */
  conversion: number | null;
}

export interface LiveView {
  /** Today so far (UTC midnight to now) and the last 60 minutes. */
  today: LiveKpis;
  lastHour: LiveKpis;
  /** Per topic: the newest event time applied, and when it was applied. */
  progress: { topic: string; newestEventAt: Date; appliedAt: Date }[];
}

export const LIVE_WINDOW_MINUTES = 60;

/** What the monitor's live tiles show at `now`. */
export async function loadLiveKpis(db: SqlDatabase, now: Date): Promise<LiveView> {
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const hourAgo = new Date(now.getTime() - LIVE_WINDOW_MINUTES * 60_000);
  const progress = await db.query<{ topic: string; newest_event_at: unknown; applied_at: unknown }>(
    'select topic, newest_event_at, applied_at from realtime.stream_progress order by topic',
  );
  return {
    today: await liveKpis(db, midnight, now),
    lastHour: await liveKpis(db, hourAgo, now),
    progress: progress.map((row) => ({
      topic: row.topic,
      newestEventAt: new Date(row.newest_event_at as string | Date),
      appliedAt: new Date(row.applied_at as string | Date),
    })),
  };
}

/** The minutes that start in [from, to): a minute counts whole once it has started. */
async function liveKpis(db: SqlDatabase, from: Date, to: Date): Promise<LiveKpis> {
  const range = [new Date(Math.floor(from.getTime() / 60_000) * 60_000), to];
  const [orders] = await db.query<Record<string, unknown>>(
    `select cast(coalesce(sum(orders), 0) as integer) as orders,
       cast(coalesce(sum(revenue_usd), 0) as numeric(18, 2)) as revenue_usd,
       cast(coalesce(sum(case when revenue_usd is not null then orders_with_total else 0 end), 0) as integer)
         as orders_valued,
       cast(coalesce(sum(case when revenue_usd is null then orders_with_total else 0 end), 0) as integer)
         as orders_awaiting_rate,
       cast(coalesce(sum(orders - orders_with_total), 0) as integer) as orders_without_amount,
       cast(coalesce(sum(cancellations), 0) as integer) as cancellations
     from realtime.order_minutes where minute_start >= $1 and minute_start <= $2`,
    range,
  );
  const [sessions] = await db.query<Record<string, unknown>>(
    `select cast(coalesce(sum(sessions), 0) as integer) as sessions,
       cast(coalesce(sum(converted_sessions), 0) as integer) as converted
     from realtime.session_minutes where minute_start >= $1 and minute_start <= $2`,
    range,
  );
  const revenue = String(orders?.revenue_usd ?? '0');
  const valued = Number(orders?.orders_valued ?? 0);
  const sessionCount = Number(sessions?.sessions ?? 0);
  const converted = Number(sessions?.converted ?? 0);
  return {
    orders: Number(orders?.orders ?? 0),
    revenueUsd: revenue,
    aovUsd: valued === 0 ? null : (Math.round((Number(revenue) / valued) * 100) / 100).toFixed(2),
    ordersAwaitingRate: Number(orders?.orders_awaiting_rate ?? 0),
    ordersWithoutAmount: Number(orders?.orders_without_amount ?? 0),
    cancellations: Number(orders?.cancellations ?? 0),
    sessions: sessionCount,
    convertedSessions: converted,
    conversion: sessionCount === 0 ? null : converted / sessionCount,
  };
}
