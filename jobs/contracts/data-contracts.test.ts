import { describe, expect, it } from 'vitest';
import { UTM_MAX_CHARACTERS } from './business-rules.ts';
import { contractFor } from './data-contracts.ts';

const order = {
  order_id: '10',
  customer_id: '3',
  ordered_at: '2026-11-01 10:00:00+00',
  status: 'shipped',
  channel: 'web',
  currency: 'EUR',
  shipping_amount: '4.99',
  created_at: '2026-11-01 10:00:00+00',
  updated_at: '2026-11-02 08:00:00+00',
};

describe('data contracts', () => {
  it('passes a valid order and returns its cells in contract order', () => {
    const verdict = contractFor('orders').check(order);
    expect(verdict.reasons).toEqual([]);
    expect(verdict.values).toEqual(Object.values(order));
    expect(verdict.rescued).toBeNull();
  });

  it('gives every reason a row fails, each naming its column', () => {
    const verdict = contractFor('orders').check({
      ...order,
      status: 'returned',
      customer_id: null,
      shipping_amount: '-1',
    });
    expect(verdict.reasons).toEqual([
      'customer_id: required value is missing',
      'status: must be one of pending, shipped, delivered, cancelled',
      'shipping_amount: must be >= 0',
    ]);
  });

  it('rejects a negative price and a malformed number', () => {
    const product = {
      product_id: '1',
      sku: 'SKU-1',
      product_name: 'Mug',
      category: 'Home',
      brand: 'Acme',
      unit_price: '-2.00',
      currency: 'USD',
      is_active: 't',
      created_at: order.created_at,
      updated_at: order.updated_at,
    };
    expect(contractFor('products').check(product).reasons).toEqual(['unit_price: must be >= 0']);
    expect(contractFor('products').check({ ...product, unit_price: 'ten' }).reasons).toEqual([
      'unit_price: expected a decimal number',
    ]);
  });

  it('keeps undeclared fields as rescued data instead of dropping or rejecting them', () => {
    const verdict = contractFor('orders').check({ ...order, coupon_code: 'XMAS' });
    expect(verdict.reasons).toEqual([]);
    expect(verdict.rescued).toEqual({ coupon_code: 'XMAS' });
  });

  it('requires JSON numbers in events, not strings that look like numbers', () => {
    const event = {
      event_id: 'e1',
      event_type: 'add_to_cart',
      occurred_at: '2026-11-01T10:00:00.000Z',
      session_id: 's1',
      customer_id: 4,
      device: 'web',
      page_url: '/p/1',
      product_id: 1,
      quantity: 2,
      order_id: null,
    };
    expect(contractFor('clickstream').check(event).reasons).toEqual([]);
    expect(contractFor('clickstream').check({ ...event, quantity: 'two' }).reasons).toEqual([
      'quantity: expected an integer',
    ]);
    expect(contractFor('clickstream').check({ ...event, event_type: 'hover' }).reasons[0]).toMatch(
      /^event_type: must be one of/,
    );
  });

  it('versions the order-events contract: v1 and v2 both pass, v2 requires its fields, unknown versions are refused', () => {
    const contract = contractFor('order-events');
    const v1 = {
      event_id: 'o1',
      event_type: 'order_created',
      occurred_at: '2026-11-01T10:00:00Z',
      order_id: 7,
      status: 'pending',
    };
    const passed = (event: Record<string, unknown>) => {
      const verdict = contract.check(event);
      expect(verdict.reasons).toEqual([]);
      return Object.fromEntries(contract.columns.map((column, index) => [column, verdict.values[index]]));
    };
    expect(passed(v1)).toMatchObject({ schema_version: null, order_total: null, currency: null });
    expect(passed({ ...v1, schema_version: 1 })).toMatchObject({ schema_version: '1' });
    const v2 = { ...v1, schema_version: 2, order_total: 123.4, currency: 'EUR' };
    expect(passed(v2)).toMatchObject({ schema_version: '2', order_total: '123.4', currency: 'EUR' });
    expect(contract.check({ ...v2, currency: undefined }).reasons).toEqual([
      'schema_version 2 requires currency',
    ]);
    expect(contract.check({ ...v2, order_total: null, currency: null }).reasons).toEqual([
      'schema_version 2 requires order_total, currency',
    ]);
    expect(contract.check({ ...v2, schema_version: 3 }).reasons).toEqual([
      'schema_version: must be one of 1, 2',
    ]);
    expect(contract.check({ ...v2, order_total: -1, currency: 'XXX' }).reasons).toEqual([
      'order_total: must be >= 0',
      'currency: must be one of USD, EUR, GBP, JPY, AUD',
    ]);
    expect(contract.check({ ...v2, order_total: 1.234 }).reasons).toEqual([
      expect.stringMatching(/^order_total: /),
    ]);
  });

  it('lets optional event fields be absent or null', () => {
    const verdict = contractFor('clickstream').check({
      event_id: 'e2',
      event_type: 'page_view',
      occurred_at: '2026-11-01T10:00:00Z',
      session_id: 's1',
      device: 'mobile',
    });
    expect(verdict.reasons).toEqual([]);
    expect(verdict.values).toEqual([
      'e2',
      'page_view',
      '2026-11-01T10:00:00Z',
      's1',
      null,
      'mobile',
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  it('takes UTM parameters as optional short text: present, absent (an older producer, direct traffic) or too long', () => {
    const clicks = contractFor('clickstream');
    const landing = {
      event_id: 'e4',
      event_type: 'page_view',
      occurred_at: '2026-11-01T10:00:00Z',
      session_id: 's1',
      device: 'web',
      page_url: '/?utm_source=Google&utm_medium=cpc&utm_campaign=brand_search',
    };
    const utm = (event: Record<string, unknown>) => {
      const verdict = clicks.check(event);
      expect(verdict.reasons).toEqual([]);
      return ['utm_source', 'utm_medium', 'utm_campaign'].map(
        (column) => verdict.values[clicks.columns.indexOf(column)],
      );
    };
    expect(
      utm({ ...landing, utm_source: 'Google', utm_medium: 'cpc', utm_campaign: 'brand_search' }),
    ).toEqual(['Google', 'cpc', 'brand_search']);
    expect(utm(landing)).toEqual([null, null, null]);
    expect(utm({ ...landing, utm_source: null, utm_medium: null, utm_campaign: null })).toEqual([
      null,
      null,
      null,
    ]);
    // Padding is trimmed before the length is judged, as silver trims it.
    expect(utm({ ...landing, utm_campaign: ` ${'c'.repeat(UTM_MAX_CHARACTERS)} ` })[2]).toHaveLength(
      UTM_MAX_CHARACTERS + 2,
    );
    expect(
      clicks.check({ ...landing, utm_source: 'x'.repeat(UTM_MAX_CHARACTERS + 1), utm_medium: 7 }).reasons,
    ).toEqual([`utm_source: must be at most ${UTM_MAX_CHARACTERS} characters`, 'utm_medium: expected text']);
  });

  it('refuses what bronze could not load: NUL characters, text or undeclared fields above 65,535 bytes', () => {
    const event = {
      event_id: 'e3',
      event_type: 'page_view',
      occurred_at: '2026-11-01T10:00:00Z',
      session_id: 's1',
      device: 'web',
    };
    const clicks = contractFor('clickstream');
    expect(clicks.check({ ...event, device: 'we\u0000b' }).reasons).toEqual([
      'device: text must not contain NUL characters',
    ]);
    expect(clicks.check({ ...event, page_url: 'é'.repeat(40_000) }).reasons).toEqual([
      'page_url: text longer than 65535 bytes',
    ]);
    expect(clicks.check({ ...event, page_url: 'x'.repeat(65_535) }).reasons).toEqual([]);
    expect(clicks.check({ ...event, extra: 'x'.repeat(70_000) }).reasons).toEqual([
      '_rescued_data: undeclared fields take more than 65535 bytes',
    ]);
  });

  it('refuses what a silver cast would reject or change: impossible days, overflow, excess precision', () => {
    const orders = contractFor('orders');
    const reasonsOf = (change: Record<string, unknown>) => orders.check({ ...order, ...change }).reasons;
    expect(reasonsOf({ ordered_at: '2024-02-29 23:00:00+00' })).toEqual([]);
    expect(reasonsOf({ ordered_at: '2025-02-29 10:00:00+00' })).toEqual([
      'ordered_at: expected a timestamp: no such calendar day',
    ]);
    expect(reasonsOf({ ordered_at: '2026-11-01 24:00:00+00' })).toEqual([
      'ordered_at: expected a timestamp: no such time of day',
    ]);
    expect(reasonsOf({ order_id: '2147483648' })).toEqual([
      'order_id: out of range for a 32-bit integer (-2147483648 to 2147483647)',
    ]);
    expect(reasonsOf({ shipping_amount: '12345678901.00' })).toEqual([
      'shipping_amount: more than 10 digits before the decimal point (numeric(12, 2))',
    ]);
    expect(reasonsOf({ shipping_amount: '4.999' })).toEqual([
      'shipping_amount: more than 2 decimal places (numeric(12, 2))',
    ]);
    expect(reasonsOf({ shipping_amount: '4.990' })).toEqual([]);
    const rate = {
      rate_date: '2026-02-30',
      currency: 'EUR',
      rate_to_usd: '1.08',
      created_at: order.created_at,
      updated_at: order.updated_at,
    };
    expect(contractFor('fx_rates').check(rate).reasons).toEqual([
      'rate_date: expected a date YYYY-MM-DD: no such calendar day',
    ]);
  });

  it('quarantines times outside the plausible window, judged at the validation time', () => {
    const now = new Date('2026-11-03T00:00:00Z');
    const orders = contractFor('orders');
    expect(orders.check({ ...order, ordered_at: '9999-12-31 00:00:00+00' }, { now }).reasons).toEqual([
      'ordered_at: more than 86400 seconds in the future',
    ]);
    expect(orders.check({ ...order, ordered_at: '1999-12-31 23:59:59+00' }, { now }).reasons).toEqual([
      'ordered_at: before 2000-01-01, the earliest plausible time',
    ]);
    expect(orders.check({ ...order, ordered_at: '2026-11-03 23:59:59+00' }, { now }).reasons).toEqual([]);
    // An offset moves the instant: 00:30 at +01:00 is still within a day of now; at -23:00 it is not.
    expect(orders.check({ ...order, ordered_at: '2026-11-04 00:30:00+01:00' }, { now }).reasons).toEqual([]);
    expect(orders.check({ ...order, ordered_at: '2026-11-04 00:30:00-14:00' }, { now }).reasons).toEqual([
      'ordered_at: more than 86400 seconds in the future',
    ]);
    const strict = { now, fieldWindows: { 'orders.ordered_at': { maxFutureSeconds: 0 } } };
    expect(orders.check({ ...order, ordered_at: '2026-11-03 00:00:01+00' }, strict).reasons).toEqual([
      'ordered_at: more than 0 seconds in the future',
    ]);
    expect(orders.check({ ...order, updated_at: '2026-11-03 00:00:01+00' }, strict).reasons).toEqual([]);
  });

  it('checks event values and the stream position they arrived at with the same types', () => {
    const now = new Date('2026-11-03T00:00:00Z');
    const clicks = contractFor('clickstream');
    const event = {
      event_id: 'e4',
      event_type: 'add_to_cart',
      occurred_at: '2027-02-29T10:00:00Z',
      session_id: 's1',
      device: 'web',
      product_id: 2 ** 31,
      quantity: 1e21,
    };
    expect(clicks.check(event, { now }).reasons).toEqual([
      'occurred_at: expected an ISO-8601 timestamp: no such calendar day',
      'product_id: out of range for a 32-bit integer (-2147483648 to 2147483647)',
      'quantity: integer beyond ±2^53 cannot be read exactly from JSON',
    ]);
    expect(clicks.checkStream(['0', '17', '2026-11-02T10:00:00.000Z'], { now })).toEqual([]);
    expect(clicks.checkStream(['0', '17', '+275760-09-13T00:00:00.000Z'], { now })).toEqual([
      '_published_at: expected a timestamp: not ISO-8601',
    ]);
    expect(contractFor('orders').checkStream(['x'], { now })).toEqual([]);
  });

  it('refuses a lone surrogate, which would reach the warehouse as U+FFFD', () => {
    expect(contractFor('orders').check({ ...order, channel: 'web\ud800' }).reasons).toEqual([
      'channel: text is not valid Unicode (lone surrogate)',
    ]);
  });
});
