import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { buildModels, createBronzeTables } from './build.ts';
import { runModelTests } from './model-tests.ts';
import { loadModels } from './models.ts';
import { loadBronzeFixtures } from './test-fixtures.ts';

/**
 * gold.marketing_attribution on a hand-made store (sql/README.md, Gold business rules: marketing attribution), on
 * PGlite and PostgreSQL. Every order is in USD, so its revenue is its lines' net amount. Times are UTC.
 *
 * customer 1, order 201 (2026-11-05 12:00, 2 × 10.00 − 1.00 = 19.00), its sessions by start:
 *   s1-old    2026-10-06 11:59:59 google      one second beyond the 30 days: not the order's
 *   s1-edge   2026-10-06 12:00:00 facebook    exactly 30 days before: first touch
 *   s1-direct 2026-11-01 08:00    no UTM      a session, not a touch
 *   s1-mail   2026-11-04 20:00    Newsletter  email, no campaign: last touch, campaign '(not set)'
 *   s1-buy    2026-11-05 11:50    no UTM      the converting session (its purchase names 201)
 *   s1-after  2026-11-06 09:00    tiktok      after the order: not the order's
 * customer 2: order 202 cancelled (left out, though s2-ad precedes it); order 203 (2026-11-03 15:00, 30.00) tied to
 *   s2-ad (' Google ', 'Spring_Sale': trimmed and lower-cased by silver) as the customer's and to the anonymous
 *   s2-anon (bing) by its purchase event alone: first touch google, last touch bing.
 * customer 3: order 204 in a store, no session (left out); order 205 (5.50) whose only session is untagged: direct.
 */

const load = {
  _batch_id: 'attr-1',
  _source_file: 'staging/attr-1.csv',
  _ingested_at: '2026-11-07 01:00:00+00',
};

type Row = Record<string, string | null>;

function order(id: string, customer: string, at: string, status: string, channel: string): Row {
  return {
    order_id: id,
    customer_id: customer,
    ordered_at: at,
    status,
    channel,
    currency: 'USD',
    shipping_amount: '0',
    created_at: at,
    updated_at: at,
    ...load,
  };
}

function line(id: string, orderId: string, quantity: string, price: string, discount: string): Row {
  return {
    order_item_id: id,
    order_id: orderId,
    product_id: '10',
    quantity,
    unit_price: price,
    discount_amount: discount,
    created_at: '2026-11-01T00:00:00Z',
    updated_at: '2026-11-01T00:00:00Z',
    ...load,
  };
}

interface Utm {
  source: string;
  medium: string;
  campaign: string | null;
}

/** A session: its landing page view (with the campaign, if any) and, when it converts, a purchase a minute later. */
function session(
  id: string,
  customer: string | null,
  start: string,
  utm: Utm | null,
  purchase?: string,
): Row[] {
  const event = (suffix: string, type: string, at: string, extra: Row): Row => ({
    event_id: `${id}-${suffix}`,
    event_type: type,
    occurred_at: at,
    session_id: id,
    customer_id: customer,
    device: 'web',
    page_url: null,
    product_id: null,
    quantity: null,
    order_id: null,
    utm_source: null,
    utm_medium: null,
    utm_campaign: null,
    _published_at: at,
    ...extra,
    ...load,
  });
  const landing = event('land', 'page_view', start, {
    utm_source: utm?.source ?? null,
    utm_medium: utm?.medium ?? null,
    utm_campaign: utm?.campaign ?? null,
  });
  if (!purchase) return [landing];
  const later = new Date(Date.parse(start) + 10 * 60_000).toISOString();
  return [landing, event('buy', 'purchase', later, { order_id: purchase })];
}

const FIXTURES: Record<string, Row[]> = {
  orders: [
    order('201', '1', '2026-11-05T12:00:00Z', 'delivered', 'web'),
    order('202', '2', '2026-11-02T12:00:00Z', 'cancelled', 'web'),
    order('203', '2', '2026-11-03T15:00:00Z', 'shipped', 'web'),
    order('204', '3', '2026-11-03T09:00:00Z', 'delivered', 'store'),
    order('205', '3', '2026-11-03T10:00:00Z', 'pending', 'mobile'),
  ],
  order_items: [
    line('2010', '201', '2', '10.00', '1.00'),
    line('2020', '202', '1', '99.00', '0'),
    line('2030', '203', '1', '30.00', '0'),
    line('2040', '204', '1', '7.00', '0'),
    line('2050', '205', '1', '5.50', '0'),
  ],
  clickstream_events: [
    ...session('s1-old', '1', '2026-10-06T11:59:59Z', {
      source: 'google',
      medium: 'cpc',
      campaign: 'brand_search',
    }),
    ...session('s1-edge', '1', '2026-10-06T12:00:00Z', {
      source: 'facebook',
      medium: 'paid_social',
      campaign: 'spring_sale',
    }),
    ...session('s1-direct', '1', '2026-11-01T08:00:00Z', null),
    ...session('s1-mail', '1', '2026-11-04T20:00:00Z', {
      source: 'Newsletter',
      medium: 'email',
      campaign: null,
    }),
    // The purchase event is at the order's time, as the shop's confirmation page sends it.
    ...session('s1-buy', '1', '2026-11-05T11:50:00Z', null, '201'),
    ...session('s1-after', '1', '2026-11-06T09:00:00Z', {
      source: 'tiktok',
      medium: 'paid_social',
      campaign: 'x',
    }),
    ...session('s2-ad', '2', '2026-11-01T18:00:00Z', {
      source: ' Google ',
      medium: 'CPC',
      campaign: 'Spring_Sale',
    }),
    ...session(
      's2-anon',
      null,
      '2026-11-03T14:50:00Z',
      { source: 'bing', medium: 'cpc', campaign: 'brand_search' },
      '203',
    ),
    ...session('s3-direct', '3', '2026-11-03T09:50:00Z', null, '205'),
  ],
};

