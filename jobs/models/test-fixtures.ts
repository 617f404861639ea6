/**
 * Small hand-written bronze rows for the transform tests: every value is text, as the load job writes it.
 * Covers a customer with two versions (one extracted twice), a product price change, an order extracted as
 * pending then delivered, a cancelled order, EUR/GBP/JPY orders, a quiet day, a redelivered event and a late event.
 * The expected numbers in build.test.ts are computed by hand from these rows.
 */
import { afterAll, beforeAll } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { TestWarehouse } from '../../test/pg-database.ts';
import { DATA_CONTRACTS } from '../contracts/data-contracts.ts';
import { buildModels, createBronzeTables } from './build.ts';
import { loadModels, type Model } from './models.ts';

type Row = Record<string, string | null>;

const load = (batch: string, ingestedAt: string) => ({
  _batch_id: batch,
  _source_file: `staging/${batch}.csv`,
  _ingested_at: ingestedAt,
});

const B1 = load('b1', '2026-11-01 01:00:00+00');
const B2 = load('b2', '2026-11-02 01:00:00+00');
const B3 = load('b3', '2026-11-03 01:00:00+00');
const B4 = load('b4', '2026-11-06 01:00:00+00');

const jane = {
  customer_id: '1',
  email: ' Jane.Doe@Example.com ',
  phone: '+33 6 12 34 56 78',
  first_name: 'Jane',
  last_name: 'Doe',
  street_address: '12 Rue de Rivoli',
  country_code: 'fr',
  signed_up_at: '2026-10-01T09:00:00Z',
  created_at: '2026-10-01T09:00:00Z',
};

