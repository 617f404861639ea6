import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStream, OutgoingMessage } from '../../adapters/stream/event-stream.ts';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { oltpColumns, SOURCE_TABLES } from '../contracts/source-tables.ts';
import {
  applySourceChanges,
  generate,
  generateStoreData,
  loadSourceDatabase,
  orderStatusEvents,
  publishEvents,
} from './index.ts';

const asOf = new Date('2024-06-01T00:00:00Z');
const options = { seed: 5, scale: 0.2, asOf };
const data = generateStoreData(options);

/** Records what is published; only ensureTopics, publish and endOffsets matter to the generator. */
function fakeStream() {
  const topics = new Map<string, number>();
  const published = new Map<string, OutgoingMessage[]>();
  const batchSizes: number[] = [];
  const stream: EventStream = {
    url: 'fake://',
    async ensureTopics(list) {
      for (const { name, partitions } of list) topics.set(name, partitions);
    },
    async publish(topic, messages) {
      batchSizes.push(messages.length);
      published.set(topic, [...(published.get(topic) ?? []), ...messages]);
    },
    async endOffsets(topic) {
      return [{ topic, partition: 0, offset: published.get(topic)?.length ?? 0 }];
    },
    async startOffsets(topic) {
      return [{ topic, partition: 0, offset: 0 }];
    },
    async retentionMs() {
      return null;
    },
    async offsetsAt() {
      throw new Error('not used');
    },
    async groupOffsets() {
      return [];
    },
    async setGroupOffsets() {
      throw new Error('not used');
    },
    async consumer() {
      throw new Error('not used');
    },
    async close() {},
  };
  return { stream, topics, published, batchSizes };
}

