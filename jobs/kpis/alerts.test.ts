import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { expectRedshiftAccepts, recordRedshiftSql } from '../../test/redshift-sql.ts';
import { alertDeliveries, deliverPendingAlerts } from '../alerts/deliveries.ts';
import { type AlertRouter, staticAlertRouter } from '../alerts/routing.ts';
import { type Receiver, startReceiver } from '../alerts/test-receiver.ts';
import { loadConfig } from '../config.ts';
import { expiredLeases } from '../ops/run-lease.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { KPI_RULES, type KpiRule } from './alert-rules.ts';
import { evaluateKpiRules, evaluationClock, type KpiVerdict, runKpiAlertRound } from './alerts.ts';
import { type BusinessHours, kpiSettings } from './settings.ts';

// A Tuesday, 12:00:20 UTC; the stream has applied events up to 12:00:10, so minutes before 12:00 are whole.
const NOW = new Date('2026-12-08T12:00:20Z');
const HOURS: BusinessHours = { fromMinute: 8 * 60, toMinute: 22 * 60 };
const at = (day: string, time: string) => new Date(`${day}T${time}:00Z`);
const today = (time: string) => at('2026-12-08', time);
const daysBefore = (days: number, time: string) => new Date(today(time).getTime() - days * 86_400_000);
const rule = (name: string): KpiRule => {
  const found = KPI_RULES.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no KPI rule ${name}`);
  return found;
};

async function orderMinute(
  db: SqlDatabase,
  minute: Date,
  values: { orders: number; currency?: string; total?: number; cancellations?: number; rate?: number | null },
): Promise<void> {
  const currency = values.currency ?? 'USD';
  const total = values.total ?? values.orders * 100;
  const rate = values.rate === undefined ? (currency === 'USD' ? 1 : null) : values.rate;
  await db.query(
    `insert into realtime.order_minutes (minute_start, currency, orders, orders_with_total, order_total, cancellations,
       rate_to_usd, revenue_usd, updated_at) values ($1, $2, $3, $3, $4, $5, $6, $7, $8)`,
    [
      minute,
      currency,
      values.orders,
      total,
      values.cancellations ?? 0,
      rate,
      rate === null ? null : Math.round(total * rate * 100) / 100,
      NOW,
    ],
  );
}

async function sessionMinute(db: SqlDatabase, minute: Date, sessions: number, converted: number) {
  await db.query(
    'insert into realtime.session_minutes (minute_start, sessions, converted_sessions, updated_at) values ($1, $2, $3, $4)',
    [minute, sessions, converted, NOW],
  );
}

async function progress(db: SqlDatabase, newest: Date) {
  await db.exec('delete from realtime.stream_progress');
  await db.query(
    `insert into realtime.stream_progress (topic, newest_event_at, applied_at) values ('clickstream', $1, $1)`,
    [newest],
  );
}

describe('KPI alert rules on the realtime tables', () => {
  let db: SqlDatabase;
  const verdict = async (name: string, now = NOW): Promise<KpiVerdict> => {
    const clock = await evaluationClock(db, now, HOURS);
    const [only] = await evaluateKpiRules(db, clock, [rule(name)]);
    if (!only) throw new Error('no verdict');
    return only;
  };

  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    await db.exec('delete from realtime.order_minutes; delete from realtime.session_minutes');
    await progress(db, new Date('2026-12-08T12:00:10Z'));
  });

  it('zero orders: breached after 15 quiet minutes in business hours, judged only on minutes the stream passed', async () => {
    await orderMinute(db, today('11:40'), { orders: 3 });
    const quiet = await verdict('zero_orders');
    expect(quiet.finding).toMatchObject({ checkId: 'kpi:zero_orders', passed: false, severity: 'critical' });
    expect(quiet.finding?.details).toContain('0 order(s) created 11:45-12:00 UTC');
    // The stream only reached 11:50: the window is 11:35-11:50, which holds the 11:40 orders. No false alarm.
    await progress(db, today('11:50'));
    expect((await verdict('zero_orders')).finding?.passed).toBe(true);
    await progress(db, new Date('2026-12-08T12:00:10Z'));
    await orderMinute(db, today('11:59'), { orders: 1 });
    expect((await verdict('zero_orders')).finding?.passed).toBe(true);
    // At night the rule is not judged: no verdict, so an open incident neither resolves nor repeats.
    await db.exec('delete from realtime.order_minutes');
    await progress(db, new Date('2026-12-08T23:00:10Z'));
    const night = await verdict('zero_orders', new Date('2026-12-08T23:00:20Z'));
    expect(night.finding).toBeNull();
    expect(night.note).toMatch(/not wholly inside business hours/);
  });

  it('stream stalled: the newest event applied older than 10 minutes', async () => {
    await progress(db, today('11:45'));
    expect((await verdict('stream_stalled')).finding).toMatchObject({
      passed: false,
      checkType: 'kpi_threshold',
    });
    await progress(db, today('11:55'));
    expect((await verdict('stream_stalled')).finding?.passed).toBe(true);
  });

  it('revenue against the same window on the previous same weekdays, pricing a day without a rate at the latest known rate', async () => {
    for (const week of [1, 2, 3, 4])
      await orderMinute(db, daysBefore(7 * week, '11:50'), { orders: 10, total: 1000 });
    await orderMinute(db, today('11:50'), { orders: 3, total: 300 });
    const low = await verdict('revenue_below_baseline');
    expect(low.finding).toMatchObject({ passed: false, severity: 'warn', checkType: 'kpi_anomaly' });
    expect(low.finding?.details).toContain(
      '$300.00 11:45-12:00 UTC is 30.0% of the baseline $1000.00 (mean of 4',
    );
    // Today's EUR orders await their rate: priced at last week's 1.1, revenue is 300 + 330 = 63% of the baseline.
    await orderMinute(db, daysBefore(7, '09:00'), { orders: 1, currency: 'EUR', total: 10, rate: 1.1 });
    await orderMinute(db, today('11:55'), { orders: 3, currency: 'EUR', total: 300, rate: null });
    const priced = await verdict('revenue_below_baseline');
    expect(priced.finding?.passed).toBe(true);
    expect(priced.finding?.details).toContain('$630.00');
    // A currency never priced: the rule cannot tell, and says so.
    await orderMinute(db, today('11:56'), { orders: 1, currency: 'GBP', total: 50, rate: null });
    const unknown = await verdict('revenue_below_baseline');
    expect(unknown.finding).toBeNull();
    expect(unknown.note).toMatch(/1 order\(s\) in a currency with no known rate/);
  });

  it('revenue: not judged without two same-weekday windows of history', async () => {
    await orderMinute(db, daysBefore(7, '11:50'), { orders: 10, total: 1000 });
    await orderMinute(db, today('11:50'), { orders: 1, total: 10 });
    const verdictOf = await verdict('revenue_below_baseline');
    expect(verdictOf.finding).toBeNull();
    expect(verdictOf.note).toMatch(/1 of the 2 same-weekday windows/);
  });

  it('conversion: the settled last hour of sessions against the same hour over the previous 7 days', async () => {
    for (let day = 1; day <= 7; day += 1) await sessionMinute(db, daysBefore(day, '11:00'), 100, 10);
    await sessionMinute(db, today('11:00'), 200, 5);
    // Sessions of the last 30 minutes are still converting: not in the window.
    await sessionMinute(db, today('11:45'), 500, 0);
    const drop = await verdict('conversion_drop');
    expect(drop.finding).toMatchObject({ passed: false, owner: 'growth-analytics' });
    expect(drop.finding?.details).toContain(
      '2.5% of 200 sessions started 10:30-11:30 UTC converted, against 10.0%',
    );
    await db.exec(
      'delete from realtime.session_minutes where minute_start = $1'.replace(
        '$1',
        "'2026-12-08 11:00:00+00'",
      ),
    );
    await sessionMinute(db, today('11:00'), 200, 18);
    expect((await verdict('conversion_drop')).finding?.passed).toBe(true);
  });

  it('cancellations: more than a quarter of the last hour’s orders, with at least 20 orders', async () => {
    await orderMinute(db, today('11:10'), { orders: 40, cancellations: 12 });
    expect((await verdict('cancellations_high')).finding).toMatchObject({ passed: false });
    await db.exec('delete from realtime.order_minutes');
    await orderMinute(db, today('11:10'), { orders: 10, cancellations: 9 });
    expect((await verdict('cancellations_high')).finding).toBeNull();
  });
});

describe('KPI alert rounds: incidents, deliveries, one evaluating replica', () => {
  let db: SqlDatabase;
  let receiver: Receiver;
  let router: AlertRouter;
  const zeroOrders = [rule('zero_orders')];
  const round = (holder: string, now: Date, withRouter = true) =>
    runKpiAlertRound(db, {
      holderRunId: holder,
      now,
      businessHours: HOURS,
      leaseSeconds: 90,
      router: withRouter ? router : null,
      rules: zeroOrders,
    });

  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
    receiver = await startReceiver();
    router = staticAlertRouter({
      slack: { webhookUrl: `${receiver.url}/slack/T000/B000/secret` },
      pagerduty: { eventsUrl: `${receiver.url}/v2/enqueue`, routingKey: 'routing-key-1' },
      retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
    });
    await progress(db, new Date('2026-12-08T12:00:10Z'));
  });
  afterAll(async () => {
    await receiver.close();
    await db.close();
  });

  it('opens one incident per breach, alerts once on each channel, and resolves it (with a resolve alert) on recovery', async () => {
    const first = await round('replica-a', NOW);
    expect(first.skipped).toBe(false);
    expect(first.incidents.opened.map((incident) => incident.check_id)).toEqual(['kpi:zero_orders']);
    expect(first.deliveries).toMatchObject({ delivered: 2, failed: 0 });
    const pagerduty = receiver.requests.filter((request) => request.path === '/v2/enqueue');
    expect(pagerduty.map((request) => (request.body as { event_action: string }).event_action)).toEqual([
      'trigger',
    ]);
    expect(
      JSON.stringify(receiver.requests.find((request) => request.path.startsWith('/slack'))?.body),
    ).toContain('zero_orders');
    const again = await round('replica-a', new Date(NOW.getTime() + 30_000));
    expect(again.incidents.opened).toEqual([]);
    expect(again.incidents.continuing).toHaveLength(1);
    expect(again.deliveries.delivered).toBe(0);
    expect(receiver.requests).toHaveLength(2);

    await orderMinute(db, today('11:58'), { orders: 2 });
    const recovered = await round('replica-a', new Date(NOW.getTime() + 60_000));
    expect(recovered.incidents.resolved.map((incident) => incident.check_id)).toEqual(['kpi:zero_orders']);
    expect(recovered.deliveries.delivered).toBe(2);
    expect(
      receiver.requests
        .filter((request) => request.path === '/v2/enqueue')
        .map((request) => (request.body as { event_action: string }).event_action),
    ).toEqual(['trigger', 'resolve']);
    const [incident] = await db.query<{ status: string; occurrences: number }>(
      "select status, cast(occurrences as integer) as occurrences from ops.incidents where check_id = 'kpi:zero_orders'",
    );
    expect(incident).toEqual({ status: 'resolved', occurrences: 2 });
  });

  it('lets one replica evaluate at a time; another takes over once the holder stops renewing; no abandoned-run finding', async () => {
    await round('replica-a', NOW);
    const standby = await round('replica-b', new Date(NOW.getTime() + 10_000));
    expect(standby.skipped).toBe(true);
    const later = new Date(NOW.getTime() + 91_000);
    expect(await expiredLeases(db, later)).toEqual([]);
    const takeover = await round('replica-b', later);
    expect(takeover.skipped).toBe(false);
    expect((await round('replica-a', new Date(later.getTime() + 1_000))).skipped).toBe(true);
  });

  it('leaves KPI alerts to the stream service when the watchdog delivers, so none goes out twice', async () => {
    await db.exec(
      'delete from realtime.order_minutes; delete from ops.incidents; delete from ops.alert_deliveries',
    );
    await db.exec('delete from ops.run_leases');
    receiver.requests.length = 0;
    await round('replica-a', NOW, false);
    const queued = await alertDeliveries(db);
    expect(queued.map((delivery) => delivery.status)).toEqual(['pending', 'pending']);
    const watchdog = await deliverPendingAlerts(db, router, {
      runId: 'watchdog-run',
      now: () => NOW,
      excludeCheckIdPrefix: 'kpi:',
    });
    expect(watchdog.delivered).toBe(0);
    expect(receiver.requests).toHaveLength(0);
    const service = await deliverPendingAlerts(db, router, {
      runId: 'svc',
      now: () => NOW,
      checkIdPrefix: 'kpi:',
    });
    expect(service.delivered).toBe(2);
  });
});

describe('KPI settings', () => {
  it('reads business hours, wrapping midnight, and refuses a malformed range with the setting named', () => {
    const base = { SECRETS_URL: 'env://' };
    expect(
      kpiSettings(loadConfig({ ...base, KPI_BUSINESS_HOURS: '22:00-06:00' })).KPI_BUSINESS_HOURS,
    ).toEqual({
      fromMinute: 1320,
      toMinute: 360,
    });
    expect(kpiSettings(loadConfig(base))).toMatchObject({
      KPI_ALERT_SECONDS: 30,
      KPI_RECONCILE_TOLERANCE: 0.005,
    });
    expect(() => loadConfig({ ...base, KPI_BUSINESS_HOURS: '8-22' })).toThrow(
      /KPI_BUSINESS_HOURS \(got "8-22"\): must be HH:MM-HH:MM in UTC/,
    );
    expect(() => loadConfig({ ...base, KPI_ALERT_SECONDS: '-1' })).toThrow(/KPI_ALERT_SECONDS/);
  });
});

describe('KPI alert SQL on Redshift', () => {
  it('sends only statements that parse as Redshift and use nothing Redshift rejects', async () => {
    const { db, sent } = recordRedshiftSql((sql) =>
      sql.includes('stream_progress') ? [{ newest: '2026-12-08T12:00:10Z' }] : [],
    );
    const clock = await evaluationClock(db, NOW, HOURS);
    await evaluateKpiRules(db, clock);
    expect(sent.length).toBeGreaterThan(5);
    expectRedshiftAccepts(sent, '2026-12-08 12:00:00+00');
  });
});
