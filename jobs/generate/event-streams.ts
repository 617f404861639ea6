/**
 * The two topics' events in time order, generated as they are published instead of sorted in memory
 * (generateEvents in events.ts is the whole-array form and the reference).
 *
 * The events rng draws every purchase session, then every abandoned session, then every order's lifecycle events.
 * A first pass over the orders (planEvents) runs all of it once, keeping what the later passes need to replay a
 * part: the rng state at each abandoned session and at the lifecycle events, the longest purchase session. The
 * sorted streams then hold only the events that a later one could still precede:
 * - purchase sessions come in order time order, and a session starts at most `longestPurchaseSession` before its
 *   order, so an event older than the next order's time minus that can go;
 * - abandoned sessions are replayed in start order, each from its saved state: an event older than the next
 *   session's start can go;
 * - an order's lifecycle events are at or after its time: an event older than the next order's time can go.
 * Ties keep generation order, as the stable sort of generateEvents does (purchase sessions before abandoned ones).
 */
import { CURRENCIES } from '../contracts/source-tables.ts';
import type { CustomerDirectory } from './customers.ts';
import {
  abandonedSession,
  abandonedSessionCount,
  type LogicalEvent,
  lifecycleEvent,
  type OrderAmount,
  orderAmount,
  type ProductPicker,
  purchaseSession,
  stampOccurredAt,
} from './events.ts';
import { LIFECYCLE_STATUSES, type PlannedOrder, type StatusChange } from './orders.ts';
import { createRng, type RngState, resumeRng } from './random.ts';
import type { TimeWindow } from './time.ts';

export interface EventSources {
  seed: number;
  scale: number;
  window: TimeWindow;
  customers: CustomerDirectory;
  randomProductId: ProductPicker;
  /** A fresh pass over the orders, in order_id (so time) order. */
  orders: () => Iterable<PlannedOrder>;
}

/** The smallest and largest occurred_at seen, and how many events. */
export interface TimeSpan {
  count: number;
  oldest: number;
  newest: number;
}

export interface EventPlan {
  clickstream: TimeSpan;
  orderEvents: TimeSpan;
  /** Events of the purchase sessions: the abandoned sessions' events come after them in generation order. */
  purchaseEvents: number;
  /** Seconds from a purchase session's first event to its order, at most. */
  longestPurchaseSession: number;
  abandoned: AbandonedSessions;
  /** The events rng where the lifecycle events start. */
  lifecycleStart: RngState;
}

/** Per abandoned session (in generation order): where the rng was, its start, its first event's place. */
interface AbandonedSessions {
  states: Uint32Array;
  starts: Float64Array;
  firstEvent: Float64Array;
  /** Session numbers by start time (ties in generation order). */
  byStart: Uint32Array;
}

/** Runs the events rng through every event once, keeping only what the sorted streams need to replay it. */
export function planEvents(sources: EventSources): EventPlan {
  const rng = createRng(sources.seed, 'events');
  const clickstream = emptySpan();
  const orderEvents = emptySpan();
  let longestPurchaseSession = 0;
  for (const order of sources.orders()) {
    const session = purchaseSession(rng, order, sources.randomProductId);
    for (const event of session) widen(clickstream, event.occurredAt);
    const first = session[0];
    if (first) longestPurchaseSession = Math.max(longestPurchaseSession, order.orderedAt - first.occurredAt);
    for (const change of order.history) widen(orderEvents, change.at);
  }
  const purchaseEvents = clickstream.count;

  const sessions = abandonedSessionCount(sources.scale);
  const abandoned: AbandonedSessions = {
    states: new Uint32Array(4 * sessions),
    starts: new Float64Array(sessions),
    firstEvent: new Float64Array(sessions),
    byStart: new Uint32Array(sessions),
  };
  for (let session = 0; session < sessions; session += 1) {
    abandoned.states.set(rng.state(), 4 * session);
    abandoned.firstEvent[session] = clickstream.count;
    const events = abandonedSession(rng, sources, sources.randomProductId);
    abandoned.starts[session] = events[0]?.occurredAt ?? 0;
    for (const event of events) widen(clickstream, event.occurredAt);
  }
  abandoned.byStart = Uint32Array.from(abandoned.byStart.keys()).sort(
    (a, b) => (abandoned.starts[a] ?? 0) - (abandoned.starts[b] ?? 0) || a - b,
  );
  return {
    clickstream,
    orderEvents,
    purchaseEvents,
    longestPurchaseSession,
    abandoned,
    lifecycleStart: rng.state(),
  };
}

