import { describe, expect, it } from 'vitest';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { ORDER_STATUSES } from '../contracts/source-tables.ts';
import { ANOMALY_FRACTIONS, anomalyCount, LATE_BY_AT_LEAST_SECONDS, MIN_PER_KIND } from './anomalies.ts';
import { generateStoreData } from './store-data.ts';
import type { Anomaly, AnomalyKind } from './types.ts';

const data = generateStoreData({ seed: 3, scale: 0.2, asOf: new Date('2024-06-01T00:00:00Z') });
const of = (kind: AnomalyKind, source?: string) =>
  data.anomalies.filter(
    (anomaly) => anomaly.kind === kind && (source === undefined || anomaly.source === source),
  );

const messagesOf = (topic: string) => data.events.filter((message) => message.topic === topic);
const eventId = (value: string): string | undefined => {
  try {
    return String((JSON.parse(value) as { event_id?: unknown }).event_id);
  } catch {
    return undefined;
  }
};

describe('injected anomalies', () => {
  it('include every kind, at least twice, with the documented expectation', () => {
    const expected: [AnomalyKind, string, Anomaly['expected']][] = [
      ['negative_price', 'products', 'quarantine'],
      ['negative_price', 'order_items', 'quarantine'],
      ['unknown_status', 'orders', 'quarantine'],
      ['missing_id', 'orders', 'quarantine'],
      ['missing_id', 'order_items', 'quarantine'],
      ['malformed_json', 'clickstream', 'quarantine'],
      ['wrong_type', 'clickstream', 'quarantine'],
      ['unknown_field', 'clickstream', 'rescued'],
      ['unknown_field', 'order-events', 'rescued'],
      ['duplicate_event', 'clickstream', 'deduplicated'],
      ['duplicate_event', 'order-events', 'deduplicated'],
      ['late_event', 'clickstream', 'late'],
      ['late_event', 'order-events', 'late'],
    ];
    for (const [kind, source, expectation] of expected) {
      const found = of(kind, source);
      expect(found.length, `${kind} in ${source}`).toBeGreaterThanOrEqual(MIN_PER_KIND);
      for (const anomaly of found) expect(anomaly.expected).toBe(expectation);
    }
    const keys = data.anomalies.map((anomaly) => `${anomaly.source}|${anomaly.id}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('follow the documented fractions', () => {
    const f = ANOMALY_FRACTIONS;
    const { products, orders, order_items } = data.tables;
    const clicks = messagesOf('clickstream').length - of('duplicate_event', 'clickstream').length;
    expect(of('negative_price', 'products').length).toBe(
      anomalyCount(f.productNegativePrice, products.length, 1e9),
    );
    expect(of('unknown_status').length).toBe(anomalyCount(f.orderUnknownStatus, orders.length, 1e9));
    expect(of('missing_id', 'order_items').length).toBe(
      anomalyCount(f.itemMissingProductId, order_items.length, 1e9),
    );
    expect(of('malformed_json').length).toBe(anomalyCount(f.malformedJson, clicks, 1e9));
    expect(of('unknown_field', 'clickstream').length).toBe(anomalyCount(f.unknownField, clicks, 1e9));
  });

  it('break the source rows exactly as the manifest says', () => {
    const byId = <T>(rows: T[], key: keyof T) => new Map(rows.map((row) => [row[key] as unknown, row]));
    const products = byId(data.tables.products, 'product_id');
    const orders = byId(data.tables.orders, 'order_id');
    const items = byId(data.tables.order_items, 'order_item_id');
    for (const anomaly of of('negative_price', 'products'))
      expect(products.get(anomaly.id)?.unit_price).toBeLessThan(0);
    for (const anomaly of of('negative_price', 'order_items'))
      expect(items.get(anomaly.id)?.unit_price).toBeLessThan(0);
    for (const anomaly of of('unknown_status')) {
      expect(ORDER_STATUSES).not.toContain(orders.get(anomaly.id)?.status);
      expect(orders.get(anomaly.id)?.status).toEqual(expect.any(String));
    }
    for (const anomaly of of('missing_id', 'orders')) expect(orders.get(anomaly.id)?.customer_id).toBeNull();
    for (const anomaly of of('missing_id', 'order_items'))
      expect(items.get(anomaly.id)?.product_id).toBeNull();
    // Nothing else is broken.
    expect(data.tables.products.filter((row) => row.unit_price < 0).length).toBe(
      of('negative_price', 'products').length,
    );
    expect(
      data.tables.orders.filter((row) => !(ORDER_STATUSES as readonly string[]).includes(row.status)).length,
    ).toBe(of('unknown_status').length);
    expect(
      data.tables.order_items.filter((row) => row.product_id === null || row.unit_price < 0).length,
    ).toBe(of('missing_id', 'order_items').length + of('negative_price', 'order_items').length);
  });

  it('publish malformed JSON as raw text and wrong types as strings', () => {
    const values = new Set(messagesOf('clickstream').map((message) => message.value));
    for (const anomaly of of('malformed_json')) {
      expect(values.has(String(anomaly.id))).toBe(true);
      expect(() => JSON.parse(String(anomaly.id))).toThrow();
    }
    const unparseable = messagesOf('clickstream').filter((message) => eventId(message.value) === undefined);
    expect(unparseable.length).toBe(of('malformed_json').length);
    const byEventId = new Map(data.events.map((message) => [eventId(message.value), message]));
    for (const anomaly of of('wrong_type')) {
      const value = JSON.parse(byEventId.get(String(anomaly.id))?.value ?? '{}');
      expect(value.quantity).toEqual(expect.any(String));
      expect(['add_to_cart', 'remove_from_cart']).toContain(value.event_type);
    }
  });

  it('add undeclared fields to the rescued events only', () => {
    const rescued = new Set(of('unknown_field').map((anomaly) => String(anomaly.id)));
    for (const message of data.events) {
      const id = eventId(message.value);
      if (id === undefined) continue;
      const declared = new Set(
        EVENT_TOPICS.find((spec) => spec.topic === message.topic)?.fields.map((f) => f.name),
      );
      const extra = Object.keys(JSON.parse(message.value)).filter((key) => !declared.has(key));
      expect(extra.length, id).toBe(rescued.has(id) ? 1 : 0);
    }
  });

  it('publish duplicates twice, identical, the copy later', () => {
    for (const anomaly of of('duplicate_event')) {
      const positions = data.events
        .map((message, index) => ({ message, index }))
        .filter(({ message }) => eventId(message.value) === anomaly.id);
      expect(positions.length).toBe(2);
      expect(positions[1]?.message).toEqual(positions[0]?.message);
    }
    const ids = data.events.map((message) => eventId(message.value)).filter((id) => id !== undefined);
    expect(ids.length - new Set(ids).size).toBe(of('duplicate_event').length);
  });

  it('publish late events last on their topic, 3+ days older than what came before, stamped with their publish time', () => {
    for (const topic of ['clickstream', 'order-events']) {
      const messages = messagesOf(topic);
      const late = new Set(of('late_event', topic).map((anomaly) => anomaly.id));
      const firstLate = messages.findIndex((message) => late.has(eventId(message.value) ?? ''));
      expect(messages.length - firstLate).toBe(late.size);
      const newestBefore = Math.max(...messages.slice(0, firstLate).map((message) => message.timestamp));
      for (const message of messages.slice(firstLate)) {
        expect(late.has(eventId(message.value) ?? '')).toBe(true);
        const occurredAt = Date.parse(
          String((JSON.parse(message.value) as { occurred_at: string }).occurred_at),
        );
        expect(newestBefore - occurredAt).toBeGreaterThanOrEqual(LATE_BY_AT_LEAST_SECONDS * 1000);
        expect(newestBefore - occurredAt).toBeGreaterThanOrEqual(3 * 86_400_000);
        // The record timestamp is when the event reached the broker: with the rest of the stream, not when it occurred.
        expect(message.timestamp).toBe(newestBefore);
      }
      // Everything else is in occurred_at order; only a duplicate's copy may trail, by at most an hour.
      let newest = 0;
      for (const message of messages.slice(0, firstLate)) {
        expect(message.timestamp).toBeGreaterThanOrEqual(newest - 3_600_000);
        newest = Math.max(newest, message.timestamp);
      }
    }
  });
});
