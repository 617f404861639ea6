/**
 * Deliberately bad records, a small fixed fraction of each affected source, chosen by the seeded PRNG.
 * Every one is listed in the manifest with where the pipeline must put it (see docs/generator.md).
 */
import { CLICKSTREAM, type LogicalEvent, ORDER_EVENTS } from './events.ts';
import { at, type Rng } from './random.ts';
import { DAY, HOUR } from './time.ts';
import type { Anomaly, EventMessage, ProductRow, SourceRows } from './types.ts';

/** Fraction of the affected source's rows or messages per anomaly kind (never fewer than MIN_PER_KIND). */
export const ANOMALY_FRACTIONS = {
  /** products.unit_price < 0 (of products). */
  productNegativePrice: 0.01,
  /** order_items.unit_price < 0 (of order_items). */
  itemNegativePrice: 0.001,
  /** order_items.product_id null (of order_items). */
  itemMissingProductId: 0.005,
  /** orders.status outside ORDER_STATUSES (of orders). */
  orderUnknownStatus: 0.005,
  /** orders.customer_id null (of orders). */
  orderMissingCustomerId: 0.005,
  /** clickstream value is truncated JSON (of clickstream events). */
  malformedJson: 0.005,
  /** clickstream quantity is a word, e.g. "two" (of clickstream events; drawn from cart events). */
  wrongType: 0.005,
  /** an undeclared extra field (of each topic's events). */
  unknownField: 0.01,
  /** the same message published twice (of each topic's events). */
  duplicate: 0.005,
  /** occurred_at >= 4 days before the topic's newest event, published after everything else (of each topic). */
  late: 0.005,
} as const;

export const MIN_PER_KIND = 2;
/** A late event is at least this much older than the newest event of its topic. */
export const LATE_BY_AT_LEAST_SECONDS = 4 * DAY;

export const UNKNOWN_STATUSES = ['returned', 'on_hold', 'refunded', 'backordered'] as const;
const QUANTITY_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five'];

export function anomalyCount(fraction: number, population: number, eligible: number): number {
  return Math.min(eligible, Math.max(MIN_PER_KIND, Math.round(fraction * population)));
}

/**
 * Negative list prices, injected before any order is generated: such a product cannot be bought or browsed,
 * so no valid item or event references a product that will be quarantined. One orderable product is spared.
 */
export function injectProductAnomalies(rng: Rng, products: readonly ProductRow[]): Anomaly[] {
  const spared = products.find((product) => product.is_active && product.unit_price > 0);
  const eligible = products.filter((product) => product !== spared);
  const chosen = rng.sample(
    eligible,
    anomalyCount(ANOMALY_FRACTIONS.productNegativePrice, products.length, eligible.length),
  );
  return chosen.map((product) => {
    product.unit_price = -Math.abs(product.unit_price);
    return quarantined('negative_price', 'products', product.product_id, 'unit_price');
  });
}

/** Mutates freshly generated order and item rows in place; returns the manifest entries. */
export function injectOrderAnomalies(
  rng: Rng,
  tables: Pick<SourceRows, 'orders' | 'order_items'>,
): Anomaly[] {
  const anomalies: Anomaly[] = [];
  const f = ANOMALY_FRACTIONS;

  const orders = tables.orders;
  const unknownStatus = anomalyCount(f.orderUnknownStatus, orders.length, orders.length);
  const missingCustomer = anomalyCount(
    f.orderMissingCustomerId,
    orders.length,
    orders.length - unknownStatus,
  );
  const badOrders = rng.sample(orders, unknownStatus + missingCustomer);
  badOrders.forEach((order, index) => {
    if (index < unknownStatus) {
      order.status = rng.pick(UNKNOWN_STATUSES);
      anomalies.push(quarantined('unknown_status', 'orders', order.order_id, 'status'));
    } else {
      order.customer_id = null;
      anomalies.push(quarantined('missing_id', 'orders', order.order_id, 'customer_id'));
    }
  });

  const items = tables.order_items;
  const missingProduct = anomalyCount(f.itemMissingProductId, items.length, items.length);
  const negativeItem = anomalyCount(f.itemNegativePrice, items.length, items.length - missingProduct);
  const badItems = rng.sample(items, missingProduct + negativeItem);
  badItems.forEach((item, index) => {
    if (index < missingProduct) {
      item.product_id = null;
      anomalies.push(quarantined('missing_id', 'order_items', item.order_item_id, 'product_id'));
    } else {
      item.unit_price = -Math.abs(item.unit_price);
      anomalies.push(quarantined('negative_price', 'order_items', item.order_item_id, 'unit_price'));
    }
  });
  return anomalies;
}

function quarantined(kind: Anomaly['kind'], source: string, id: number, field: string): Anomaly {
  return { kind, source, id, field, expected: 'quarantine' };
}

type Treatment =
  | { kind: 'malformed_json' }
  | { kind: 'wrong_type' }
  | { kind: 'unknown_field'; field: string; value: string }
  | { kind: 'duplicate_event' }
  | { kind: 'late_event' };

/**
 * Serialises events to messages in publish order, injecting the event anomalies: per topic, events by
 * occurred_at, each duplicate's second copy 1-200 messages (and at most 1 hour of event time) after the first,
 * late events last.
 */
