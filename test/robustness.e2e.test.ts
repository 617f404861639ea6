/**
 * A hostile store on the real servers (PostgreSQL source and warehouse, Kafka, an S3 API lake): values a contract
 * used to pass but a silver cast refused (or silently changed), on the CSV path and on the Kafka path. Each is
 * quarantined with its reason, the run completes, and gold equals both the gold of a clean twin store (the same seed
 * without the hostile records, on the Azure-like adapter set) and an independent recomputation from the source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext } from '../jobs/context.ts';
import { createSourceSchema, generate } from '../jobs/generate/index.ts';
import { markLoaded, markValidated, registerBatch } from '../jobs/ops/batches.ts';
import { runPipeline } from '../jobs/run/index.ts';
import { type CloudProfiles, createCloudProfiles } from './cloud-profiles.ts';
import { goldHashes, TEST_AS_OF } from './harness.ts';
import {
  dailySalesFromGold,
  dailySalesFromSource,
  orderNetFromGold,
  orderNetFromSource,
} from './recompute.ts';

const SEED = 5;
const SCALE = 0.2;

/** Event fields every hostile event shares; each case overrides one or two. */
const baseEvent = {
  event_type: 'add_to_cart',
  occurred_at: '2026-09-20T10:00:00Z',
  session_id: 'hostile-session',
  device: 'web',
  product_id: 1,
  quantity: 1,
};

/** Each hostile event, and the reason its quarantine row must give. */
const HOSTILE_EVENTS = [
  {
    event: { ...baseEvent, event_id: 'leap-day', occurred_at: '2026-02-29T10:00:00Z' },
    reason: 'occurred_at: expected an ISO-8601 timestamp: no such calendar day',
  },
  {
    event: { ...baseEvent, event_id: 'wide-int', product_id: 2 ** 31 },
    reason: 'product_id: out of range for a 32-bit integer',
  },
  {
    event: { ...baseEvent, event_id: 'huge-int', quantity: 1e21 },
    reason: 'quantity: integer beyond ±2^53',
  },
  {
    event: { ...baseEvent, event_id: 'long-text', page_url: `/p/${'x'.repeat(100_000)}` },
    reason: 'page_url: text longer than 65535 bytes',
  },
  {
    event: { ...baseEvent, event_id: 'far-future', occurred_at: '9999-12-31T00:00:00Z' },
    reason: 'occurred_at: more than 86400 seconds in the future',
  },
];

/** Rows of a legacy CSV drop (text columns, so the source could not refuse them), and their reasons. */
const LEGACY_ORDERS = [
  ['800001', '1', '2026-02-29 10:00:00+00', 'ordered_at: expected a timestamp: no such calendar day'],
  ['2147483648', '1', '2026-09-20 10:00:00+00', 'order_id: out of range for a 32-bit integer'],
] as const;

async function seed(context: JobContext): Promise<void> {
  const source = await context.source();
  await createSourceSchema(source);
  await generate({ db: source, stream: context.stream(), seed: SEED, scale: SCALE, asOf: TEST_AS_OF });
}

/** The hostile records: a 1 MB text and a year-9999 order in the OLTP tables, bad events, a legacy CSV drop. */
async function addHostileRecords(context: JobContext): Promise<void> {
  const source = await context.source();
  const at = '2026-09-30 12:00:00+00';
  await source.query(
    `insert into customers (customer_id, email, first_name, last_name, city, country_code, loyalty_tier, signed_up_at,
       created_at, updated_at)
     values (900001, 'big@example.com', 'Big', 'Text', $1, 'DE', 'gold', $2, $2, $2)`,
    ['x'.repeat(1_000_000), at],
  );
  await source.query(
    `insert into orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount, created_at,
       updated_at)
     values (900001, 1, timestamptz '9999-12-31 00:00:00+00', 'pending', 'web', 'USD', 0, $1, $1)`,
    [at],
  );
  await context.stream().publish(
    'clickstream',
    HOSTILE_EVENTS.map(({ event }) => ({ key: event.session_id, value: JSON.stringify(event) })),
  );
  const header =
    'order_id,customer_id,ordered_at,status,channel,currency,shipping_amount,created_at,updated_at';
  const rows = [
    ...LEGACY_ORDERS.map(
      ([id, customer, orderedAt]) => `${id},${customer},${orderedAt},pending,web,USD,1.00,${at},${at}`,
    ),
    `800003,1,2026-09-20 10:00:00+00,pending,web,USD,4.999,${at},${at}`,
  ];
  const rawKey = 'raw/source=orders/ingestion_date=2026-09-30/orders_legacy_drop.csv';
  await context.lake().put(rawKey, `${header}\n${rows.join('\n')}\n`);
  await registerBatch(await context.warehouse(), {
    batchId: 'orders_legacy_drop',
    source: 'orders',
    kind: 'table',
    ingestionDate: '2026-09-30',
    rawKey,
    rows: rows.length,
    at: new Date(),
  });
}