export const BRONZE_FIXTURES: Record<string, Row[]> = {
  customers: [
    { ...jane, city: 'Paris', loyalty_tier: 'bronze', updated_at: '2026-10-01T09:00:00Z', ...B1 },
    // Jane moves to Lyon: version 2, extracted in b2 and again (unchanged) in b3.
    { ...jane, city: 'Lyon', loyalty_tier: 'Silver', updated_at: '2026-11-01 12:00:00+00', ...B2 },
    { ...jane, city: 'Lyon', loyalty_tier: 'Silver', updated_at: '2026-11-01 12:00:00+00', ...B3 },
    {
      customer_id: '2',
      email: 'bob.smith@shop.test',
      phone: null,
      first_name: 'Bob',
      last_name: 'Smith',
      street_address: null,
      city: 'Austin',
      country_code: 'US',
      loyalty_tier: 'gold',
      signed_up_at: '2026-11-01T08:00:00Z',
      created_at: '2026-11-01T08:00:00Z',
      updated_at: '2026-11-01T08:00:00Z',
      ...B2,
    },
    {
      customer_id: '3',
      email: 'carol.jones@example.org',
      phone: '5550001234',
      first_name: 'Carol',
      last_name: 'Jones',
      street_address: '1 Main Street',
      city: 'London',
      country_code: 'GB',
      loyalty_tier: 'bronze',
      signed_up_at: '2026-11-02T10:00:00.000Z',
      created_at: '2026-11-02T10:00:00.000Z',
      updated_at: '2026-11-02T10:00:00.000Z',
      ...B3,
    },
  ],
  products: [
    product('10', 'SKU-10', 'Coffee Beans', 'Grocery', '12.00', 't', '2026-09-01T00:00:00Z', B1),
    // Price change after order 100 was placed: sales_analytics must still show version 1 for that order.
    product('10', 'SKU-10', 'Coffee Beans', 'Grocery', '14.00', 't', '2026-11-01T11:00:00Z', B2),
    product('20', 'SKU-20', 'Green Tea', 'Tea', '5.50', 'true', '2026-09-01T00:00:00Z', B1),
  ],
  orders: [
    order('100', '1', '2026-11-01T10:00:00Z', 'pending', 'web', 'EUR', '4.99', '2026-11-01T10:00:00Z', B1),
    order('100', '1', '2026-11-01T10:00:00Z', 'delivered', 'web', 'EUR', '4.99', '2026-11-02T09:00:00Z', B2),
    order('101', '2', '2026-11-01T15:30:00Z', 'shipped', 'mobile', 'usd', '0', '2026-11-01T15:30:00Z', B2),
    order(
      '102',
      '2',
      '2026-11-02 08:00:00+00',
      'cancelled',
      'web',
      'USD',
      '5.00',
      '2026-11-02 09:00:00+00',
      B3,
    ),
    order('103', '3', '2026-11-03T23:59:59Z', 'pending', 'store', 'GBP', '2.50', '2026-11-03T23:59:59Z', B4),
    order(
      '104',
      '1',
      '2026-11-05T12:00:00Z',
      'delivered',
      'marketplace',
      'JPY',
      '0',
      '2026-11-05T12:00:00Z',
      B4,
    ),
  ],
  order_items: [
    item('1000', '100', '10', '2', '10.00', '1.00', B1),
    item('1001', '100', '20', '1', '5.50', '0', B1),
    item('1002', '101', '10', '1', '12.00', '0.00', B2),
    item('1003', '102', '20', '3', '5.50', '0', B3),
    item('1004', '103', '20', '4', '5.50', '2.00', B4),
    item('1005', '104', '10', '2', '1500', '0', B4),
  ],
  fx_rates: [
    rate('2026-11-01', 'EUR', '1.080000', '2026-11-01T06:00:00Z', B1),
    // A corrected EUR rate for the same day, extracted later: silver must keep this one.
    rate('2026-11-01', 'EUR', '1.085000', '2026-11-01T18:00:00Z', B2),
    rate('2026-11-02', 'EUR', '1.090000', '2026-11-02T06:00:00Z', B2),
    rate('2026-11-03', 'GBP', '1.268450', '2026-11-03T06:00:00Z', B3),
    rate('2026-11-03', 'EUR', '1.070000', '2026-11-03T06:00:00Z', B3),
    rate('2026-11-05', 'JPY', '0.006700', '2026-11-05T06:00:00Z', B4),
  ],
  clickstream_events: [
    click(
      'e1',
      'page_view',
      '2026-11-01T09:50:00.000Z',
      'sess-a',
      '1',
      'Desktop',
      '/home',
      null,
      null,
      null,
      's1',
    ),
    click(
      'e2',
      'product_view',
      '2026-11-01T09:51:00.000Z',
      'sess-a',
      '1',
      'desktop',
      '/p/10',
      '10',
      null,
      null,
      's1',
    ),
    click(
      'e3',
      'add_to_cart',
      '2026-11-01T09:52:00.000Z',
      'sess-a',
      '1',
      'desktop',
      null,
      '10',
      '2',
      null,
      's1',
    ),
    click(
      'e4',
      'checkout_started',
      '2026-11-01T09:55:00.500Z',
      'sess-a',
      '1',
      'desktop',
      null,
      null,
      null,
      null,
      's1',
    ),
    click(
      'e5',
      'purchase',
      '2026-11-01T10:00:00.250Z',
      'sess-a',
      '1',
      'desktop',
      null,
      null,
      null,
      '100',
      's1',
    ),
    click(
      'e6',
      'product_view',
      '2026-11-01T12:00:00Z',
      'sess-b',
      null,
      'mobile',
      '/p/20',
      '20',
      null,
      null,
      's1',
    ),
    click('e7', 'add_to_cart', '2026-11-01T12:01:00Z', 'sess-b', null, 'mobile', null, '20', '1', null, 's1'),
    click(
      'e8',
      'remove_from_cart',
      '2026-11-01T12:02:00Z',
      'sess-b',
      null,
      'mobile',
      null,
      '20',
      '1',
      null,
      's1',
    ),
    // Redelivery of e5 in the next micro-batch: silver keeps one e5.
    click(
      'e5',
      'purchase',
      '2026-11-01T10:00:00.250Z',
      'sess-a',
      '1',
      'desktop',
      null,
      null,
      null,
      '100',
      's2',
    ),
    click(
      'e9',
      'page_view',
      '2026-11-03T08:00:00Z',
      'sess-c',
      '3',
      'tablet',
      '/home',
      null,
      null,
      null,
      's2',
    ),
    // Late: occurred 4 days before the newest event of its micro-batch s2 (e9, 2026-11-03 08:00).
    click(
      'e10',
      'page_view',
      '2026-10-30T08:00:00Z',
      'sess-d',
      null,
      'mobile',
      '/sale',
      null,
      null,
      null,
      's2',
      // Sent from a phone that was offline for days: published long after it occurred.
      '2026-11-03T08:00:00Z',
    ),
  ],
  order_events: [
    orderEvent('oe1', 'order_created', '2026-11-01T10:00:00Z', '100', 'pending', 'o1'),
    orderEvent('oe2', 'order_status_changed', '2026-11-02T09:00:00Z', '100', 'delivered', 'o1'),
    orderEvent('oe2', 'order_status_changed', '2026-11-02T09:00:00Z', '100', 'delivered', 'o2'),
    orderEvent('oe3', 'order_created', '2026-11-01T15:30:00Z', '101', 'shipped', 'o2'),
  ],
};

/** Strings of personal data in the fixtures that must never reach gold in clear text (invariant 4). */
export const FIXTURE_PII = [
  'jane.doe@example.com',
  'Jane.Doe@Example.com',
  'bob.smith@shop.test',
  'carol.jones@example.org',
  '+33 6 12 34 56 78',
  '5550001234',
  'Jane',
  'Doe',
  'Bob',
  'Smith',
  'Carol',
  'Jones',
  '12 Rue de Rivoli',
  '1 Main Street',
];

/** The PII hash key the fixtures' keyed hashes (customer_key, email_hash, …) are derived with. */
export const FIXTURE_PII_HASH_KEY = 'test-pii-key';

/**
 * A fixture row as the load job lands it in bronze: the derived columns (keyed hashes, masks) computed as
 * validation computes them, and the clear PII columns left out (they land in the restricted schema `pii`).
 */
