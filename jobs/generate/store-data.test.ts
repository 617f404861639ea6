import { describe, expect, it } from 'vitest';
import { CURRENCIES, ORDER_CHANNELS, ORDER_STATUSES } from '../contracts/source-tables.ts';
import { generateStoreData } from './store-data.ts';
import type { Anomaly, GeneratedData } from './types.ts';

const asOf = new Date('2024-06-01T00:00:00Z');
const asOfIso = '2024-06-01T00:00:00Z';
const windowStartIso = '2024-05-02T00:00:00Z';
const data = generateStoreData({ seed: 7, scale: 0.2, asOf });

function anomalousIds(anomalies: Anomaly[], source: string): Set<number | string> {
  return new Set(anomalies.filter((anomaly) => anomaly.source === source).map((anomaly) => anomaly.id));
}

function counts(generated: GeneratedData) {
  const topic = (name: string) => generated.events.filter((event) => event.topic === name).length;
  return {
    customers: generated.tables.customers.length,
    products: generated.tables.products.length,
    orders: generated.tables.orders.length,
    order_items: generated.tables.order_items.length,
    clickstream: topic('clickstream'),
    orderEvents: topic('order-events'),
  };
}

describe('generateStoreData determinism', () => {
  it('gives byte-identical output for the same inputs', () => {
    const again = generateStoreData({ seed: 7, scale: 0.2, asOf: new Date(asOf) });
    expect(JSON.stringify(again)).toBe(JSON.stringify(data));
  });

  it('gives different data for a different seed', () => {
    const other = generateStoreData({ seed: 8, scale: 0.2, asOf });
    expect(JSON.stringify(other.tables.customers)).not.toBe(JSON.stringify(data.tables.customers));
    expect(JSON.stringify(other.tables.orders)).not.toBe(JSON.stringify(data.tables.orders));
    expect(other.events[0]?.value).not.toBe(data.events[0]?.value);
  });

  it('rejects bad options with clear errors', () => {
    expect(() => generateStoreData({ seed: 1, scale: 0, asOf })).toThrow(/scale/);
    expect(() => generateStoreData({ seed: 1.5, scale: 1, asOf })).toThrow(/seed/);
    expect(() => generateStoreData({ seed: 1, scale: 1, asOf: new Date('2024-06-01T10:00:00Z') })).toThrow(
      /UTC midnight/,
    );
  });
});

describe('generateStoreData scale', () => {
  it('has the documented sizes at scale 0.2 and grows linearly', () => {
    const small = counts(data);
    expect(small).toMatchObject({ customers: 200, products: 40, orders: 1000 });
    expect(small.order_items).toBeGreaterThan(2000);
    expect(small.order_items).toBeLessThan(2800);
    const double = counts(generateStoreData({ seed: 7, scale: 0.4, asOf }));
    expect(double).toMatchObject({ customers: 400, products: 80, orders: 2000 });
    for (const key of ['order_items', 'clickstream', 'orderEvents'] as const) {
      const ratio = double[key] / small[key];
      expect(ratio, key).toBeGreaterThan(1.85);
      expect(ratio, key).toBeLessThan(2.15);
    }
    // Scale 1 would be ~5x: 4-8k events at 0.2 means 20-40k at 1.
    expect(small.clickstream + small.orderEvents).toBeGreaterThan(4000);
    expect(small.clickstream + small.orderEvents).toBeLessThan(8000);
  });
});