const platformContext = (settings: Record<string, string>) =>
  createJobContext(loadConfig({ ...settings, LOG_LEVEL: 'silent' }));

describe('hostile values never stop or fool the pipeline (PostgreSQL, Kafka, S3 API)', () => {
  let profiles: CloudProfiles;
  let hostile: JobContext;
  let twin: JobContext;

  beforeAll(async () => {
    process.env.PII_HASH_KEY = 'robustness-test-key';
    profiles = await createCloudProfiles('robust');
    hostile = platformContext(profiles.aws.settings);
    twin = platformContext(profiles.azure.settings);
    await seed(hostile);
    await seed(twin);
    await addHostileRecords(hostile);
    for (const context of [hostile, twin]) {
      const result = await runPipeline(context);
      expect(result.blockedBy).toEqual([]);
      expect(result.ok).toBe(true);
    }
  }, 600_000);

  afterAll(async () => {
    delete process.env.PII_HASH_KEY;
    await hostile?.close();
    await twin?.close();
    await profiles?.dispose();
  });

  const quarantined = async (source: string) =>
    (await hostile.warehouse()).query<{ reasons: string; record: string }>(
      'select reasons, record from ops.quarantine_rows where source = $1',
      [source],
    );

  it('quarantines each hostile event from Kafka with the reason the cast would have failed on', async () => {
    const rows = await quarantined('clickstream');
    for (const { event, reason } of HOSTILE_EVENTS) {
      const row = rows.find((candidate) => candidate.record.includes(`"event_id":"${event.event_id}"`));
      expect(row?.reasons, event.event_id).toContain(reason);
    }
  });

  it('quarantines the 1 MB text and the year-9999 order from the OLTP extract, naming the column', async () => {
    const customers = await quarantined('customers');
    expect(customers.find((row) => row.record.includes('"customer_id":"900001"'))?.reasons).toBe(
      'city: text longer than 65535 bytes',
    );
    const orders = await quarantined('orders');
    expect(orders.find((row) => row.record.includes('"order_id":"900001"'))?.reasons).toBe(
      'ordered_at: more than 86400 seconds in the future',
    );
  });

  it('quarantines the impossible day, the overflowing id and the sub-cent amount of a legacy CSV drop', async () => {
    const orders = await quarantined('orders');
    for (const [id, , , reason] of LEGACY_ORDERS) {
      expect(orders.find((row) => row.record.includes(`"order_id":"${id}"`))?.reasons, id).toContain(reason);
    }
    expect(orders.find((row) => row.record.includes('"order_id":"800003"'))?.reasons).toBe(
      'shipping_amount: more than 2 decimal places (numeric(12, 2))',
    );
  });

  it('builds gold identical to the clean twin store, with the date spine inside the plausible window', async () => {
    expect(await goldHashes(await hostile.warehouse())).toEqual(await goldHashes(await twin.warehouse()));
    const [spine] = await (await hostile.warehouse()).query<{ last_day: string; days: number }>(
      'select cast(max(date_day) as varchar) as last_day, cast(count(*) as integer) as days from gold.dim_date',
    );
    expect(spine?.last_day).toBe('2026-09-30');
    expect(spine?.days).toBeLessThan(40);
  });

  it('agrees with daily sales and order revenue recomputed straight from the source', async () => {
    const expected = await dailySalesFromSource(await hostile.source());
    expect(expected.length).toBeGreaterThan(20);
    expect(await dailySalesFromGold(await hostile.warehouse())).toEqual(expected);
    expect(await orderNetFromGold(await hostile.warehouse())).toEqual(
      await orderNetFromSource(await hostile.source()),
    );
  });

  it('sets aside a batch loaded before the contracts were this strict when silver cannot cast it', async () => {
    // An older release loaded this row: the contract of the day let 29 February 2026 through.
    const warehouse = await hostile.warehouse();
    const before = await goldHashes(warehouse);
    const legacy = 'orders_loaded_by_an_older_release';
    await registerBatch(warehouse, {
      batchId: legacy,
      source: 'orders',
      kind: 'table',
      ingestionDate: '2026-09-30',
      rawKey: `raw/source=orders/ingestion_date=2026-09-30/${legacy}.csv`,
      rows: 1,
      at: new Date(),
    });
    await markValidated(warehouse, legacy, {
      stagedKey: `staging/source=orders/ingestion_date=2026-09-30/${legacy}.csv`,
      quarantineKey: null,
      staged: 1,
      quarantined: 0,
      rescued: 0,
      at: new Date(),
    });
    await warehouse.query(
      `insert into bronze.orders (order_id, customer_id, ordered_at, status, channel, currency, shipping_amount,
         created_at, updated_at, _batch_id, _source_file)
       values ('700001', '1', '2026-02-29 10:00:00+00', 'pending', 'web', 'USD', '1.00', '2026-09-30 12:00:00+00',
         '2026-02-30 12:00:00+00', $1, 'raw/legacy.csv')`,
      [legacy],
    );
    await markLoaded(warehouse, legacy, 1, new Date());

    const context = platformContext(profiles.aws.settings);
    const run = await runPipeline(context);
    await context.close();
    expect(run.ok).toBe(true);
    const setAside = run.failedBatches.find((batch) => batch.batch_id === legacy);
    expect(setAside?.failed_step).toBe('transform');
    expect(setAside?.failure_reason).toMatch(
      new RegExp(
        `^silver\\.orders: bronze\\.orders, column ordered_at, batch ${legacy}, row order_id=700001: ` +
          'date/time field value out of range',
      ),
    );
    expect(await goldHashes(warehouse)).toEqual(before);
    const [rows] = await warehouse.query<{ n: number }>(
      'select cast(count(*) as integer) as n from bronze.orders where _batch_id = $1',
      [legacy],
    );
    expect(rows?.n).toBe(0);
    const [incident] = await warehouse.query<{ status: string }>(
      'select status from ops.incidents where check_id = $1',
      [`batch_failed:${legacy}`],
    );
    expect(incident?.status).toBe('open');
    // The key reconciliation could not compare that row's version either: reported, and the run went on.
    const [reconciliation] = await warehouse.query<{ status: string; details: string }>(
      `select status, details from ops.dq_findings where run_id = $1 and check_id = 'bronze.orders:key_reconciliation'`,
      [context.runId],
    );
    expect(reconciliation?.status).toBe('fail');
    expect(reconciliation?.details).toMatch(/out of range/);
  });

  it('completes the next run and leaves gold as it was', async () => {
    const before = await goldHashes(await hostile.warehouse());
    const next = platformContext(profiles.aws.settings);
    const again = await runPipeline(next);
    expect(again.ok).toBe(true);
    const failedChecks = await (await next.warehouse()).query(
      `select check_id from ops.dq_findings where run_id = $1 and status = 'fail' and check_type = 'key_reconciliation'`,
      [next.runId],
    );
    expect(failedChecks).toEqual([]);
    await next.close();
    expect(await goldHashes(await hostile.warehouse())).toEqual(before);
  });
});
