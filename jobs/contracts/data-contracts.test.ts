import { describe, expect, it } from 'vitest';
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
    ]);
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
});
