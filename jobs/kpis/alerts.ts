/**
 * KPI alerts: the rules of alert-rules.ts evaluated against the realtime tables, folded into incidents (one per
 * breach, resolved when the rule holds again) and their alerts delivered, by the stream service every
 * KPI_ALERT_SECONDS. One replica evaluates at a time (a lease in ops.run_leases); the incidents change under a lock
 * on ops.incidents, so nothing else writing incidents interleaves.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { type DeliveryReport, deliverPendingAlerts } from '../alerts/deliveries.ts';
import type { IncidentChanges, IncidentFinding } from '../alerts/incident-rows.ts';
import { reconcileIncidents } from '../alerts/incidents.ts';
import type { AlertRouter } from '../alerts/routing.ts';
import { holdServiceLease, releaseLease } from '../ops/run-lease.ts';
import {
  type CancellationShareRule,
  type ConversionBaselineRule,
  KPI_CHECK_PREFIX,
  KPI_RULES,
  type KpiRule,
  kpiCheckId,
  type RevenueBaselineRule,
  type StreamStalledRule,
  type ZeroOrdersRule,
} from './alert-rules.ts';
import { NO_CURRENCY } from './realtime.ts';
import { type BusinessHours, withinBusinessHours } from './settings.ts';

/** A rule's verdict: a finding (passed or breached), or null with the reason it was not judged this time. */
export interface KpiVerdict {
  rule: KpiRule;
  finding: IncidentFinding | null;
  note: string;
}

/** Where the evaluation stands: now, and the end of the last whole minute the stream has moved past. */
export interface EvaluationClock {
  now: Date;
  /** Minutes before this are complete; null while no event has been applied. */
  through: Date | null;
  /** The newest event applied on any topic. */
  newestEventAt: Date | null;
  businessHours: BusinessHours;
}

const MINUTE = 60_000;
const floorMinute = (at: Date) => new Date(Math.floor(at.getTime() / MINUTE) * MINUTE);
const minutesBefore = (at: Date, minutes: number) => new Date(at.getTime() - minutes * MINUTE);
const hhmm = (at: Date) => at.toISOString().slice(11, 16);
const usd = (value: number) => `$${value.toFixed(2)}`;
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

export async function evaluationClock(
  db: SqlDatabase,
  now: Date,
  businessHours: BusinessHours,
): Promise<EvaluationClock> {
  const [row] = await db.query<{ newest: unknown }>(
    'select max(newest_event_at) as newest from realtime.stream_progress',
  );
  const newestEventAt = row?.newest ? new Date(row.newest as string) : null;
  const through =
    newestEventAt === null
      ? null
      : new Date(Math.min(floorMinute(now).getTime(), floorMinute(newestEventAt).getTime()));
  return { now, through, newestEventAt, businessHours };
}

export async function evaluateKpiRules(
  db: SqlDatabase,
  clock: EvaluationClock,
  rules: KpiRule[] = KPI_RULES,
): Promise<KpiVerdict[]> {
  const verdicts: KpiVerdict[] = [];
  for (const rule of rules) verdicts.push(await evaluateRule(db, clock, rule));
  return verdicts;
}

function evaluateRule(db: SqlDatabase, clock: EvaluationClock, rule: KpiRule): Promise<KpiVerdict> {
  switch (rule.kind) {
    case 'zero_orders':
      return zeroOrders(db, clock, rule);
    case 'stream_stalled':
      return Promise.resolve(streamStalled(clock, rule));
    case 'revenue_vs_baseline':
      return revenueVsBaseline(db, clock, rule);
    case 'conversion_vs_baseline':
      return conversionVsBaseline(db, clock, rule);
    case 'cancellation_share':
      return cancellationShare(db, clock, rule);
  }
}

const notJudged = (rule: KpiRule, note: string): KpiVerdict => ({ rule, finding: null, note });

function judged(rule: KpiRule, table: string, breached: boolean, details: string): KpiVerdict {
  return {
    rule,
    note: details,
    finding: {
      checkId: kpiCheckId(rule),
      checkType:
        rule.kind === 'zero_orders' || rule.kind === 'stream_stalled' ? 'kpi_threshold' : 'kpi_anomaly',
      tableName: table,
      severity: rule.severity,
      owner: rule.owner,
      passed: !breached,
      failingRows: breached ? 1 : 0,
      details: `${rule.description}: ${details}`,
    },
  };
}