export function asLoaded(table: string, row: Row): Row {
  const contract = DATA_CONTRACTS.find((entry) => entry.table === table);
  if (!contract || contract.derivedColumns.length === 0) return row;
  const derived = contract.derive(
    contract.columns.map((column) => row[column] ?? null),
    FIXTURE_PII_HASH_KEY,
  );
  const loaded: Row = Object.fromEntries(
    Object.entries(row).filter(([column]) => !contract.piiColumns.includes(column)),
  );
  contract.derivedColumns.forEach((column, index) => {
    loaded[column] = derived[index] ?? null;
  });
  return loaded;
}

/**
 * For a describe block: a warehouse opened before its tests with the fixtures in bronze and every model built, and
 * disposed after them. The database is read through the returned function once the tests run.
 */
export function builtOnFixtures(
  open: () => Promise<TestWarehouse>,
  fixtures: Record<string, Row[]> = BRONZE_FIXTURES,
  models: Model[] = loadModels(),
): () => SqlDatabase {
  let warehouse: TestWarehouse | undefined;
  beforeAll(async () => {
    warehouse = await open();
    await createBronzeTables(warehouse.db);
    await loadBronzeFixtures(warehouse.db, fixtures);
    await buildModels(warehouse.db, models, { vars: {} });
  }, 120_000);
  afterAll(async () => {
    await warehouse?.dispose();
  });
  return () => warehouse?.db as SqlDatabase;
}

/** Inserts the fixtures into bronze tables that already exist, as the load job would land them. */
export async function loadBronzeFixtures(db: SqlDatabase, fixtures: Record<string, Row[]> = BRONZE_FIXTURES) {
  for (const [table, fixtureRows] of Object.entries(fixtures)) {
    for (const row of fixtureRows.map((fixture) => asLoaded(table, fixture))) {
      const columns = Object.keys(row);
      const values = columns.map((column) => literal(row[column] ?? null));
      await db.exec(`insert into bronze.${table} (${columns.join(', ')}) values (${values.join(', ')})`);
    }
  }
}

function literal(value: string | null): string {
  return value === null ? 'null' : `'${value.replaceAll("'", "''")}'`;
}

function product(
  id: string,
  sku: string,
  name: string,
  category: string,
  price: string,
  active: string,
  updatedAt: string,
  batch: Row,
): Row {
  return {
    product_id: id,
    sku,
    product_name: name,
    category,
    brand: 'Acme',
    unit_price: price,
    currency: 'USD',
    is_active: active,
    created_at: '2026-09-01T00:00:00Z',
    updated_at: updatedAt,
    ...batch,
  };
}

function order(
  id: string,
  customerId: string,
  orderedAt: string,
  status: string,
  channel: string,
  currency: string,
  shipping: string,
  updatedAt: string,
  batch: Row,
): Row {
  return {
    order_id: id,
    customer_id: customerId,
    ordered_at: orderedAt,
    status,
    channel,
    currency,
    shipping_amount: shipping,
    created_at: orderedAt,
    updated_at: updatedAt,
    ...batch,
  };
}

function item(
  id: string,
  orderId: string,
  productId: string,
  quantity: string,
  price: string,
  discount: string,
  batch: Row,
): Row {
  return {
    order_item_id: id,
    order_id: orderId,
    product_id: productId,
    quantity,
    unit_price: price,
    discount_amount: discount,
    created_at: '2026-11-01T10:00:00Z',
    updated_at: '2026-11-01T10:00:00Z',
    ...batch,
  };
}

function rate(day: string, currency: string, value: string, updatedAt: string, batch: Row): Row {
  return {
    rate_date: day,
    currency,
    rate_to_usd: value,
    created_at: updatedAt,
    updated_at: updatedAt,
    ...batch,
  };
}

function click(
  eventId: string,
  eventType: string,
  occurredAt: string,
  sessionId: string,
  customerId: string | null,
  device: string,
  pageUrl: string | null,
  productId: string | null,
  quantity: string | null,
  orderId: string | null,
  batch: 's1' | 's2',
  /** When the event reached the stream; punctual events are published as they occur. */
  publishedAt: string = occurredAt,
): Row {
  return {
    event_id: eventId,
    event_type: eventType,
    occurred_at: occurredAt,
    session_id: sessionId,
    customer_id: customerId,
    device,
    page_url: pageUrl,
    product_id: productId,
    quantity,
    order_id: orderId,
    _published_at: publishedAt,
    ...(batch === 's1' ? load('s1', '2026-11-01 13:00:00+00') : load('s2', '2026-11-03 09:00:00+00')),
  };
}

function orderEvent(
  eventId: string,
  eventType: string,
  occurredAt: string,
  orderId: string,
  status: string,
  batch: 'o1' | 'o2',
): Row {
  return {
    event_id: eventId,
    event_type: eventType,
    occurred_at: occurredAt,
    order_id: orderId,
    status,
    _published_at: occurredAt,
    ...(batch === 'o1' ? load('o1', '2026-11-02 10:00:00+00') : load('o2', '2026-11-02 11:00:00+00')),
  };
}
