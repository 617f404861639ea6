/**
 * The synthetic store of generateStoreData, byte for byte, as streams: rows and messages are generated as they are
 * written, so memory stays bounded by what one step needs, not by the scale.
 *
 * What is held: the customers' sign-up times and currencies, the products, the FX rates, the orders' times, one
 * saved rng state per abandoned session, the chosen anomalies, and, while events are sorted, the events a later
 * one could still precede (see event-streams.ts). Everything else is replayed from its labelled rng stream when it
 * is needed again: the orders (and their items and events) are generated once per pass, in order_id order.
 *
 * Before anything is written, two planning passes learn what the anomalies are chosen from: how many items and
 * events there are, the newest event per topic, and the kind of each clickstream event in time order.
 */
import {
  ANOMALY_FRACTIONS,
  anomalyCount,
  chooseOrderAnomalies,
  chooseTreatments,
  damageItem,
  damageOrder,
  eventClass,
  injectProductAnomalies,
  LATE_BY_AT_LEAST_SECONDS,
  serializationDraws,
  serializeTopic,
  type TopicShape,
  type Treatments,
} from './anomalies.ts';
import { customerDirectory, customerStream } from './customers.ts';
import {
  type EventPlan,
  type EventSources,
  planEvents,
  sortedClickstream,
  sortedOrderEvents,
} from './event-streams.ts';
import { CLICKSTREAM, ORDER_EVENTS, productPicker } from './events.ts';
import { orderStream, type PlannedOrder, planOrderTimes } from './orders.ts';
import {
  generateFxRates,
  generateProducts,
  orderableCatalog,
  type PlannedProduct,
} from './product-catalog.ts';
import { createRng, type Rng, resumeRng } from './random.ts';
import { storeSizes } from './store-data.ts';
import { type TimeWindow, timeWindow } from './time.ts';
import type { Anomaly, EventMessage, GenerateOptions, SourceRowStreams } from './types.ts';

export interface StoreStream {
  /** Rows per source table, then messages per topic (duplicates counted twice), as they will be written. */
  counts: Record<string, number>;
  /** The record timestamp (epoch ms) of the oldest message; undefined when there are none. */
  oldestMessageMs: number | undefined;
  tables: SourceRowStreams;
  /** Every message in publish order (clickstream, then order-events), generated as it is read. Read it once. */
  messages(): Generator<EventMessage>;
  /**
   * The manifest, as generateStoreData lists it: the row anomalies from the start, each event anomaly once
   * messages() has passed it. Empty when not kept: at large scales it is the one list that grows with the store.
   */
  anomalies: Anomaly[];
  /** How many anomalies the manifest lists once messages() has been read, kept or not. */
  anomalyCount: number;
}

export interface StreamOptions {
  /** Keep the anomalies manifest (default true). */
  manifest?: boolean;
}