async function zeroOrders(
  db: SqlDatabase,
  clock: EvaluationClock,
  rule: ZeroOrdersRule,
): Promise<KpiVerdict> {
  if (!clock.through) return notJudged(rule, 'no event applied yet');
  const from = minutesBefore(clock.through, rule.minutes);
  const hours = clock.businessHours;
  if (!withinBusinessHours(hours, from) || !withinBusinessHours(hours, minutesBefore(clock.through, 1 / 60)))
    return notJudged(rule, `${hhmm(from)}-${hhmm(clock.through)} UTC is not wholly inside business hours`);
  const window = await orderWindow(db, from, clock.through);
  return judged(
    rule,
    'realtime.order_minutes',
    window.orders === 0,
    `${window.orders} order(s) created ${hhmm(from)}-${hhmm(clock.through)} UTC`,
  );
}

function streamStalled(clock: EvaluationClock, rule: StreamStalledRule): KpiVerdict {
  if (!clock.newestEventAt) return notJudged(rule, 'no event applied yet');
  if (!withinBusinessHours(clock.businessHours, clock.now)) return notJudged(rule, 'outside business hours');
  const ageMinutes = (clock.now.getTime() - clock.newestEventAt.getTime()) / MINUTE;
  return judged(
    rule,
    'realtime.stream_progress',
    ageMinutes > rule.minutes,
    `newest event applied ${clock.newestEventAt.toISOString()} (${ageMinutes.toFixed(1)} min ago)`,
  );
}

async function revenueVsBaseline(
  db: SqlDatabase,
  clock: EvaluationClock,
  rule: RevenueBaselineRule,
): Promise<KpiVerdict> {
  if (!clock.through) return notJudged(rule, 'no event applied yet');
  const to = clock.through;
  const from = minutesBefore(to, rule.windowMinutes);
  const weekMinutes = 7 * 24 * 60;
  const rates = await latestRates(db, minutesBefore(from, rule.weeks * weekMinutes + 35 * 24 * 60), to);
  const current = await orderWindow(db, from, to);
  const currentRevenue = revenueOf(current, rates);
  if (currentRevenue.unpriced > 0)
    return notJudged(rule, `${currentRevenue.unpriced} order(s) in a currency with no known rate`);
  const history: number[] = [];
  for (let week = 1; week <= rule.weeks; week += 1) {
    const shift = week * weekMinutes;
    const past = await orderWindow(db, minutesBefore(from, shift), minutesBefore(to, shift));
    const revenue = revenueOf(past, rates);
    if (past.orders > 0 && revenue.unpriced === 0) history.push(revenue.usd);
  }
  if (history.length < rule.minWeeks)
    return notJudged(
      rule,
      `${history.length} of the ${rule.minWeeks} same-weekday windows needed have orders`,
    );
  const baseline = history.reduce((sum, value) => sum + value, 0) / history.length;
  if (baseline <= 0) return notJudged(rule, 'the baseline has no revenue');
  const ratio = currentRevenue.usd / baseline;
  return judged(
    rule,
    'realtime.order_minutes',
    ratio < rule.minRatio,
    `${usd(currentRevenue.usd)} ${hhmm(from)}-${hhmm(to)} UTC is ${percent(ratio)} of the baseline ` +
      `${usd(baseline)} (mean of ${history.length} same weekday(s)); alert below ${percent(rule.minRatio)}`,
  );
}