async function tableCounts(db: SqlDatabase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name } of SOURCE_TABLES) {
    const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.${name}`);
    counts[name] = row?.n ?? -1;
  }
  return counts;
}

const expectedCounts = Object.fromEntries(
  Object.entries(data.tables).map(([name, rows]) => [name, rows.length]),
);

// One embedded database for the whole file (PGlite takes seconds to start); tests run in order.
let db: SqlDatabase;
beforeAll(async () => {
  db = await openPglite('pglite://memory');
});
afterAll(async () => db.close());

describe('loadSourceDatabase', () => {
  it('creates the schema of SOURCE_TABLES and loads every row', async () => {
    expect(await loadSourceDatabase(db, data)).toEqual(expectedCounts);
    expect(await tableCounts(db)).toEqual(expectedCounts);

    const columns = await db.query<{ table_name: string; column_name: string; is_nullable: string }>(
      `SELECT table_name, column_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    for (const spec of SOURCE_TABLES) {
      const actual = columns.filter((column) => column.table_name === spec.name);
      expect(actual.map((column) => column.column_name)).toEqual(
        oltpColumns(spec).map((column) => column.name),
      );
      for (const column of actual) {
        expect(column.is_nullable, `${spec.name}.${column.column_name}`).toBe(
          spec.primaryKey.includes(column.column_name) ? 'NO' : 'YES',
        );
      }
    }
  });

  it('stores values faithfully, bad rows included', async () => {
    const [order] = await db.query<Record<string, unknown>>(
      `SELECT order_id, customer_id, status, shipping_amount::text AS shipping_amount,
              to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS updated_at
       FROM public.orders WHERE order_id = 10`,
    );
    const source = data.tables.orders[9];
    expect(order).toEqual({
      order_id: 10,
      customer_id: source?.customer_id,
      status: source?.status,
      shipping_amount: source?.shipping_amount.toFixed(2),
      updated_at: source?.updated_at,
    });
    const [bad] = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM public.order_items WHERE product_id IS NULL OR unit_price < 0`,
    );
    const badItems = data.anomalies.filter((anomaly) => anomaly.source === 'order_items').length;
    expect(bad?.n).toBe(badItems);
    const [sum] = await db.query<{ total: string }>(
      'SELECT sum(rate_to_usd)::text AS total FROM public.fx_rates',
    );
    expect(Number(sum?.total)).toBeCloseTo(
      data.tables.fx_rates.reduce((total, rate) => total + rate.rate_to_usd, 0),
      6,
    );
  });

  it('refuses to load over rows, and replaces them when asked', async () => {
    await expect(loadSourceDatabase(db, data)).rejects.toThrow(/already hold rows.*replace/);
    expect(await tableCounts(db)).toEqual(expectedCounts);
    expect(await loadSourceDatabase(db, data, { replace: true })).toEqual(expectedCounts);
    expect(await tableCounts(db)).toEqual(expectedCounts);
  });

  it('orderStatusEvents gives one contract-valid (v2) order_status_changed per changed order, with its new status and total', async () => {
    await loadSourceDatabase(db, data, { replace: true });
    const at = new Date('2024-06-01T07:00:00Z');
    const changed = await applySourceChanges(db, { seed: 3, at, orders: 6 });
    const events = await orderStatusEvents(db, { seed: 3, at, orderIds: changed.orders });

    const statuses = await db.query<{ order_id: number; status: string; currency: string; total: string }>(
      `SELECT o.order_id, o.status, o.currency,
         (SELECT CAST(COALESCE(SUM(quantity * unit_price - discount_amount), 0) AS varchar(20))
          FROM public.order_items i WHERE i.order_id = o.order_id) AS total
       FROM public.orders o WHERE updated_at = $1 ORDER BY order_id`,
      [at.toISOString()],
    );
    expect(events.map((event) => event.key)).toEqual(changed.orders.map(String));
    const fields = EVENT_TOPICS.find((topic) => topic.topic === 'order-events')?.fields.map((f) => f.name);
    events.forEach((event, index) => {
      expect(event.topic).toBe('order-events');
      expect(event.timestamp).toBe(at.getTime());
      const payload = JSON.parse(event.value) as Record<string, unknown>;
      expect(Object.keys(payload)).toEqual(fields);
      expect(payload).toMatchObject({
        event_type: 'order_status_changed',
        occurred_at: '2024-06-01T07:00:00Z',
        order_id: statuses[index]?.order_id,
        status: statuses[index]?.status,
        // Contract version 2: the order's lines' net total in its currency.
        schema_version: 2,
        order_total: Number(statuses[index]?.total),
        currency: statuses[index]?.currency,
      });
      expect(contractFor('order-events').check(payload, { now: at }).reasons).toEqual([]);
    });
    expect(new Set(events.map((event) => JSON.parse(event.value).event_id)).size).toBe(events.length);
    expect(await orderStatusEvents(db, { seed: 3, at, orderIds: changed.orders })).toEqual(events);
    await expect(
      orderStatusEvents(db, { seed: 3, at, orderIds: [...changed.orders, 999_999] }),
    ).rejects.toThrow(/1 of the 7 orders were not changed/);
    await expect(
      orderStatusEvents(db, { seed: 3, at: new Date(at.getTime() + 5), orderIds: changed.orders }),
    ).rejects.toThrow(/whole seconds/);
    await loadSourceDatabase(db, data, { replace: true });
  });

  it('applySourceChanges changes exactly the requested rows, deterministically', async () => {
    const at = new Date('2024-06-01T06:00:00Z');
    const changeOptions = { seed: 9, at, customers: 4, products: 3, orders: 5 };
    const before = {
      customers: await db.query<Record<string, unknown>>(
        'SELECT * FROM public.customers ORDER BY customer_id',
      ),
      products: await db.query<Record<string, unknown>>('SELECT * FROM public.products ORDER BY product_id'),
      orders: await db.query<Record<string, unknown>>('SELECT * FROM public.orders ORDER BY order_id'),
    };
    const changed = await applySourceChanges(db, changeOptions);
    expect(changed.customers).toHaveLength(4);
    expect(changed.products).toHaveLength(3);
    expect(changed.orders).toHaveLength(5);

    const check = async (table: keyof typeof before, key: string, fields: string[]) => {
      const after = await db.query<Record<string, unknown>>(`SELECT * FROM public.${table} ORDER BY ${key}`);
      const ids = new Set(changed[table]);
      after.forEach((row, index) => {
        const old = before[table][index] ?? {};
        if (!ids.has(Number(row[key]))) {
          expect(row).toEqual(old);
          return;
        }
        expect(row.updated_at).toEqual(at);
        for (const field of fields) expect(row[field], `${table}.${field}`).not.toEqual(old[field]);
        if (table === 'products') expect(Number(row.unit_price)).toBeGreaterThan(0);
        if (table === 'orders') {
          expect(row.status).toBe(old.status === 'pending' ? 'shipped' : 'delivered');
        }
      });
    };
    await check('customers', 'customer_id', ['loyalty_tier', 'city']);
    await check('products', 'product_id', ['unit_price']);
    await check('orders', 'order_id', ['status']);

    await loadSourceDatabase(db, data, { replace: true });
    expect(await applySourceChanges(db, changeOptions)).toEqual(changed);
    await expect(applySourceChanges(db, { seed: 9, at, orders: 100_000 })).rejects.toThrow(/only \d+ rows/);
  });
});

describe('publishEvents and generate', () => {
  it('publishes every message in order, per topic, in chunks, with the declared partitions', async () => {
    const { stream, topics, published, batchSizes } = fakeStream();
    const counts = await publishEvents(stream, data.events);
    for (const spec of EVENT_TOPICS) {
      expect(topics.get(spec.topic)).toBe(spec.partitions);
      const expected = data.events.filter((event) => event.topic === spec.topic);
      expect(counts[spec.topic]).toBe(expected.length);
      expect(published.get(spec.topic)).toEqual(
        expected.map(({ key, value, timestamp }) => ({ key, value, timestamp })),
      );
    }
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(1000);
  });

  it('generate loads both targets, and refuses to run twice without replace', async () => {
    await db.exec(
      'DROP TABLE public.customers, public.products, public.orders, public.order_items, public.fx_rates',
    );
    const { stream, published } = fakeStream();
    const result = await generate({ db, stream, ...options });
    expect(result.anomalies).toEqual(data.anomalies);
    expect(result.counts).toMatchObject(expectedCounts);
    expect(result.counts.clickstream).toBe(published.get('clickstream')?.length);
    expect(result.counts['order-events']).toBe(published.get('order-events')?.length);

    const total = data.events.length;
    await expect(generate({ db, stream, ...options })).rejects.toThrow(/already hold rows/);
    await db.exec(
      'TRUNCATE public.customers, public.products, public.orders, public.order_items, public.fx_rates',
    );
    await expect(generate({ db, stream, ...options })).rejects.toThrow(/topics already hold messages/);
    expect(await tableCounts(db)).toEqual(Object.fromEntries(SOURCE_TABLES.map(({ name }) => [name, 0])));
    const replaced = await generate({ db, stream, ...options, replace: true });
    expect(replaced.counts).toMatchObject(expectedCounts);
    expect([...published.values()].reduce((sum, list) => sum + list.length, 0)).toBe(2 * total);
  });
});