export function streamStoreData(options: GenerateOptions, streaming: StreamOptions = {}): StoreStream {
  const { seed, scale } = options;
  const sizes = storeSizes(options);
  const window = timeWindow(options.asOf);

  const customers = customerDirectory(
    customerStream(createRng(seed, 'customers'), sizes.customers, window),
    sizes.customers,
  );
  // The products' rows are made again when their table is written: orders and sessions need only the catalog.
  const planned = productsWithAnomalies(seed, sizes.products, window);
  const productCount = planned.products.length;
  const productAnomalies = planned.anomalies;
  const catalog = orderableCatalog(planned.products);
  const fxRates = generateFxRates(createRng(seed, 'fx_rates'), window);
  const orderTimes = planOrderTimes(createRng(seed, 'orders'), sizes.orders, window);
  const orderInputs = { count: sizes.orders, customers, catalog, fxRates, window };
  const sources: EventSources = {
    seed,
    scale,
    window,
    customers,
    randomProductId: productPicker(catalog),
    orders: () => orderStream(orderTimes, orderInputs),
  };

  let itemCount = 0;
  const plan = planEvents({
    ...sources,
    orders: () =>
      observe(sources.orders(), (order) => {
        itemCount += order.items.length;
      }),
  });
  const orderAnomalies = chooseOrderAnomalies(createRng(seed, 'order-anomalies'), sizes.orders, itemCount);
  const events = chooseEventAnomalies(seed, sources, plan);

  const tables: SourceRowStreams = {
    customers: replayable(function* () {
      for (const customer of customerStream(createRng(seed, 'customers'), sizes.customers, window))
        yield customer.row;
    }),
    products: replayable(function* () {
      for (const product of productsWithAnomalies(seed, sizes.products, window).products) yield product.row;
    }),
    orders: replayable(function* () {
      for (const order of sources.orders())
        yield damageOrder(order.row, orderAnomalies.orders.get(order.row.order_id - 1));
    }),
    order_items: replayable(function* () {
      for (const order of sources.orders())
        for (const item of order.items)
          yield damageItem(item, orderAnomalies.items.get(item.order_item_id - 1));
    }),
    fx_rates: fxRates,
  };
  const keep = streaming.manifest ?? true;
  const anomalies = keep ? [...productAnomalies, ...orderAnomalies.manifest] : [];
  const record = keep ? (anomaly: Anomaly) => anomalies.push(anomaly) : () => {};

  let read = false;
  function* messages(): Generator<EventMessage> {
    if (read) throw new Error('streamStoreData: messages() can be read only once (its rng has moved on)');
    read = true;
    const { clickstream, orderEvents } = events;
    yield* serializeTopic(
      clickstream.rng,
      sortedClickstream(sources, plan, { json: true }),
      clickstream.treatments,
      plan.clickstream.newest,
      record,
    );
    if (clickstream.rng.state().join() !== events.afterClickstream.join())
      throw new Error('streamStoreData: the clickstream drew other numbers than planned (a generator bug)');
    yield* serializeTopic(
      orderEvents.rng,
      sortedOrderEvents(sources, plan),
      orderEvents.treatments,
      plan.orderEvents.newest,
      record,
    );
  }

  const topics = [
    { topic: CLICKSTREAM, span: plan.clickstream, ...events.clickstream },
    { topic: ORDER_EVENTS, span: plan.orderEvents, ...events.orderEvents },
  ];
  const oldest = topics.flatMap(({ span, firstTimes, treatments }) =>
    span.count === 0 ? [] : [oldestMessageTime(firstTimes, treatments, span.newest)],
  );
  return {
    counts: {
      customers: sizes.customers,
      products: productCount,
      orders: sizes.orders,
      order_items: itemCount,
      fx_rates: fxRates.length,
      ...Object.fromEntries(
        topics.map(({ topic, span, treatments }) => [
          topic,
          span.count + treatments.count('duplicate_event'),
        ]),
      ),
    },
    oldestMessageMs: oldest.length === 0 ? undefined : Math.min(...oldest) * 1000,
    tables,
    messages,
    anomalies,
    anomalyCount:
      productAnomalies.length +
      orderAnomalies.manifest.length +
      topics.reduce((sum, { treatments }) => sum + treatments.count(), 0),
  };
}

/** The products with their injected negative prices, as generateStoreData makes them. */
function productsWithAnomalies(
  seed: number,
  count: number,
  window: TimeWindow,
): { products: PlannedProduct[]; anomalies: Anomaly[] } {
  const products = generateProducts(createRng(seed, 'products'), count, window);
  const rows = products.map((product) => product.row);
  return { products, anomalies: injectProductAnomalies(createRng(seed, 'product-anomalies'), rows) };
}

/** A topic's treatments, the rng its serialisation draws from, and its first events' times (time order). */
interface TopicAnomalies {
  treatments: Treatments;
  rng: Rng;
  firstTimes: readonly number[];
}

/**
 * Chooses both topics' treatments before any message is serialised, from one event-anomalies rng as
 * serializeEvents does: the clickstream's, then (after the clickstream's serialisation) the order-events'. The
 * serialisation draws once per malformed message and once per duplicate whatever the messages hold, so skipping
 * that many draws on a copy of the rng gives the order-events' treatments now; the copy then serialises them.
 */