async function conversionVsBaseline(
  db: SqlDatabase,
  clock: EvaluationClock,
  rule: ConversionBaselineRule,
): Promise<KpiVerdict> {
  if (!clock.through) return notJudged(rule, 'no event applied yet');
  const to = minutesBefore(clock.through, rule.settleMinutes);
  const from = minutesBefore(to, rule.windowMinutes);
  const current = await sessionWindow(db, from, to);
  if (current.sessions < rule.minSessions)
    return notJudged(
      rule,
      `${current.sessions} session(s) started ${hhmm(from)}-${hhmm(to)} UTC, under ${rule.minSessions}`,
    );
  let sessions = 0;
  let converted = 0;
  for (let day = 1; day <= rule.days; day += 1) {
    const past = await sessionWindow(db, minutesBefore(from, day * 1440), minutesBefore(to, day * 1440));
    sessions += past.sessions;
    converted += past.converted;
  }
  if (sessions < rule.minBaselineSessions || converted === 0)
    return notJudged(rule, `the baseline holds ${sessions} session(s), ${converted} converted`);
  const conversion = current.converted / current.sessions;
  const baseline = converted / sessions;
  return judged(
    rule,
    'realtime.session_minutes',
    conversion < rule.minRatio * baseline,
    `${percent(conversion)} of ${current.sessions} sessions started ${hhmm(from)}-${hhmm(to)} UTC converted, ` +
      `against ${percent(baseline)} over the previous ${rule.days} days; alert below ${percent(rule.minRatio * baseline)}`,
  );
}

async function cancellationShare(
  db: SqlDatabase,
  clock: EvaluationClock,
  rule: CancellationShareRule,
): Promise<KpiVerdict> {
  if (!clock.through) return notJudged(rule, 'no event applied yet');
  const from = minutesBefore(clock.through, rule.windowMinutes);
  const window = await orderWindow(db, from, clock.through);
  if (window.orders < rule.minOrders)
    return notJudged(rule, `${window.orders} order(s) in the window, under ${rule.minOrders}`);
  const share = window.cancellations / window.orders;
  return judged(
    rule,
    'realtime.order_minutes',
    share > rule.maxShare,
    `${window.cancellations} cancellation(s) against ${window.orders} order(s) created ${hhmm(from)}-` +
      `${hhmm(clock.through)} UTC: ${percent(share)}; alert above ${percent(rule.maxShare)}`,
  );
}

interface CurrencyTotals {
  currency: string;
  ordersWithTotal: number;
  revenueUsd: number;
  /** Amount of the minutes whose day has no rate yet (revenue_usd null). */
  unpricedTotal: number;
  unpricedOrders: number;
}

interface OrderWindow {
  orders: number;
  cancellations: number;
  currencies: CurrencyTotals[];
}

/** The order minutes in [from, to), per currency. */
async function orderWindow(db: SqlDatabase, from: Date, to: Date): Promise<OrderWindow> {
  const rows = await db.query<Record<string, unknown>>(
    `select currency, sum(orders) as orders, sum(cancellations) as cancellations,
       sum(orders_with_total) as orders_with_total, coalesce(sum(revenue_usd), 0) as revenue_usd,
       sum(case when revenue_usd is null then order_total else 0 end) as unpriced_total,
       sum(case when revenue_usd is null then orders_with_total else 0 end) as unpriced_orders
     from realtime.order_minutes where minute_start >= $1 and minute_start < $2
     group by currency order by currency`,
    [from, to],
  );
  return {
    orders: rows.reduce((sum, row) => sum + Number(row.orders), 0),
    cancellations: rows.reduce((sum, row) => sum + Number(row.cancellations), 0),
    currencies: rows.map((row) => ({
      currency: String(row.currency),
      ordersWithTotal: Number(row.orders_with_total),
      revenueUsd: Number(row.revenue_usd),
      unpricedTotal: Number(row.unpriced_total),
      unpricedOrders: Number(row.unpriced_orders),
    })),
  };
}

/**
 * Revenue in USD; a minute whose day has no rate yet is priced at the currency's latest known rate (an alert cannot
 * wait for the day's rate). Orders in a currency never priced are counted apart: the revenue rule does not judge.
 */
function revenueOf(window: OrderWindow, rates: Map<string, number>): { usd: number; unpriced: number } {
  let total = 0;
  let unpriced = 0;
  for (const currency of window.currencies) {
    total += currency.revenueUsd;
    if (currency.currency === NO_CURRENCY || currency.unpricedOrders === 0) continue;
    const rate = rates.get(currency.currency);
    if (rate === undefined) unpriced += currency.unpricedOrders;
    else total += currency.unpricedTotal * rate;
  }
  return { usd: total, unpriced };
}