function emptySpan(): TimeSpan {
  return { count: 0, oldest: Number.POSITIVE_INFINITY, newest: 0 };
}

function widen(span: TimeSpan, occurredAt: number): void {
  span.count += 1;
  span.oldest = Math.min(span.oldest, occurredAt);
  span.newest = Math.max(span.newest, occurredAt);
}

/**
 * An event of a topic in its place in time order, as the streaming serialiser reads it: the payload already JSON
 * text (occurred_at filled in), so a waiting event is two strings and a few numbers, not a tree of objects.
 */
export interface SortedEvent {
  topic: string;
  key: string;
  occurredAt: number;
  eventType: string;
  /** The payload as JSON; '' from a stream asked for times and types only. */
  json: string;
}

/** What a sorted stream yields: with JSON payloads (to publish) or without (to plan). */
export interface SortedOptions {
  json: boolean;
}

/** The clickstream topic's events in time order, as generateEvents sorts them. */
export function* sortedClickstream(
  sources: EventSources,
  plan: EventPlan,
  options: SortedOptions,
): Generator<SortedEvent> {
  const purchases = purchaseEventsInTimeOrder(sources, plan.longestPurchaseSession, options);
  const abandoned = abandonedEventsInTimeOrder(sources, plan, options);
  let purchase = purchases.next();
  let other = abandoned.next();
  while (!purchase.done || !other.done) {
    if (other.done || (!purchase.done && comesFirst(purchase.value, other.value))) {
      yield purchase.value.event;
      purchase = purchases.next();
    } else {
      yield other.value.event;
      other = abandoned.next();
    }
  }
}

/** The order-events topic's events in time order, as generateEvents sorts them. */
export function* sortedOrderEvents(sources: EventSources, plan: EventPlan): Generator<SortedEvent> {
  const rng = resumeRng(plan.lifecycleStart);
  const pending = new PendingLifecycleEvents();
  let place = 0;
  for (const order of sources.orders()) {
    for (const { event } of pending.olderThan(order.orderedAt)) yield event;
    const amount = orderAmount(order);
    order.history.forEach((change, step) => {
      // orderLifecycle draws one event_id per status: the event is kept as where that draw starts.
      pending.add(place, order.row.order_id, step, change, rng.state(), amount);
      rng.uuid();
      place += 1;
    });
  }
  for (const { event } of pending.olderThan(Number.POSITIVE_INFINITY)) yield event;
}

function* purchaseEventsInTimeOrder(
  sources: EventSources,
  longestSession: number,
  options: SortedOptions,
): Generator<Placed> {
  const rng = createRng(sources.seed, 'events');
  const pending = new PendingEvents(options);
  let place = 0;
  for (const order of sources.orders()) {
    yield* pending.olderThan(order.orderedAt - longestSession);
    for (const event of purchaseSession(rng, order, sources.randomProductId)) {
      pending.add(event, place);
      place += 1;
    }
  }
  yield* pending.olderThan(Number.POSITIVE_INFINITY);
}

function* abandonedEventsInTimeOrder(
  sources: EventSources,
  plan: EventPlan,
  options: SortedOptions,
): Generator<Placed> {
  const { states, starts, firstEvent, byStart } = plan.abandoned;
  const pending = new PendingEvents(options);
  for (const session of byStart) {
    yield* pending.olderThan(starts[session] ?? 0);
    const rng = resumeRng(savedState(states, session));
    let place = firstEvent[session] ?? 0;
    for (const event of abandonedSession(rng, sources, sources.randomProductId)) {
      pending.add(event, place);
      place += 1;
    }
  }
  yield* pending.olderThan(Number.POSITIVE_INFINITY);
}