function chooseEventAnomalies(
  seed: number,
  sources: EventSources,
  plan: EventPlan,
): { clickstream: TopicAnomalies; orderEvents: TopicAnomalies; afterClickstream: readonly number[] } {
  const shapes = shapeTopics(sources, plan);
  const rng = createRng(seed, 'event-anomalies');
  const clickTreatments = chooseTreatments(rng, CLICKSTREAM, shapes.clickstream);
  const orderEventsRng = resumeRng(rng.state());
  for (let draw = serializationDraws(clickTreatments); draw > 0; draw -= 1) orderEventsRng.next();
  const afterClickstream = orderEventsRng.state();
  return {
    clickstream: { treatments: clickTreatments, rng, firstTimes: shapes.clickstream.firstTimes },
    orderEvents: {
      treatments: chooseTreatments(orderEventsRng, ORDER_EVENTS, shapes.orderEvents),
      rng: orderEventsRng,
      firstTimes: shapes.orderEvents.firstTimes,
    },
    afterClickstream,
  };
}

/** TopicShape, and the occurred_at of the first events in time order: as many as could be chosen late, plus one. */
type TopicShapeAndStart = TopicShape & { firstTimes: number[] };

/**
 * The second planning pass: the clickstream in time order once, for each event's kind and how many are old enough
 * to be made late; of the order events, how many are old enough, and their first times. An order's events are at
 * or after its time and orders come in time order, so the first n times of the topic are among the first n orders'.
 */
function shapeTopics(
  sources: EventSources,
  plan: EventPlan,
): { clickstream: TopicShapeAndStart; orderEvents: TopicShapeAndStart } {
  // The first times wanted: as many as could be chosen late, plus one.
  const wanted = (count: number) => anomalyCount(ANOMALY_FRACTIONS.late, count, count) + 1;
  const clicks = plan.clickstream;
  const classes = new Uint8Array(clicks.count);
  const clickstream: TopicShapeAndStart = { count: clicks.count, lateEligible: 0, classes, firstTimes: [] };
  const orderEvents: TopicShapeAndStart = { count: plan.orderEvents.count, lateEligible: 0, firstTimes: [] };
  const oldOrderEvent = plan.orderEvents.newest - LATE_BY_AT_LEAST_SECONDS;
  const firstOrderEvents = wanted(orderEvents.count);
  let ordersSeen = 0;
  const orders = () =>
    observe(sources.orders(), (order) => {
      for (const change of order.history) {
        if (change.at <= oldOrderEvent) orderEvents.lateEligible += 1;
        if (ordersSeen < firstOrderEvents) orderEvents.firstTimes.push(change.at);
      }
      ordersSeen += 1;
    });

  const oldClick = clicks.newest - LATE_BY_AT_LEAST_SECONDS;
  const firstClicks = wanted(clicks.count);
  let position = 0;
  for (const event of sortedClickstream({ ...sources, orders }, plan, { json: false })) {
    classes[position] = eventClass(event.eventType);
    if (event.occurredAt <= oldClick) clickstream.lateEligible += 1;
    if (position < firstClicks) clickstream.firstTimes.push(event.occurredAt);
    position += 1;
  }
  orderEvents.firstTimes.sort((a, b) => a - b);
  return { clickstream, orderEvents };
}

/** A late message is published with the topic's newest time; every other one with its own occurred_at. */
function oldestMessageTime(firstTimes: readonly number[], treatments: Treatments, newest: number): number {
  const firstOnTime = firstTimes.findIndex((_, index) => treatments.get(index)?.kind !== 'late_event');
  return firstOnTime === -1 ? newest : (firstTimes[firstOnTime] ?? newest);
}

/** The orders, each shown to `see` as it goes by. */
function* observe(
  orders: Iterable<PlannedOrder>,
  see: (order: PlannedOrder) => void,
): Generator<PlannedOrder> {
  for (const order of orders) {
    see(order);
    yield order;
  }
}

function replayable<T>(generate: () => Iterator<T>): Iterable<T> {
  return { [Symbol.iterator]: generate };
}