/** Each currency's rate on the latest minute that has one, within [from, to). */
async function latestRates(db: SqlDatabase, from: Date, to: Date): Promise<Map<string, number>> {
  const rows = await db.query<{ currency: string; rate_to_usd: unknown }>(
    `select currency, rate_to_usd from (
       select currency, rate_to_usd,
         row_number() over (partition by currency order by minute_start desc) as recency
       from realtime.order_minutes
       where rate_to_usd is not null and minute_start >= $1 and minute_start < $2
     ) ranked
     where recency = 1`,
    [from, to],
  );
  return new Map(rows.map((row) => [row.currency, Number(row.rate_to_usd)]));
}

async function sessionWindow(
  db: SqlDatabase,
  from: Date,
  to: Date,
): Promise<{ sessions: number; converted: number }> {
  const [row] = await db.query<Record<string, unknown>>(
    `select coalesce(sum(sessions), 0) as sessions, coalesce(sum(converted_sessions), 0) as converted
     from realtime.session_minutes where minute_start >= $1 and minute_start < $2`,
    [from, to],
  );
  return { sessions: Number(row?.sessions ?? 0), converted: Number(row?.converted ?? 0) };
}

// ---------------------------------------------------------------------------------------------------------------

/** The lease that lets one stream service replica evaluate the KPI alerts at a time. */
export const KPI_ALERT_LEASE = 'service:kpi-alerts';

export interface KpiAlertRound {
  /** Another replica holds the lease: nothing was evaluated. */
  skipped: boolean;
  verdicts: KpiVerdict[];
  incidents: IncidentChanges;
  deliveries: DeliveryReport;
  evaluatedAt: Date;
}

export interface KpiAlertOptions {
  /** The evaluating process (its lease holder id). */
  holderRunId: string;
  now: Date;
  businessHours: BusinessHours;
  /** How long the lease outlives a holder that stops renewing it. */
  leaseSeconds: number;
  /** null: record incidents and queue alerts, deliver none. */
  router: AlertRouter | null;
  rules?: KpiRule[];
  signal?: AbortSignal;
  log?: Logger;
}

const NO_CHANGES: IncidentChanges = { opened: [], continuing: [], resolved: [] };
const NO_DELIVERIES: DeliveryReport = { delivered: 0, failed: 0, unrouted: 0, deferred: 0 };

/** One evaluation: the rules, the incidents they open or resolve, and the delivery of the KPI alerts waiting. */
export async function runKpiAlertRound(db: SqlDatabase, options: KpiAlertOptions): Promise<KpiAlertRound> {
  const held = await holdServiceLease(db, {
    name: KPI_ALERT_LEASE,
    runId: options.holderRunId,
    job: 'stream-ingest',
    executionId: null,
    now: options.now,
    expirySeconds: options.leaseSeconds,
  });
  if (!held)
    return {
      skipped: true,
      verdicts: [],
      incidents: NO_CHANGES,
      deliveries: NO_DELIVERIES,
      evaluatedAt: options.now,
    };
  // Each evaluation is its own "run" of the rules: an incident counts it as one more occurrence.
  const round = { runId: randomUUID(), now: options.now };
  const { verdicts, incidents } = await db.transaction(async (tx) => {
    await tx.exec(lockForWriteSql('ops.incidents', tx.dialect));
    const clock = await evaluationClock(tx, options.now, options.businessHours);
    const verdicts = await evaluateKpiRules(tx, clock, options.rules);
    const findings = verdicts.flatMap((verdict) => (verdict.finding ? [verdict.finding] : []));
    return { verdicts, incidents: await reconcileIncidents(tx, findings, round) };
  });
  const deliveries = options.router
    ? await deliverPendingAlerts(db, options.router, {
        runId: round.runId,
        now: () => new Date(),
        signal: options.signal,
        log: options.log,
        checkIdPrefix: KPI_CHECK_PREFIX,
      })
    : NO_DELIVERIES;
  return { skipped: false, verdicts, incidents, deliveries, evaluatedAt: options.now };
}

export async function releaseKpiAlertLease(db: SqlDatabase, holderRunId: string): Promise<void> {
  await releaseLease(db, KPI_ALERT_LEASE, holderRunId);
}