export function serializeEvents(
  rng: Rng,
  events: readonly LogicalEvent[],
): { messages: EventMessage[]; anomalies: Anomaly[] } {
  const messages: EventMessage[] = [];
  const anomalies: Anomaly[] = [];
  for (const topic of [CLICKSTREAM, ORDER_EVENTS]) {
    const topicEvents = events.filter((event) => event.topic === topic);
    const treatments = chooseTreatments(rng, topic, topicEvents);
    const newestOccurredAt = topicEvents.reduce((newest, event) => Math.max(newest, event.occurredAt), 0);

    const main: EventMessage[] = [];
    const late: { event: LogicalEvent; message: EventMessage }[] = [];
    const copiesAfter = new Map<number, EventMessage[]>();
    topicEvents.forEach((event, index) => {
      const treatment = treatments.get(index);
      const eventId = String(event.payload.event_id);
      const payload = treatment ? { ...event.payload } : event.payload;
      let value: string;
      if (treatment?.kind === 'malformed_json') {
        const json = JSON.stringify(payload);
        value = json.slice(0, rng.int(60, json.length - 10));
        anomalies.push({ kind: 'malformed_json', source: topic, id: value, expected: 'quarantine' });
      } else {
        if (treatment?.kind === 'wrong_type') {
          payload.quantity = QUANTITY_WORDS[Number(payload.quantity)] ?? 'two';
          anomalies.push({
            kind: 'wrong_type',
            source: topic,
            id: eventId,
            field: 'quantity',
            expected: 'quarantine',
          });
        } else if (treatment?.kind === 'unknown_field') {
          payload[treatment.field] = treatment.value;
          anomalies.push({
            kind: 'unknown_field',
            source: topic,
            id: eventId,
            field: treatment.field,
            expected: 'rescued',
          });
        } else if (treatment?.kind === 'duplicate_event') {
          anomalies.push({ kind: 'duplicate_event', source: topic, id: eventId, expected: 'deduplicated' });
        } else if (treatment?.kind === 'late_event') {
          anomalies.push({
            kind: 'late_event',
            source: topic,
            id: eventId,
            field: 'occurred_at',
            expected: 'late',
          });
        }
        value = JSON.stringify(payload);
      }
      const message: EventMessage = { topic, key: event.key, value, timestamp: event.occurredAt * 1000 };
      if (treatment?.kind === 'late_event') {
        // A late event reaches the broker when the rest of the stream does: its record timestamp (publish time)
        // is the topic's newest event time, days after it occurred.
        late.push({ event, message: { ...message, timestamp: newestOccurredAt * 1000 } });
        return;
      }
      main.push(message);
      if (treatment?.kind === 'duplicate_event') {
        // The copy follows 1-200 messages later, but never more than an hour of event time later, so a
        // duplicate is never also late (at tiny scales 200 messages can span days).
        let position = Math.min(topicEvents.length - 1, index + rng.int(1, 200));
        while (position > index && at(topicEvents, position).occurredAt - event.occurredAt > HOUR)
          position -= 1;
        copiesAfter.set(position, [...(copiesAfter.get(position) ?? []), { ...message }]);
      }
    });

    // Positions are original indexes; late events are removed from `main`, so map by walking the originals.
    let mainIndex = 0;
    topicEvents.forEach((_, index) => {
      if (treatments.get(index)?.kind !== 'late_event') {
        messages.push(at(main, mainIndex));
        mainIndex += 1;
      }
      for (const copy of copiesAfter.get(index) ?? []) messages.push(copy);
    });
    late.sort((a, b) => a.event.occurredAt - b.event.occurredAt);
    for (const { message } of late) messages.push(message);
  }
  return { messages, anomalies };
}

function chooseTreatments(rng: Rng, topic: string, events: readonly LogicalEvent[]): Map<number, Treatment> {
  const f = ANOMALY_FRACTIONS;
  const treatments = new Map<number, Treatment>();
  const population = events.length;
  const newest = events.reduce((max, event) => Math.max(max, event.occurredAt), 0);
  const assign = (fraction: number, filter: (event: LogicalEvent) => boolean, make: () => Treatment) => {
    const eligible: number[] = [];
    events.forEach((event, index) => {
      if (!treatments.has(index) && filter(event)) eligible.push(index);
    });
    for (const index of rng.sample(eligible, anomalyCount(fraction, population, eligible.length))) {
      treatments.set(index, make());
    }
  };
  const type = (event: LogicalEvent) => String(event.payload.event_type);

  if (topic === CLICKSTREAM) {
    assign(
      f.wrongType,
      (event) => type(event) === 'add_to_cart' || type(event) === 'remove_from_cart',
      () => ({ kind: 'wrong_type' }),
    );
  }
  assign(
    f.late,
    (event) => event.occurredAt <= newest - LATE_BY_AT_LEAST_SECONDS,
    () => ({ kind: 'late_event' }),
  );
  if (topic === CLICKSTREAM) {
    // Purchases stay intact so every web/mobile order keeps its purchase event.
    assign(
      f.malformedJson,
      (event) => type(event) !== 'purchase',
      () => ({ kind: 'malformed_json' }),
    );
  }
  assign(
    f.unknownField,
    () => true,
    () =>
      topic === CLICKSTREAM
        ? rng.chance(0.5)
          ? { kind: 'unknown_field', field: 'coupon_code', value: `SAVE${rng.pick([5, 10, 15, 20])}` }
          : { kind: 'unknown_field', field: 'ab_variant', value: rng.pick(['A', 'B', 'control']) }
        : {
            kind: 'unknown_field',
            field: 'fulfillment_center',
            value: rng.pick(['EWR1', 'LHR2', 'FRA1', 'NRT1', 'SYD1']),
          },
  );
  assign(
    f.duplicate,
    () => true,
    () => ({ kind: 'duplicate_event' }),
  );
  return treatments;
}
