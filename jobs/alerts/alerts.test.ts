import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { alertDeliveries, deliverPendingAlerts } from './deliveries.ts';
import type { IncidentFinding } from './incident-rows.ts';
import { reconcileIncidents } from './incidents.ts';
import { type AlertRouter, alertRouterFromSettings, staticAlertRouter } from './routing.ts';
import { alertSettings } from './settings.ts';
import { type Receiver, startReceiver } from './test-receiver.ts';

const finding = (
  checkId: string,
  passed: boolean,
  severity: IncidentFinding['severity'] = 'critical',
): IncidentFinding => ({
  checkId,
  checkType: 'freshness',
  tableName: 'gold.fact_orders',
  severity,
  owner: 'commerce-analytics',
  passed,
  failingRows: passed ? 0 : 7,
  details: passed ? null : 'newest data 95 min old (SLA 75 min)',
});

describe('incidents and alert delivery', () => {
  let db: SqlDatabase;
  let receiver: Receiver;
  let router: AlertRouter;
  let run = 0;

  /** One watchdog cycle: findings -> incidents -> deliveries. */
  const cycle = async (findings: IncidentFinding[]) => {
    run += 1;
    const runId = `00000000-0000-4000-8000-${String(run).padStart(12, '0')}`;
    const now = new Date(Date.UTC(2026, 9, 1, run));
    const changes = await reconcileIncidents(db, findings, { runId, now });
    const report = await deliverPendingAlerts(db, router, { runId, now: () => now });
    return { changes, report, runId };
  };
  const bodies = (path: string) =>
    receiver.requests
      .filter((request) => request.path === path)
      .map((request) => request.body as Record<string, unknown>);

  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await db.close();
  });
  beforeEach(async () => {
    await db.exec('delete from ops.incidents; delete from ops.alert_deliveries');
    receiver.requests.length = 0;
    receiver.respond((request) => (request.path.includes('enqueue') ? 202 : 200));
    router = staticAlertRouter({
      slack: { webhookUrl: `${receiver.url}/slack/T000/B000/secret` },
      pagerduty: { eventsUrl: `${receiver.url}/v2/enqueue`, routingKey: 'routing-key-1' },
      retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    });
  });

  it('sends exactly one alert per incident, however long it fails, and one resolve when it clears', async () => {
    const first = await cycle([finding('check.a', false, 'critical'), finding('check.b', false, 'warn')]);
    expect(first.changes.opened).toHaveLength(2);
    expect(first.report).toEqual({ delivered: 3, failed: 0, unrouted: 0, deferred: 0 });
    const incidentA = first.changes.opened.find((incident) => incident.check_id === 'check.a');
    // critical: PagerDuty and Slack; warn: Slack only.
    expect(bodies('/v2/enqueue')).toEqual([
      expect.objectContaining({
        routing_key: 'routing-key-1',
        event_action: 'trigger',
        dedup_key: incidentA?.incident_id,
        payload: expect.objectContaining({
          severity: 'critical',
          component: 'gold.fact_orders',
          source: 'ecomm-watchdog',
        }),
      }),
    ]);
    expect(bodies('/slack/T000/B000/secret')).toHaveLength(2);

    for (let again = 0; again < 3; again += 1) {
      const still = await cycle([finding('check.a', false, 'critical'), finding('check.b', false, 'warn')]);
      expect(still.changes.opened).toEqual([]);
      expect(still.changes.continuing).toHaveLength(2);
    }
    expect(receiver.requests).toHaveLength(3);
    const [open] = await db.query<{ occurrences: number }>(
      "select cast(occurrences as integer) as occurrences from ops.incidents where check_id = 'check.a'",
    );
    expect(open?.occurrences).toBe(4);

    const cleared = await cycle([finding('check.a', true), finding('check.b', false, 'warn')]);
    expect(cleared.changes.resolved.map((incident) => incident.check_id)).toEqual(['check.a']);
    expect(bodies('/v2/enqueue')[1]).toEqual({
      routing_key: 'routing-key-1',
      event_action: 'resolve',
      dedup_key: incidentA?.incident_id,
    });
    const slack = bodies('/slack/T000/B000/secret');
    expect(slack).toHaveLength(3);
    expect(String(slack[2]?.text)).toMatch(/^:white_check_mark: Resolved: `check.a`/);

    // B clears (its one resolve, on Slack only); A passing again sends nothing; A failing again is a new incident.
    await cycle([finding('check.a', true), finding('check.b', true, 'warn')]);
    expect(receiver.requests).toHaveLength(6);
    const reopened = await cycle([finding('check.a', false, 'critical')]);
    expect(reopened.changes.opened[0]?.incident_id).not.toBe(incidentA?.incident_id);
    expect(receiver.requests).toHaveLength(8);

    const perIncident = await db.query<{ incident_id: string; channel: string; action: string; n: number }>(
      `select incident_id, channel, action, cast(count(*) as integer) as n from ops.alert_deliveries
       group by incident_id, channel, action having count(*) > 1`,
    );
    expect(perIncident).toEqual([]);
  });

  it('retries a failing receiver, records the undelivered alert, and delivers it on a later run in order', async () => {
    receiver.respond(() => 500);
    const failing = await cycle([finding('check.c', false, 'blocking')]);
    expect(failing.report).toEqual({ delivered: 0, failed: 2, unrouted: 0, deferred: 0 });
    expect(receiver.requests).toHaveLength(6); // 3 tries per channel
    const incidentId = failing.changes.opened[0]?.incident_id ?? '';
    let rows = await alertDeliveries(db, incidentId);
    expect(rows.map((row) => [row.channel, row.action, row.status, row.attempts])).toEqual([
      ['pagerduty', 'trigger', 'failed', 3],
      ['slack', 'trigger', 'failed', 3],
    ]);
    expect(rows[0]?.last_error).toMatch(/answered 500/);
    expect(rows[0]?.last_error).not.toMatch(/secret/); // the webhook path is a credential
    expect(rows[1]?.last_error).not.toMatch(/secret/);

    // The check clears while the receiver is still down: the resolve waits behind its trigger.
    const cleared = await cycle([finding('check.c', true, 'blocking')]);
    expect(cleared.report).toEqual({ delivered: 0, failed: 2, unrouted: 0, deferred: 2 });

    receiver.respond((request) => (request.path.includes('enqueue') ? 202 : 200));
    receiver.requests.length = 0;
    const recovered = await cycle([]);
    expect(recovered.report).toEqual({ delivered: 4, failed: 0, unrouted: 0, deferred: 0 });
    expect(bodies('/v2/enqueue').map((body) => body.event_action)).toEqual(['trigger', 'resolve']);
    rows = await alertDeliveries(db, incidentId);
    expect(rows.map((row) => [row.channel, row.action, row.status, row.attempts])).toEqual([
      ['pagerduty', 'trigger', 'delivered', 7],
      ['slack', 'trigger', 'delivered', 7],
      ['pagerduty', 'resolve', 'delivered', 1],
      ['slack', 'resolve', 'delivered', 1],
    ]);
    expect((await cycle([])).report).toEqual({ delivered: 0, failed: 0, unrouted: 0, deferred: 0 });
  });

  it('does not retry a refused alert (4xx), and records a channel with no target as unrouted', async () => {
    receiver.respond(() => 400);
    router = staticAlertRouter({
      slack: { webhookUrl: `${receiver.url}/slack` },
      retry: { attempts: 3, baseDelayMs: 5 },
    });
    const result = await cycle([finding('check.d', false, 'critical')]);
    expect(result.report).toEqual({ delivered: 0, failed: 1, unrouted: 1, deferred: 0 });
    expect(receiver.requests).toHaveLength(1);
    const rows = await alertDeliveries(db);
    expect(rows.map((row) => [row.channel, row.status, row.attempts])).toEqual([
      ['pagerduty', 'unrouted', 0],
      ['slack', 'failed', 1],
    ]);
  });

  it('routes by owner: secrets named in ALERT_ROUTES, defaults otherwise, a channel override for Slack', async () => {
    const secrets = {
      url: 'memory://',
      async get(name: string) {
        const values: Record<string, string> = {
          SLACK_WEBHOOK_URL: `${receiver.url}/slack/default`,
          SLACK_SALES: `${receiver.url}/slack/sales`,
          PAGERDUTY_ROUTING_KEY: 'default-key',
        };
        const value = values[name];
        if (value === undefined)
          throw new (await import('../../adapters/secrets/secret-store.ts')).SecretNotFoundError(
            'memory://',
            name,
          );
        return value;
      },
    };
    router = alertRouterFromSettings(
      alertSettings({
        ALERT_ROUTES: JSON.stringify({
          'commerce-analytics': { slackWebhookSecret: 'SLACK_SALES', slackChannel: '#sales-data' },
        }),
        PAGERDUTY_EVENTS_URL: `${receiver.url}/v2/enqueue`,
        ALERT_DELIVERY_ATTEMPTS: '2',
        ALERT_RETRY_BASE_MS: '5',
      }),
      secrets,
    );
    await cycle([
      finding('check.e', false, 'critical'),
      { ...finding('check.f', false, 'warn'), owner: 'data-platform' },
    ]);
    expect(receiver.requests.map((request) => request.path).sort()).toEqual([
      '/slack/default',
      '/slack/sales',
      '/v2/enqueue',
    ]);
    expect(bodies('/slack/sales')[0]).toEqual(expect.objectContaining({ channel: '#sales-data' }));
    expect(bodies('/v2/enqueue')[0]).toEqual(expect.objectContaining({ routing_key: 'default-key' }));
  });
});
