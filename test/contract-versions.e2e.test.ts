/**
 * A contract change on the real broker and PostgreSQL (docs/contracts.md): order events of version 1 (no amounts)
 * and version 2 (the order's total and currency) published side by side both reach silver with the version each
 * declared; a version-2 event missing what its version requires, and an unknown version, are quarantined with
 * their reason, and nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../jobs/load/index.ts';
import { runStreamIngest } from '../jobs/stream-ingest/index.ts';
import { runTransform } from '../jobs/transform/index.ts';
import { runValidate } from '../jobs/validate/index.ts';
import { openServerPlatform, type ServerPlatform } from './harness.ts';

describe('order events v1 and v2 flow together', () => {
  let platform: ServerPlatform;

  beforeAll(async () => {
    process.env.PII_HASH_KEY ??= 'contract-versions-test-key';
    platform = await openServerPlatform('cver', { stream: 'kafka', source: 'pglite' });
  }, 120_000);
  afterAll(async () => {
    await platform?.dispose();
  });

  it('records each event with its version; a v2 event without its amounts and a v3 event are quarantined', async () => {
    const context = platform.context();
    await runStreamIngest(context); // creates the topics
    const event = (id: string, fields: Record<string, unknown>) => ({
      key: id,
      value: JSON.stringify({
        event_id: id,
        event_type: 'order_created',
        occurred_at: '2026-09-30T12:00:00Z',
        order_id: Number(id.replace(/\D/g, '')),
        status: 'pending',
        ...fields,
      }),
    });
    await platform.stream.publish('order-events', [
      event('v1-1', {}),
      event('v1-2', { schema_version: 1 }),
      event('v2-3', { schema_version: 2, order_total: 120.5, currency: 'EUR' }),
      event('v2-4', { schema_version: 2, order_total: 0, currency: 'USD' }),
      event('v2-5', { schema_version: 2, order_total: 99.99 }),
      event('v3-6', { schema_version: 3, order_total: 1, currency: 'USD' }),
    ]);
    expect((await runStreamIngest(context)).reduce((sum, batch) => sum + batch.events, 0)).toBe(6);
    const validated = await runValidate(context);
    expect(validated.reduce((sum, batch) => sum + batch.staged, 0)).toBe(4);
    expect(Object.fromEntries(validated.flatMap((batch) => [...batch.reasons]))).toEqual({
      'schema_version 2 requires currency': 1,
      'schema_version: must be one of 1, 2': 1,
    });
    await runLoad(context);
    const silver = await runTransform(context, ['silver'], {
      only: ['silver.deleted_keys', 'silver.order_events'],
    });
    expect(silver.blocked).toEqual([]);
    const rows = await platform.warehouse.query<Record<string, unknown>>(
      `select event_id, schema_version, cast(order_total as varchar(20)) as order_total, currency
       from silver.order_events order by event_id`,
    );
    expect(rows).toEqual([
      { event_id: 'v1-1', schema_version: 1, order_total: null, currency: null },
      { event_id: 'v1-2', schema_version: 1, order_total: null, currency: null },
      { event_id: 'v2-3', schema_version: 2, order_total: '120.50', currency: 'EUR' },
      { event_id: 'v2-4', schema_version: 2, order_total: '0.00', currency: 'USD' },
    ]);
    const quarantined = await platform.warehouse.query<{ n: number }>(
      "select cast(count(*) as integer) as n from ops.quarantine_rows where source = 'order-events'",
    );
    expect(quarantined[0]?.n).toBe(2);
  }, 300_000);
});