describe('valid source rows', () => {
  const { customers, products, orders, order_items, fx_rates } = data.tables;
  const badOrders = anomalousIds(data.anomalies, 'orders');
  const badItems = anomalousIds(data.anomalies, 'order_items');
  const badProducts = anomalousIds(data.anomalies, 'products');
  const customerIds = new Set(customers.map((customer) => customer.customer_id));
  const productIds = new Set(products.map((product) => product.product_id));
  const orderById = new Map(orders.map((order) => [order.order_id, order]));

  const inWindow = (iso: string) => iso >= windowStartIso && iso <= asOfIso;
  const secondPrecision = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

  it('customers are complete and plausible', () => {
    expect(new Set(customers.map((customer) => customer.email)).size).toBe(customers.length);
    for (const customer of customers) {
      expect(customer.email).toMatch(/^[a-z.]+\d+@[a-z.]+$/);
      expect(
        customer.first_name && customer.last_name && customer.city && customer.country_code,
      ).toBeTruthy();
      expect(['bronze', 'silver', 'gold', 'platinum']).toContain(customer.loyalty_tier);
      expect(customer.signed_up_at).toMatch(secondPrecision);
      expect(customer.created_at).toBe(customer.signed_up_at);
      expect(customer.updated_at >= customer.created_at && customer.updated_at <= asOfIso).toBe(true);
    }
    const newDays = new Set(
      customers.filter((c) => inWindow(c.signed_up_at)).map((c) => c.signed_up_at.slice(0, 10)),
    );
    expect(newDays.size).toBeGreaterThan(10);
  });

  it('products have valid prices and currencies, except the injected negative prices', () => {
    expect(new Set(products.map((product) => product.category)).size).toBe(8);
    for (const product of products) {
      expect(CURRENCIES).toContain(product.currency);
      expect(product.updated_at >= product.created_at && product.updated_at <= asOfIso).toBe(true);
      if (!badProducts.has(product.product_id)) expect(product.unit_price).toBeGreaterThan(0);
    }
    expect(products.filter((product) => product.currency === 'USD').length).toBeGreaterThan(
      products.length / 2,
    );
  });

  it('orders have known statuses, channels, currencies, customers and a consistent lifecycle', () => {
    for (const order of orders) {
      expect(order.created_at).toBe(order.ordered_at);
      expect(inWindow(order.ordered_at)).toBe(true);
      expect(order.updated_at >= order.created_at && order.updated_at <= asOfIso).toBe(true);
      expect(order.updated_at).toMatch(secondPrecision);
      expect(ORDER_CHANNELS).toContain(order.channel);
      expect(CURRENCIES).toContain(order.currency);
      expect(order.shipping_amount).toBeGreaterThanOrEqual(0);
      if (badOrders.has(order.order_id)) continue;
      expect(ORDER_STATUSES).toContain(order.status);
      expect(customerIds.has(order.customer_id ?? -1)).toBe(true);
      if (order.status === 'pending') expect(order.updated_at).toBe(order.created_at);
      else expect(order.updated_at > order.created_at).toBe(true);
    }
    const statuses = new Set(orders.map((order) => order.status));
    for (const status of ORDER_STATUSES) expect(statuses).toContain(status);
  });

  it('order items reference existing orders and products with valid quantities and prices', () => {
    expect(new Set(order_items.map((item) => item.order_item_id)).size).toBe(order_items.length);
    for (const item of order_items) {
      const order = orderById.get(item.order_id);
      expect(order).toBeDefined();
      expect(item.created_at).toBe(order?.ordered_at);
      expect(item.updated_at).toBe(item.created_at);
      if (badItems.has(item.order_item_id)) continue;
      expect(productIds.has(item.product_id ?? -1)).toBe(true);
      expect(badProducts.has(item.product_id ?? -1), 'no valid item references a quarantined product').toBe(
        false,
      );
      expect(Number.isInteger(item.quantity) && item.quantity >= 1 && item.quantity <= 5).toBe(true);
      expect(item.unit_price).toBeGreaterThan(0);
      expect(item.discount_amount).toBeGreaterThanOrEqual(0);
      expect(item.discount_amount).toBeLessThanOrEqual(item.unit_price * item.quantity);
    }
    expect(new Set(order_items.map((item) => item.order_id)).size).toBe(orders.length);
  });

  it('fx rates cover every (order date, currency) pair, USD is exactly 1', () => {
    const keys = new Set(fx_rates.map((rate) => `${rate.rate_date}|${rate.currency}`));
    expect(keys.size).toBe(fx_rates.length);
    expect(fx_rates.length).toBe(30 * CURRENCIES.length);
    for (const order of orders) {
      for (const currency of CURRENCIES)
        expect(keys.has(`${order.ordered_at.slice(0, 10)}|${currency}`)).toBe(true);
    }
    for (const rate of fx_rates) {
      if (rate.currency === 'USD') expect(rate.rate_to_usd).toBe(1);
      else expect(rate.rate_to_usd).toBeGreaterThan(0);
    }
    const eur = fx_rates.filter((rate) => rate.currency === 'EUR').map((rate) => rate.rate_to_usd);
    expect(Math.min(...eur)).toBeGreaterThan(0.9);
    expect(Math.max(...eur)).toBeLessThan(1.3);
  });
});
