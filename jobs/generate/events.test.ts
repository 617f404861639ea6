import { describe, expect, it } from 'vitest';
import { CLICKSTREAM_EVENT_TYPES, EVENT_TOPICS, ORDER_EVENT_TYPES } from '../contracts/event-topics.ts';
import { ORDER_STATUSES } from '../contracts/source-tables.ts';
import { generateStoreData } from './store-data.ts';
import type { EventMessage } from './types.ts';

const asOf = new Date('2024-06-01T00:00:00Z');
const data = generateStoreData({ seed: 11, scale: 0.2, asOf });
const windowStart = asOf.getTime() - 30 * 86_400_000;

/** Messages that carry no anomaly at all: parse, and check them against the contract. */
const anomalyIds = new Set(data.anomalies.map((anomaly) => String(anomaly.id)));
const parsed = data.events.flatMap((message) => {
  try {
    const value = JSON.parse(message.value) as Record<string, unknown>;
    return anomalyIds.has(String(value.event_id)) ? [] : [{ message, value }];
  } catch {
    return [];
  }
});
const clicks = parsed.filter(({ message }) => message.topic === 'clickstream');
const orderEvents = parsed.filter(({ message }) => message.topic === 'order-events');
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The fields a generated event carries: every field of the topic's contract (order events as version 2). */
function fieldNames(topic: string): string[] {
  return EVENT_TOPICS.find((spec) => spec.topic === topic)?.fields.map((field) => field.name) ?? [];
}

