/**
 * Deliberately bad records, a small fixed fraction of each affected source, chosen by the seeded PRNG.
 * Every one is listed in the manifest with where the pipeline must put it (see docs/generator.md).
 */
import type { SortedEvent } from './event-streams.ts';
import { CLICKSTREAM, type LogicalEvent, ORDER_EVENTS } from './events.ts';
import { at, type Rng, samplePositions } from './random.ts';
import { DAY, HOUR } from './time.ts';
import type { Anomaly, EventMessage, OrderItemRow, OrderRow, ProductRow, SourceRows } from './types.ts';

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

/** What an order-anomaly does to a row. */
export type OrderDefect = { kind: 'unknown_status'; status: string } | { kind: 'missing_id' };
export type ItemDefect = 'missing_id' | 'negative_price';

/** The damaged orders and items by 0-based position (order_id and order_item_id - 1), and their manifest. */
export interface OrderAnomalies {
  orders: Map<number, OrderDefect>;
  items: Map<number, ItemDefect>;
  manifest: Anomaly[];
}

/**
 * Chooses the bad orders and items from the row counts alone (rows are picked by position, and order_id and
 * order_item_id are position + 1), so the rows can be generated and written in chunks and damaged on the way.
 */
export function chooseOrderAnomalies(rng: Rng, orderCount: number, itemCount: number): OrderAnomalies {
  const chosen: OrderAnomalies = { orders: new Map(), items: new Map(), manifest: [] };
  const f = ANOMALY_FRACTIONS;

  const unknownStatus = anomalyCount(f.orderUnknownStatus, orderCount, orderCount);
  const missingCustomer = anomalyCount(f.orderMissingCustomerId, orderCount, orderCount - unknownStatus);
  samplePositions(rng, orderCount, unknownStatus + missingCustomer).forEach((position, index) => {
    if (index < unknownStatus) {
      chosen.orders.set(position, { kind: 'unknown_status', status: rng.pick(UNKNOWN_STATUSES) });
      chosen.manifest.push(quarantined('unknown_status', 'orders', position + 1, 'status'));
    } else {
      chosen.orders.set(position, { kind: 'missing_id' });
      chosen.manifest.push(quarantined('missing_id', 'orders', position + 1, 'customer_id'));
    }
  });

  const missingProduct = anomalyCount(f.itemMissingProductId, itemCount, itemCount);
  const negativeItem = anomalyCount(f.itemNegativePrice, itemCount, itemCount - missingProduct);
  samplePositions(rng, itemCount, missingProduct + negativeItem).forEach((position, index) => {
    if (index < missingProduct) {
      chosen.items.set(position, 'missing_id');
      chosen.manifest.push(quarantined('missing_id', 'order_items', position + 1, 'product_id'));
    } else {
      chosen.items.set(position, 'negative_price');
      chosen.manifest.push(quarantined('negative_price', 'order_items', position + 1, 'unit_price'));
    }
  });
  return chosen;
}

export function damageOrder(order: OrderRow, defect: OrderDefect | undefined): OrderRow {
  if (defect?.kind === 'unknown_status') order.status = defect.status;
  else if (defect?.kind === 'missing_id') order.customer_id = null;
  return order;
}

export function damageItem(item: OrderItemRow, defect: ItemDefect | undefined): OrderItemRow {
  if (defect === 'missing_id') item.product_id = null;
  else if (defect === 'negative_price') item.unit_price = -Math.abs(item.unit_price);
  return item;
}

/** Mutates freshly generated order and item rows in place; returns the manifest entries. */
export function injectOrderAnomalies(
  rng: Rng,
  tables: Pick<SourceRows, 'orders' | 'order_items'>,
): Anomaly[] {
  const chosen = chooseOrderAnomalies(rng, tables.orders.length, tables.order_items.length);
  for (const [position, defect] of chosen.orders) damageOrder(at(tables.orders, position), defect);
  for (const [position, defect] of chosen.items) damageItem(at(tables.order_items, position), defect);
  return chosen.manifest;
}

