import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import { type Receiver, startReceiver } from '../jobs/alerts/test-receiver.ts';
import { KPI_ALERT_LEASE } from '../jobs/kpis/alerts.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { clickEvent, createTestDatabase, serviceSettings, startService, waitFor } from './stream-harness.ts';

/** An order_created event of contract version 2 (amount and currency), as the generator publishes them. */
function orderCreated(id: string, at: Date, orderId: number, total: number): string {
  return JSON.stringify({
    event_id: id,
    event_type: 'order_created',
    occurred_at: at.toISOString(),
    order_id: orderId,
    status: 'pending',
    schema_version: 2,
    order_total: total,
    currency: 'USD',
  });
}

type PagerDutyBody = {
  event_action: string;
  dedup_key: string;
  payload?: { custom_details?: { check_id?: string } };
};

/**
 * The stream service judges the KPI rules on the real broker and PostgreSQL: no order for 15 minutes raises one
 * incident and pages (PagerDuty and Slack through the test receiver), an order arriving resolves it.
 */
describe('KPI alerts from the stream service', () => {
  it('pages when orders stop, once, and resolves when an order arrives; /status shows the rule; the lease is let go on stop', async () => {
    const services = loadServiceEnv();
    const folder = mkdtempSync(join(tmpdir(), 'kpi-alerts-'));
    const prefix = `kpi-${Date.now().toString(36)}.`;
    const database = await createTestDatabase('kpi_alerts');
    const receiver: Receiver = await startReceiver();
    const producer = withTopicPrefix(openKafkaStream(`kafka://${services.TEST_KAFKA_BROKERS}`), prefix);
    const warehouse = await openPostgres(database.url);
    const service = startService({
      ...serviceSettings({
        folder,
        brokers: services.TEST_KAFKA_BROKERS,
        prefix,
        warehouseUrl: database.url,
      }),
      STREAM_BATCH_MAX_AGE_MS: '500',
      KPI_ALERT_SECONDS: '1',
      KPI_BUSINESS_HOURS: '00:00-24:00',
      SLACK_WEBHOOK_URL: `${receiver.url}/slack/T000/B000/secret`,
      PAGERDUTY_ROUTING_KEY: 'kpi-routing-key',
      PAGERDUTY_EVENTS_URL: `${receiver.url}/v2/enqueue`,
    });
    const pages = () =>
      receiver.requests
        .filter((request) => request.path === '/v2/enqueue')
        .map((request) => request.body as PagerDutyBody);
    try {
      await producer.ensureTopics([
        { name: 'clickstream', partitions: 3 },
        { name: 'order-events', partitions: 3 },
      ]);
      // The last order was 30 minutes ago; the site is browsed right now.
      const now = Date.now();
      await producer.publish('order-events', [
        { key: '1', value: orderCreated('o-1', new Date(now - 30 * 60_000), 1, 120) },
      ]);
      await producer.publish('clickstream', [{ key: 's', value: clickEvent('c-1', new Date(now)) }]);

      // Until both topics' first batches are applied the stream may look stalled for a moment (its own rule, which
      // resolves by itself): the zero-orders incident is the one followed here.
      const zeroOrders = (body: PagerDutyBody) =>
        body.payload?.custom_details?.check_id === 'kpi:zero_orders';
      const trigger = await waitFor(
        () => pages().find((body) => body.event_action === 'trigger' && zeroOrders(body)),
        `a page for zero orders (service stderr: ${service.stderr().slice(-800)})`,
        90_000,
        200,
      );
      expect(trigger.payload?.custom_details?.check_id).toBe('kpi:zero_orders');
      const slackAbout = () =>
        receiver.requests.filter(
          (request) =>
            request.path.startsWith('/slack') && JSON.stringify(request.body).includes('kpi:zero_orders'),
        );
      // PagerDuty is sent first, then Slack.
      await waitFor(() => (slackAbout().length === 1 ? true : undefined), 'the Slack post', 30_000, 100);
      const status = await service.status();
      expect((status as unknown as { kpiAlerts: { breached: string[] } }).kpiAlerts.breached).toContain(
        'zero_orders',
      );

      // An order a minute ago, and the site still browsed: the window holds an order again.
      await producer.publish('order-events', [
        { key: '2', value: orderCreated('o-2', new Date(Date.now() - 60_000), 2, 80) },
      ]);
      await producer.publish('clickstream', [{ key: 's', value: clickEvent('c-2', new Date()) }]);
      const resolve = await waitFor(
        () => pages().find((body) => body.event_action === 'resolve' && body.dedup_key === trigger.dedup_key),
        'the resolve of the zero-orders page',
        90_000,
        200,
      );
      expect(resolve.dedup_key).toBe(trigger.dedup_key);
      // Evaluated every second all along, yet one trigger and one resolve per channel.
      expect(
        pages()
          .filter((body) => body.dedup_key === trigger.dedup_key)
          .map((body) => body.event_action),
      ).toEqual(['trigger', 'resolve']);
      await waitFor(() => (slackAbout().length === 2 ? true : undefined), 'the Slack resolve', 30_000, 100);
      const incidents = await warehouse.query<{ check_id: string; status: string }>(
        "select check_id, status from ops.incidents where check_id = 'kpi:zero_orders'",
      );
      expect(incidents).toEqual([{ check_id: 'kpi:zero_orders', status: 'resolved' }]);

      service.child.kill('SIGTERM');
      expect(await service.exited).toBe(0);
      expect(
        await warehouse.query('select lease_name from ops.run_leases where lease_name = $1', [
          KPI_ALERT_LEASE,
        ]),
      ).toEqual([]);
    } finally {
      service.child.kill('SIGKILL');
      await warehouse.close();
      await producer.close();
      await receiver.close();
      await database.dispose();
      rmSync(folder, { recursive: true, force: true });
    }
  }, 240_000);
});