function savedState(states: Uint32Array, session: number): RngState {
  const at = 4 * session;
  return [states[at] ?? 0, states[at + 1] ?? 0, states[at + 2] ?? 0, states[at + 3] ?? 0];
}

/** An event with its place in generation order, which breaks ties of occurred_at. */
interface Placed {
  event: SortedEvent;
  place: number;
}

function comesFirst(a: Placed, b: Placed): boolean {
  const timeA = a.event.occurredAt;
  const timeB = b.event.occurredAt;
  return timeA < timeB || (timeA === timeB && a.place < b.place);
}

function sortedEvent(event: LogicalEvent, options: SortedOptions): SortedEvent {
  stampOccurredAt(event);
  const { topic, key, occurredAt } = event;
  const eventType = String(event.payload.event_type);
  return { topic, key, occurredAt, eventType, json: options.json ? JSON.stringify(event.payload) : '' };
}

/**
 * A binary min-heap of numbered slots by (occurred_at, place), for events that wait for their turn; each user keeps
 * the waiting events' contents in its own arrays by slot. No object per waiting event: a site whose objects often
 * wait long would be allocated straight into the old generation (V8 pretenures it), which then fills with garbage.
 */
class SlotHeap {
  private order = new Int32Array(256);
  private size = 0;
  private readonly freeSlots: number[] = [];
  private slotsUsed = 0;
  private times = new Float64Array(256);
  private places = new Float64Array(256);
  /** Called when the heap grows, so the user grows its typed arrays by slot to `capacity` too. */
  private readonly onGrow: (capacity: number) => void;

  constructor(onGrow: (capacity: number) => void = () => {}) {
    this.onGrow = onGrow;
  }

  /** A slot for an event at (time, place), in the heap; its contents are the caller's to write. */
  add(time: number, place: number): number {
    if (this.size === this.order.length) this.grow();
    const slot = this.freeSlots.pop() ?? this.slotsUsed++;
    this.times[slot] = time;
    this.places[slot] = place;
    let position = this.size;
    this.size += 1;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      if (!this.before(slot, this.slotAt(parent))) break;
      this.order[position] = this.slotAt(parent);
      position = parent;
    }
    this.order[position] = slot;
    return slot;
  }

  /** The earliest slot if its event is older than `time`, taken out of the heap: read it before the next add. */
  takeOlderThan(time: number): number | undefined {
    if (this.size === 0 || this.timeOf(this.slotAt(0)) >= time) return undefined;
    const first = this.slotAt(0);
    this.size -= 1;
    const last = this.slotAt(this.size);
    let position = 0;
    for (;;) {
      const left = 2 * position + 1;
      if (left >= this.size) break;
      const right = left + 1;
      const child = right < this.size && this.before(this.slotAt(right), this.slotAt(left)) ? right : left;
      if (!this.before(this.slotAt(child), last)) break;
      this.order[position] = this.slotAt(child);
      position = child;
    }
    this.order[position] = last;
    this.freeSlots.push(first);
    return first;
  }

  timeOf(slot: number): number {
    return this.times[slot] ?? 0;
  }

  placeOf(slot: number): number {
    return this.places[slot] ?? 0;
  }

  private slotAt(position: number): number {
    return this.order[position] ?? 0;
  }

  private before(a: number, b: number): boolean {
    const timeA = this.timeOf(a);
    const timeB = this.timeOf(b);
    return timeA < timeB || (timeA === timeB && this.placeOf(a) < this.placeOf(b));
  }

  private grow(): void {
    const capacity = 2 * this.order.length;
    this.order = grown(this.order, capacity);
    this.times = grown(this.times, capacity);
    this.places = grown(this.places, capacity);
    this.onGrow(capacity);
  }
}

/** Clickstream events waiting for their turn: by slot, the event's key, type and JSON payload. */
class PendingEvents {
  private readonly heap = new SlotHeap();
  private readonly topics: string[] = [];
  private readonly keys: string[] = [];
  private readonly types: string[] = [];
  private readonly jsons: string[] = [];
  private readonly options: SortedOptions;