function quarantined(kind: Anomaly['kind'], source: string, id: number, field: string): Anomaly {
  return { kind, source, id, field, expected: 'quarantine' };
}

export type Treatment =
  | { kind: 'malformed_json' }
  | { kind: 'wrong_type' }
  | { kind: 'unknown_field'; field: string; value: string }
  | { kind: 'duplicate_event' }
  | { kind: 'late_event' };

/** A duplicate's copy follows its original within this many messages. */
const DUPLICATE_REACH = 200;

/**
 * Serialises events to messages in publish order, injecting the event anomalies: per topic, events by
 * occurred_at, each duplicate's second copy 1-200 messages (and at most 1 hour of event time) after the first,
 * late events last. The whole-array form, for small stores and as the reference of serializeTopic.
 */
export function serializeEvents(
  rng: Rng,
  events: readonly LogicalEvent[],
): { messages: EventMessage[]; anomalies: Anomaly[] } {
  const messages: EventMessage[] = [];
  const anomalies: Anomaly[] = [];
  for (const topic of [CLICKSTREAM, ORDER_EVENTS]) {
    const topicEvents = events.filter((event) => event.topic === topic);
    const treatments = chooseTreatments(rng, topic, topicShape(topicEvents));
    const newestOccurredAt = topicEvents.reduce((newest, event) => Math.max(newest, event.occurredAt), 0);

    const main: EventMessage[] = [];
    const late: { event: LogicalEvent; message: EventMessage }[] = [];
    const copiesAfter = new Map<number, EventMessage[]>();
    topicEvents.forEach((event, index) => {
      const treatment = treatments.get(index);
      const message = serializeEvent(rng, event, treatment, (anomaly) => anomalies.push(anomaly));
      if (treatment?.kind === 'late_event') {
        late.push({ event, message: lateMessage(message, newestOccurredAt) });
        return;
      }
      main.push(message);
      if (treatment?.kind === 'duplicate_event') {
        const position = duplicatePosition(rng, index, (ahead) => topicEvents[ahead]);
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

/**
 * serializeEvents for one topic as a stream: `events` in time order, `treatments` chosen beforehand from the topic's
 * shape. Holds the next 200 events (a duplicate's copy goes up to 200 messages later), the copies waiting for their
 * place, and the late events (published last). Each event anomaly goes to `record` as its event goes by.
 */
export function* serializeTopic(
  rng: Rng,
  events: Iterable<SortedEvent>,
  treatments: Treatments,
  newestOccurredAt: number,
  record: (anomaly: Anomaly) => void,
): Generator<EventMessage> {
  const ahead = new Lookahead(events[Symbol.iterator]());
  const late = new HeldMessages();
  const copiesAfter = new Map<number, EventMessage[]>();
  for (let index = 0; ; index += 1) {
    const event = ahead.get(index);
    if (event === undefined) break;
    const treatment = treatments.get(index);
    // An untreated event's message is its JSON as it stands; a treated one is rebuilt from it.
    const message = treatment
      ? serializeEvent(rng, { ...event, payload: JSON.parse(event.json) }, treatment, record)
      : { topic: event.topic, key: event.key, value: event.json, timestamp: event.occurredAt * 1000 };
    if (treatment?.kind === 'late_event') {
      late.add(lateMessage(message, newestOccurredAt));
    } else {
      if (treatment?.kind === 'duplicate_event') {
        const position = duplicatePosition(rng, index, (later) => ahead.get(later));
        copiesAfter.set(position, [...(copiesAfter.get(position) ?? []), { ...message }]);
      }
      yield message;
    }
    yield* copiesAfter.get(index) ?? [];
    copiesAfter.delete(index);
    ahead.release(index);
  }
  // Late events were taken in index order, which is time order: published after everything else.
  yield* late.messages();
}

/**
 * Messages held until the end of a topic (its late events: 0.5% of it, tens of thousands at large scales), as
 * UTF-8 bytes in one growing buffer outside the JS heap rather than as strings in it: the heap's old generation is
 * sized from what lives in it, several times over. Their text is JSON.stringify's, so it round-trips exactly.
 */
class HeldMessages {
  /** Filled one after the other; a message that does not fit in the last starts the next. */
  private readonly chunks: Buffer[] = [];
  private used = HELD_CHUNK_BYTES;
  /** Per message: its chunk, where its key starts and ends, where its value ends. */
  private readonly places: number[] = [];
  private readonly topics: string[] = [];
  private readonly timestamps: number[] = [];

  add(message: EventMessage): void {
    const keyBytes = Buffer.byteLength(message.key);
    const length = keyBytes + Buffer.byteLength(message.value);
    if (this.used + length > HELD_CHUNK_BYTES) {
      this.chunks.push(Buffer.allocUnsafeSlow(Math.max(HELD_CHUNK_BYTES, length)));
      this.used = 0;
    }
    const chunk = this.chunks.length - 1;
    const start = this.used;
    this.chunks[chunk]?.write(message.key, start);
    this.chunks[chunk]?.write(message.value, start + keyBytes);
    this.used += length;
    this.places.push(chunk, start, start + keyBytes, start + length);
    this.topics.push(message.topic);
    this.timestamps.push(message.timestamp);
  }

  *messages(): Generator<EventMessage> {
    for (const [index, topic] of this.topics.entries()) {
      const [chunk = 0, start = 0, keyEnd = 0, end = 0] = this.places.slice(4 * index, 4 * index + 4);
      const bytes = this.chunks[chunk] ?? Buffer.alloc(0);
      const key = bytes.toString('utf8', start, keyEnd);
      yield {
        topic,
        key,
        value: bytes.toString('utf8', keyEnd, end),
        timestamp: this.timestamps[index] ?? 0,
      };
    }
  }
}

const HELD_CHUNK_BYTES = 1024 * 1024;

/**
 * An iterator's items by position, read as far as asked and kept until released, in a ring that grows only when
 * more are held at once: a release clears its slot (nothing released stays reachable) and nothing is moved.
 */
class Lookahead<T> {
  private ring: (T | undefined)[] = new Array(256).fill(undefined);
  /** Lowest position not released, and one past the highest read. */
  private first = 0;
  private end = 0;
  private done = false;
  private readonly source: Iterator<T>;
  constructor(source: Iterator<T>) {
    this.source = source;
  }

  /** The item at `position` (not yet released), undefined past the end. */
  get(position: number): T | undefined {
    while (!this.done && this.end <= position) {
      const next = this.source.next();
      if (next.done) this.done = true;
      else {
        if (this.end - this.first === this.ring.length) this.grow();
        this.ring[this.end % this.ring.length] = next.value;
        this.end += 1;
      }
    }
    return position < this.end ? this.ring[position % this.ring.length] : undefined;
  }

  /** Positions up to this one are no longer needed. */
  release(position: number): void {
    for (; this.first <= position && this.first < this.end; this.first += 1)
      this.ring[this.first % this.ring.length] = undefined;
  }

  private grow(): void {
    const ring: (T | undefined)[] = new Array(2 * this.ring.length).fill(undefined);
    for (let position = this.first; position < this.end; position += 1)
      ring[position % ring.length] = this.ring[position % this.ring.length];
    this.ring = ring;
  }
}

/**
 * Where a duplicate's copy goes: 1-200 messages later, but never more than an hour of event time later, so a
 * duplicate is never also late (at tiny scales 200 messages can span days). `eventAt` gives the topic's events by
 * position, undefined past the end.
 */
function duplicatePosition(
  rng: Rng,
  index: number,
  eventAt: (position: number) => { occurredAt: number } | undefined,
): number {
  const occurredAt = eventAt(index)?.occurredAt ?? 0;
  let position = index + rng.int(1, DUPLICATE_REACH);
  while (eventAt(position) === undefined) position -= 1;
  while (position > index && (eventAt(position)?.occurredAt ?? 0) - occurredAt > HOUR) position -= 1;
  return position;
}

/** A late event reaches the broker when the rest of the stream does: its record timestamp is the topic's newest. */
function lateMessage(message: EventMessage, newestOccurredAt: number): EventMessage {
  return { ...message, timestamp: newestOccurredAt * 1000 };
}

/** One event's message, with its treatment applied and entered in the manifest. */
function serializeEvent(
  rng: Rng,
  event: LogicalEvent,
  treatment: Treatment | undefined,
  record: (anomaly: Anomaly) => void,
): EventMessage {
  const { topic } = event;
  const eventId = String(event.payload.event_id);
  const payload = treatment ? { ...event.payload } : event.payload;
  let value: string;
  if (treatment?.kind === 'malformed_json') {
    const json = JSON.stringify(payload);
    value = json.slice(0, rng.int(60, json.length - 10));
    record({ kind: 'malformed_json', source: topic, id: value, expected: 'quarantine' });
  } else {
    if (treatment?.kind === 'wrong_type') {
      payload.quantity = QUANTITY_WORDS[Number(payload.quantity)] ?? 'two';
      record({
        kind: 'wrong_type',
        source: topic,
        id: eventId,
        field: 'quantity',
        expected: 'quarantine',
      });
    } else if (treatment?.kind === 'unknown_field') {
      payload[treatment.field] = treatment.value;
      record({
        kind: 'unknown_field',
        source: topic,
        id: eventId,
        field: treatment.field,
        expected: 'rescued',
      });
    } else if (treatment?.kind === 'duplicate_event') {
      record({ kind: 'duplicate_event', source: topic, id: eventId, expected: 'deduplicated' });
    } else if (treatment?.kind === 'late_event') {
      record({
        kind: 'late_event',
        source: topic,
        id: eventId,
        field: 'occurred_at',
        expected: 'late',
      });
    }
    value = JSON.stringify(payload);
  }
  return { topic, key: event.key, value, timestamp: event.occurredAt * 1000 };
}

/** What choosing a topic's treatments needs to know of its events (in time order). */
export interface TopicShape {
  count: number;
  /** The first `lateEligible` events are at least LATE_BY_AT_LEAST_SECONDS older than the topic's newest. */
  lateEligible: number;
  /** Clickstream: each event's EventClass by position. */
  classes?: Uint8Array;
}

/** What the treatments of a clickstream event depend on: wrong types only in cart events, purchases never broken. */
export const EventClass = { other: 0, cart: 1, purchase: 2 } as const;

export function eventClass(eventType: unknown): number {
  if (eventType === 'add_to_cart' || eventType === 'remove_from_cart') return EventClass.cart;
  return eventType === 'purchase' ? EventClass.purchase : EventClass.other;
}

function topicShape(events: readonly LogicalEvent[]): TopicShape {
  const newest = events.reduce((max, event) => Math.max(max, event.occurredAt), 0);
  return {
    count: events.length,
    lateEligible: events.filter((event) => event.occurredAt <= newest - LATE_BY_AT_LEAST_SECONDS).length,
    classes: Uint8Array.from(events, (event) => eventClass(event.payload.event_type)),
  };
}

/** Which events of a topic (by position in time order) get which treatment. */
export function chooseTreatments(rng: Rng, topic: string, shape: TopicShape): Treatments {
  const f = ANOMALY_FRACTIONS;
  const treatments = new Treatments(shape.count);
  const classOf = (index: number) => shape.classes?.[index] ?? EventClass.other;
  /** Samples among the untreated events before `end` that pass `filter`, as rng.sample over their list would. */
  const assign = (
    fraction: number,
    end: number,
    filter: (index: number) => boolean,
    make: () => Treatment,
  ) => {
    const eligible = (index: number) => !treatments.has(index) && filter(index);
    let eligibleCount = 0;
    for (let index = 0; index < end; index += 1) if (eligible(index)) eligibleCount += 1;
    const positions = samplePositions(rng, eligibleCount, anomalyCount(fraction, shape.count, eligibleCount));
    for (const index of eligibleAt(positions, end, eligible)) treatments.set(index, make());
  };
  const all = () => true;

  if (topic === CLICKSTREAM) {
    assign(
      f.wrongType,
      shape.count,
      (index) => classOf(index) === EventClass.cart,
      () => ({ kind: 'wrong_type' }),
    );
  }
  assign(f.late, shape.lateEligible, all, () => ({ kind: 'late_event' }));
  if (topic === CLICKSTREAM) {
    // Purchases stay intact so every web/mobile order keeps its purchase event.
    assign(
      f.malformedJson,
      shape.count,
      (index) => classOf(index) !== EventClass.purchase,
      () => ({ kind: 'malformed_json' }),
    );
  }
  assign(f.unknownField, shape.count, all, () =>
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
  assign(f.duplicate, shape.count, all, () => ({ kind: 'duplicate_event' }));
  return treatments.freeze();
}

/**
 * The events below `end` at these positions in the list of those passing `eligible`, in the order given: one pass,
 * without the list (millions of events at large scales).
 */
function eligibleAt(
  positions: readonly number[],
  end: number,
  eligible: (index: number) => boolean,
): number[] {
  const byPosition = positions
    .map((position, order) => ({ position, order }))
    .sort((a, b) => a.position - b.position);
  const events = new Array<number>(positions.length).fill(-1);
  let next = 0;
  let seen = 0;
  for (let index = 0; index < end && next < byPosition.length; index += 1) {
    if (!eligible(index)) continue;
    const wanted = byPosition[next];
    if (wanted?.position === seen) {
      events[wanted.order] = index;
      next += 1;
    }
    seen += 1;
  }
  return events;
}

/**
 * Which events of a topic get which treatment, by position. While they are chosen, one byte per event; frozen,
 * only the treated events' positions (a few percent), which is what is held while the topic is published.
 */
export class Treatments {
  private codes: Uint8Array;
  /** Frozen: the treated positions, ascending, and their codes. */
  private positions: Int32Array | undefined;
  private readonly distinct: Treatment[] = [];
  private readonly codeOf = new Map<string, number>();

  constructor(count: number) {
    this.codes = new Uint8Array(count);
  }

  get(position: number): Treatment | undefined {
    const code = this.codeAt(position);
    return code === 0 ? undefined : this.distinct[code - 1];
  }

  has(position: number): boolean {
    return this.codeAt(position) !== 0;
  }

  set(position: number, treatment: Treatment): void {
    if (this.positions) throw new Error('Treatments: frozen');
    if (position < 0 || position >= this.codes.length) throw new RangeError(`no event at ${position}`);
    const key = JSON.stringify(treatment);
    let code = this.codeOf.get(key);
    if (code === undefined) {
      code = this.distinct.push(treatment);
      this.codeOf.set(key, code);
    }
    this.codes[position] = code;
  }

  /** Keeps only the treated positions. */
  freeze(): this {
    if (this.positions) return this;
    const positions: number[] = [];
    for (const [position, code] of this.codes.entries()) if (code !== 0) positions.push(position);
    this.positions = Int32Array.from(positions);
    this.codes = Uint8Array.from(positions, (position) => this.codes[position] ?? 0);
    return this;
  }

  /** How many events get a treatment (of this kind). */
  count(kind?: Treatment['kind']): number {
    let count = 0;
    for (const code of this.codes)
      if (code !== 0 && (!kind || this.distinct[code - 1]?.kind === kind)) count += 1;
    return count;
  }

  private codeAt(position: number): number {
    const positions = this.positions;
    if (!positions) return this.codes[position] ?? 0;
    let low = 0;
    let high = positions.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((positions[middle] ?? 0) < position) low = middle + 1;
      else high = middle;
    }
    return positions[low] === position ? (this.codes[low] ?? 0) : 0;
  }
}

/** Draws made while serialising a topic with these treatments: one per malformed message and one per duplicate. */
export function serializationDraws(treatments: Treatments): number {
  return treatments.count('malformed_json') + treatments.count('duplicate_event');
}