const COLUMNS = `order_id, cast(net_amount_usd as varchar(20)) as net_amount_usd, converting_session_id, session_count,
  touch_session_count, first_touch_session_id, cast(first_touch_at as varchar(40)) as first_touch_at, first_touch_source,
  first_touch_medium, first_touch_campaign, last_touch_session_id, last_touch_source, last_touch_medium,
  last_touch_campaign`;

describe.each(warehouseEngines('attribution'))('gold.marketing_attribution on %s', (_engine, open) => {
  let db: SqlDatabase;
  let dispose: () => Promise<void>;
  const models = loadModels();

  beforeAll(async () => {
    ({ db, dispose } = await open());
    await createBronzeTables(db);
    await loadBronzeFixtures(db, FIXTURES);
    await buildModels(db, models, { vars: {} });
  });

  afterAll(async () => {
    await dispose();
  });

  it('carries each session its landing campaign, lower-cased and trimmed', async () => {
    expect(
      await db.query(
        `select session_id, utm_source, utm_medium, utm_campaign from gold.fact_sessions
         where session_id in ('s2-ad', 's1-mail', 's1-buy') order by session_id`,
      ),
    ).toEqual([
      { session_id: 's1-buy', utm_source: null, utm_medium: null, utm_campaign: null },
      { session_id: 's1-mail', utm_source: 'newsletter', utm_medium: 'email', utm_campaign: null },
      { session_id: 's2-ad', utm_source: 'google', utm_medium: 'cpc', utm_campaign: 'spring_sale' },
    ]);
  });

  it("gives first and last touch from the order's sessions, direct without one, and leaves out cancelled and sessionless orders", async () => {
    expect(await db.query(`select ${COLUMNS} from gold.marketing_attribution order by order_id`)).toEqual([
      {
        order_id: 201,
        net_amount_usd: '19.00',
        converting_session_id: 's1-buy',
        // s1-edge, s1-direct, s1-mail, s1-buy: not s1-old (31 days before) nor s1-after.
        session_count: 4,
        touch_session_count: 2,
        first_touch_session_id: 's1-edge',
        first_touch_at: expect.stringMatching(/^2026-10-06 12:00:00(\+00)?$/),
        first_touch_source: 'facebook',
        first_touch_medium: 'paid_social',
        first_touch_campaign: 'spring_sale',
        last_touch_session_id: 's1-mail',
        last_touch_source: 'newsletter',
        last_touch_medium: 'email',
        last_touch_campaign: '(not set)',
      },
      {
        order_id: 203,
        net_amount_usd: '30.00',
        converting_session_id: 's2-anon',
        session_count: 2,
        touch_session_count: 2,
        first_touch_session_id: 's2-ad',
        first_touch_at: expect.stringMatching(/^2026-11-01 18:00:00(\+00)?$/),
        first_touch_source: 'google',
        first_touch_medium: 'cpc',
        first_touch_campaign: 'spring_sale',
        last_touch_session_id: 's2-anon',
        last_touch_source: 'bing',
        last_touch_medium: 'cpc',
        last_touch_campaign: 'brand_search',
      },
      {
        order_id: 205,
        net_amount_usd: '5.50',
        converting_session_id: 's3-direct',
        session_count: 1,
        touch_session_count: 0,
        first_touch_session_id: null,
        first_touch_at: null,
        first_touch_source: '(direct)',
        first_touch_medium: '(none)',
        first_touch_campaign: '(direct)',
        last_touch_session_id: null,
        last_touch_source: '(direct)',
        last_touch_medium: '(none)',
        last_touch_campaign: '(direct)',
      },
    ]);
  });

  it("takes each order's revenue from gold.fact_orders", async () => {
    const [row] = await db.query<{ n: string | number }>(
      `select count(*) as n from gold.marketing_attribution a
       inner join gold.fact_orders o on a.order_id = o.order_id
       where a.net_amount_usd <> o.net_amount_usd or a.customer_key <> o.customer_key or o.is_cancelled`,
    );
    expect(Number(row?.n)).toBe(0);
  });

  it('passes its declared blocking tests', async () => {
    const results = await runModelTests(
      db,
      models.filter((model) => model.name === 'gold.marketing_attribution'),
    );
    expect(results.length).toBeGreaterThan(5);
    expect(results.filter((result) => !result.passed).map((result) => result.id)).toEqual([]);
  });
});