  constructor(options: SortedOptions) {
    this.options = options;
  }

  add(event: LogicalEvent, place: number): void {
    const { topic, key, eventType, json } = sortedEvent(event, this.options);
    const slot = this.heap.add(event.occurredAt, place);
    this.topics[slot] = topic;
    this.keys[slot] = key;
    this.types[slot] = eventType;
    this.jsons[slot] = json;
  }

  /** Takes out, earliest first, every event older than `time`. */
  *olderThan(time: number): Generator<Placed> {
    for (let slot = this.heap.takeOlderThan(time); slot !== undefined; slot = this.heap.takeOlderThan(time)) {
      const event: SortedEvent = {
        topic: this.topics[slot] ?? '',
        key: this.keys[slot] ?? '',
        occurredAt: this.heap.timeOf(slot),
        eventType: this.types[slot] ?? '',
        json: this.jsons[slot] ?? '',
      };
      this.jsons[slot] = ''; // The slot's text is free to go before the slot is reused.
      yield { event, place: this.heap.placeOf(slot) };
    }
  }
}

/**
 * The lifecycle events waiting for their turn: a delivery follows its order by up to 8 days, so about a quarter of
 * the topic waits at any time (hundreds of thousands of events at large scales). By slot, in typed arrays: the
 * event's order, its step in the order's history and status, the order's total (in cents) and currency, and the
 * events rng state its event_id is drawn from. The event is built when it leaves.
 */
class PendingLifecycleEvents {
  private readonly heap = new SlotHeap((capacity) => this.grow(capacity));
  private orderIds = new Uint32Array(256);
  /** The step in the order's history (0: created) and the status's index in LIFECYCLE_STATUSES: step * 16 + status. */
  private codes = new Uint8Array(256);
  private cents = new Float64Array(256);
  private currencies = new Uint8Array(256);
  private states = new Uint32Array(4 * 256);

  add(
    place: number,
    orderId: number,
    step: number,
    change: StatusChange,
    state: RngState,
    amount: OrderAmount,
  ): void {
    const slot = this.heap.add(change.at, place);
    this.orderIds[slot] = orderId;
    this.codes[slot] = step * 16 + LIFECYCLE_STATUSES.indexOf(change.status);
    this.cents[slot] = Math.round(amount.total * 100);
    this.currencies[slot] = currencyIndex(amount.currency);
    this.states.set(state, 4 * slot);
  }

  /** Takes out, earliest first, every event older than `time`. */
  *olderThan(time: number): Generator<Placed> {
    for (let slot = this.heap.takeOlderThan(time); slot !== undefined; slot = this.heap.takeOlderThan(time)) {
      const code = this.codes[slot] ?? 0;
      const status = LIFECYCLE_STATUSES[code % 16] ?? 'pending';
      const [a = 0, b = 0, c = 0, d = 0] = this.states.subarray(4 * slot, 4 * slot + 4);
      const eventId = resumeRng([a, b, c, d]).uuid();
      const change = { at: this.heap.timeOf(slot), status };
      const amount = {
        total: (this.cents[slot] ?? 0) / 100,
        currency: CURRENCIES[this.currencies[slot] ?? 0] ?? 'USD',
      };
      const event = lifecycleEvent(this.orderIds[slot] ?? 0, change, Math.floor(code / 16), eventId, amount);
      yield { event: sortedEvent(event, { json: true }), place: this.heap.placeOf(slot) };
    }
  }

  private grow(capacity: number): void {
    this.orderIds = grown(this.orderIds, capacity);
    this.codes = grown(this.codes, capacity);
    this.cents = grown(this.cents, capacity);
    this.currencies = grown(this.currencies, capacity);
    this.states = grown(this.states, 4 * capacity);
  }
}

function currencyIndex(currency: string): number {
  const index = (CURRENCIES as readonly string[]).indexOf(currency);
  if (index === -1) throw new Error(`generate: an order in ${currency}, which CURRENCIES does not list`);
  return index;
}

/** A copy of a typed array with room for `length` items. */
function grown<T extends Int32Array | Float64Array | Uint32Array | Uint8Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
}