describe('events', () => {
  it('use exactly the declared field names, UUID ids, message keys and timestamps from occurred_at', () => {
    for (const { message, value } of parsed) {
      expect(Object.keys(value)).toEqual(fieldNames(message.topic));
      expect(value.event_id).toMatch(uuid);
      expect(message.timestamp).toBe(Date.parse(String(value.occurred_at)));
      expect(message.timestamp).toBeGreaterThanOrEqual(windowStart);
      expect(message.timestamp).toBeLessThanOrEqual(asOf.getTime());
      const key = message.topic === 'clickstream' ? value.session_id : String(value.order_id);
      expect(message.key).toBe(key);
    }
    const ids = new Set(parsed.map(({ value }) => value.event_id));
    expect(ids.size).toBe(parsed.length);
  });

  it('clickstream sessions follow the funnel with drop-off and reference real customers, products, orders', () => {
    const customerIds = new Set(data.tables.customers.map((customer) => customer.customer_id));
    const productIds = new Set(data.tables.products.filter((p) => p.unit_price > 0).map((p) => p.product_id));
    const types = new Map<string, number>();
    for (const { value } of clicks) {
      const type = String(value.event_type);
      types.set(type, (types.get(type) ?? 0) + 1);
      expect(CLICKSTREAM_EVENT_TYPES).toContain(type);
      expect(['web', 'mobile', 'app']).toContain(value.device);
      if (value.customer_id !== null) expect(customerIds.has(Number(value.customer_id))).toBe(true);
      if (['product_view', 'add_to_cart', 'remove_from_cart'].includes(type)) {
        expect(productIds.has(Number(value.product_id))).toBe(true);
      } else expect(value.product_id).toBeNull();
      if (type === 'add_to_cart' || type === 'remove_from_cart')
        expect(value.quantity).toBeGreaterThanOrEqual(1);
      else expect(value.quantity).toBeNull();
      if (type === 'purchase') expect(value.order_id).toEqual(expect.any(Number));
      else expect(value.order_id).toBeNull();
    }
    const count = (type: string) => types.get(type) ?? 0;
    expect(count('page_view')).toBeGreaterThan(count('checkout_started'));
    expect(count('checkout_started')).toBeGreaterThan(count('purchase'));
    expect(count('remove_from_cart')).toBeGreaterThan(0);
    expect(clicks.some(({ value }) => value.customer_id === null)).toBe(true);
  });

  it("carries UTM parameters on a session's landing page view only, as its URL's query string; none for direct traffic", () => {
    const bySession = new Map<string, Record<string, unknown>[]>();
    for (const { value } of clicks) {
      const list = bySession.get(String(value.session_id)) ?? [];
      list.push(value);
      bySession.set(String(value.session_id), list);
    }
    let tagged = 0;
    let landings = 0;
    const sources = new Set<string>();
    for (const events of bySession.values()) {
      events.sort((a, b) => String(a.occurred_at).localeCompare(String(b.occurred_at)));
      events.forEach((event, index) => {
        const landing = index === 0 && event.event_type === 'page_view';
        if (!landing) {
          expect([event.utm_source, event.utm_medium, event.utm_campaign]).toEqual([null, null, null]);
          return;
        }
        landings += 1;
        const query = new URL(String(event.page_url), 'https://shop.example').searchParams;
        expect(event.utm_source).toBe(query.get('utm_source'));
        expect(event.utm_medium).toBe(query.get('utm_medium'));
        expect(event.utm_campaign).toBe(query.get('utm_campaign'));
        if (event.utm_source === null) expect(event.utm_medium).toBeNull();
        else {
          tagged += 1;
          sources.add(String(event.utm_source));
          expect(event.utm_medium).toEqual(expect.any(String));
        }
      });
    }
    // About 60% of sessions arrive by a tagged link; a source is sometimes spelled capitalised.
    expect(tagged / landings).toBeGreaterThan(0.5);
    expect(tagged / landings).toBeLessThan(0.7);
    expect(sources).toContain('google');
    expect([...sources].some((source) => source !== source.toLowerCase())).toBe(true);
  });

  it('emits one purchase per web/mobile order, at ordered_at, for the ordering customer', () => {
    const purchases = new Map<number, Record<string, unknown>>();
    for (const message of data.events) {
      if (message.topic !== 'clickstream') continue;
      try {
        const value = JSON.parse(message.value) as Record<string, unknown>;
        if (value.event_type === 'purchase') purchases.set(Number(value.order_id), value);
      } catch {}
    }
    const online = data.tables.orders.filter(
      (order) => order.channel === 'web' || order.channel === 'mobile',
    );
    expect(purchases.size).toBe(online.length);
    const missingCustomer = new Set(
      data.anomalies.filter((anomaly) => anomaly.field === 'customer_id').map((anomaly) => anomaly.id),
    );
    for (const order of online) {
      const purchase = purchases.get(order.order_id);
      expect(purchase?.occurred_at).toBe(order.ordered_at);
      if (!missingCustomer.has(order.order_id)) expect(purchase?.customer_id).toBe(order.customer_id);
    }
  });

  it('order events are contract version 2: the order total (its lines net of discount) and currency', () => {
    const damagedOrders = new Set(
      data.anomalies
        .filter((anomaly) => anomaly.source !== 'clickstream')
        .map((anomaly) => String(anomaly.id)),
    );
    const cents = new Map<number, number>();
    for (const item of data.tables.order_items) {
      if (damagedOrders.has(String(item.order_item_id))) damagedOrders.add(String(item.order_id));
      const net = Math.round((item.quantity * item.unit_price - item.discount_amount) * 100);
      cents.set(item.order_id, (cents.get(item.order_id) ?? 0) + net);
    }
    const currencyOf = new Map(data.tables.orders.map((order) => [order.order_id, order.currency]));
    let checked = 0;
    for (const { value } of orderEvents) {
      expect(value.schema_version).toBe(2);
      const orderId = Number(value.order_id);
      if (damagedOrders.has(String(orderId))) continue;
      expect(value.order_total, `order ${orderId}`).toBe((cents.get(orderId) ?? 0) / 100);
      expect(value.currency).toBe(currencyOf.get(orderId));
      checked += 1;
    }
    expect(checked).toBeGreaterThan(orderEvents.length / 2);
  });

  it('order events replay each order lifecycle up to its current row', () => {
    const byOrder = new Map<number, { type: string; status: string; at: string }[]>();
    for (const message of data.events.filter((event: EventMessage) => event.topic === 'order-events')) {
      const value = JSON.parse(message.value) as Record<string, unknown>;
      const list = byOrder.get(Number(value.order_id)) ?? [];
      list.push({
        type: String(value.event_type),
        status: String(value.status),
        at: String(value.occurred_at),
      });
      byOrder.set(Number(value.order_id), list);
    }
    for (const { value } of orderEvents) {
      expect(ORDER_EVENT_TYPES).toContain(value.event_type);
      expect(ORDER_STATUSES).toContain(value.status);
    }
    const unknownStatus = new Set(
      data.anomalies.filter((anomaly) => anomaly.kind === 'unknown_status').map((anomaly) => anomaly.id),
    );
    expect(byOrder.size).toBe(data.tables.orders.length);
    for (const order of data.tables.orders) {
      const events = [
        ...new Map((byOrder.get(order.order_id) ?? []).map((event) => [event.at, event])).values(),
      ];
      events.sort((a, b) => a.at.localeCompare(b.at));
      expect(events[0]).toEqual({ type: 'order_created', status: 'pending', at: order.ordered_at });
      const last = events[events.length - 1];
      expect(last?.at).toBe(order.updated_at);
      if (!unknownStatus.has(order.order_id)) expect(last?.status).toBe(order.status);
    }
  });
});
