import { customersSignedUpBy, type PlannedCustomer } from './customers.ts';
import type { PlannedOrder } from './orders.ts';
import { isOrderable, type PlannedProduct } from './product-catalog.ts';
import { at, type Rng, weightedIndexSampler } from './random.ts';
import { HOUR, isoSeconds, type TimeWindow } from './time.ts';

export const CLICKSTREAM = 'clickstream';
export const ORDER_EVENTS = 'order-events';

/** An event before it is serialised; payload keys in the declared field order of EVENT_TOPICS. */
export interface LogicalEvent {
  topic: string;
  key: string;
  occurredAt: number;
  payload: Record<string, unknown>;
}

/** Browsing sessions that end without a purchase, per unit of scale. */
const ABANDONED_SESSIONS = 1000;
/** Share of abandoned sessions by visitors who are not logged in (customer_id null). */
const ANONYMOUS_SHARE = 0.4;

interface Session {
  id: string;
  customerId: number | null;
  device: string;
}

interface Step {
  type: string;
  /** Seconds after the previous step. */
  gap: number;
  pageUrl: string;
  productId?: number;
  quantity?: number;
  orderId?: number;
}

export interface EventInputs {
  scale: number;
  window: TimeWindow;
  customers: readonly PlannedCustomer[];
  products: readonly PlannedProduct[];
  orders: readonly PlannedOrder[];
}

/**
 * Clickstream sessions (a purchase funnel for every web/mobile order, plus abandoned sessions dropping off at
 * each step) and order lifecycle events, each topic sorted by occurred_at.
 */
export function generateEvents(rng: Rng, inputs: EventInputs): LogicalEvent[] {
  const clicks: LogicalEvent[] = [];
  const active = inputs.products.filter(isOrderable);
  const pickProduct = weightedIndexSampler(active.map((product) => product.popularity));
  const randomProductId = () => at(active, pickProduct(rng)).row.product_id;

  const emit = (session: Session, start: number, steps: Step[]) => {
    let time = start;
    for (const step of steps) {
      time += step.gap;
      clicks.push({
        topic: CLICKSTREAM,
        key: session.id,
        occurredAt: time,
        payload: {
          event_id: rng.uuid(),
          event_type: step.type,
          occurred_at: '',
          session_id: session.id,
          customer_id: session.customerId,
          device: session.device,
          page_url: step.pageUrl,
          product_id: step.productId ?? null,
          quantity: step.quantity ?? null,
          order_id: step.orderId ?? null,
        },
      });
    }
  };

  for (const order of inputs.orders) {
    if (order.row.channel !== 'web' && order.row.channel !== 'mobile') continue;
    const device = order.row.channel === 'web' ? 'web' : rng.chance(0.6) ? 'app' : 'mobile';
    const session: Session = { id: rng.uuid(), customerId: order.customerId, device };
    const steps = purchaseSteps(rng, order, randomProductId);
    const duration = steps.reduce((sum, step) => sum + step.gap, 0);
    emit(session, order.orderedAt - duration, steps);
  }

  const abandoned = Math.round(ABANDONED_SESSIONS * inputs.scale);
  const { window, customers } = inputs;
  for (let index = 0; index < abandoned; index += 1) {
    const start = rng.int(window.start, window.end - 2 * HOUR);
    const eligible = customersSignedUpBy(customers, start);
    const customerId =
      eligible === 0 || rng.chance(ANONYMOUS_SHARE)
        ? null
        : at(customers, rng.int(0, eligible - 1)).row.customer_id;
    const session: Session = { id: rng.uuid(), customerId, device: rng.pick(['web', 'mobile', 'app']) };
    emit(session, start, abandonedSteps(rng, randomProductId));
  }

  const orderEvents: LogicalEvent[] = [];
  for (const order of inputs.orders) {
    order.history.forEach((change, index) => {
      orderEvents.push({
        topic: ORDER_EVENTS,
        key: String(order.row.order_id),
        occurredAt: change.at,
        payload: {
          event_id: rng.uuid(),
          event_type: index === 0 ? 'order_created' : 'order_status_changed',
          occurred_at: '',
          order_id: order.row.order_id,
          status: change.status,
        },
      });
    });
  }
  return [...sortByTime(clicks), ...sortByTime(orderEvents)];
}

/** Stable sort by occurred_at; fills in the ISO occurred_at field. */
function sortByTime(events: LogicalEvent[]): LogicalEvent[] {
  const sorted = events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.occurredAt - b.event.occurredAt || a.index - b.index)
    .map(({ event }) => event);
  for (const event of sorted) {
    event.payload.occurred_at = isoSeconds(event.occurredAt);
  }
  return sorted;
}

const LANDING_PAGES = ['/', '/', '/deals', '/new-arrivals', '/search'];

function purchaseSteps(rng: Rng, order: PlannedOrder, randomProductId: () => number): Step[] {
  const steps: Step[] = [{ type: 'page_view', gap: 0, pageUrl: rng.pick(LANDING_PAGES) }];
  const view = (productId: number): Step => ({
    type: 'product_view',
    gap: rng.int(15, 120),
    pageUrl: `/products/${productId}`,
    productId,
  });
  if (rng.chance(0.3)) steps.push(view(randomProductId()));
  for (const item of order.items) {
    const productId = item.product_id ?? 0;
    steps.push(view(productId), {
      type: 'add_to_cart',
      gap: rng.int(5, 90),
      pageUrl: `/products/${productId}`,
      productId,
      quantity: item.quantity,
    });
  }
  if (rng.chance(0.1)) {
    const productId = randomProductId();
    const quantity = rng.int(1, 2);
    steps.push(
      view(productId),
      { type: 'add_to_cart', gap: rng.int(5, 60), pageUrl: `/products/${productId}`, productId, quantity },
      { type: 'remove_from_cart', gap: rng.int(20, 240), pageUrl: '/cart', productId, quantity },
    );
  }
  steps.push(
    { type: 'checkout_started', gap: rng.int(20, 180), pageUrl: '/checkout' },
    {
      type: 'purchase',
      gap: rng.int(30, 300),
      pageUrl: `/checkout/confirmation/${order.row.order_id}`,
      orderId: order.row.order_id,
    },
  );
  return steps;
}

/** A funnel that drops off: views ~75%, cart ~40% of those, checkout ~45% of carts, never a purchase. */
function abandonedSteps(rng: Rng, randomProductId: () => number): Step[] {
  const steps: Step[] = [{ type: 'page_view', gap: 0, pageUrl: rng.pick(LANDING_PAGES) }];
  if (!rng.chance(0.75)) return steps;
  const viewed: number[] = [];
  const views = rng.int(1, 3);
  for (let index = 0; index < views; index += 1) {
    const productId = randomProductId();
    viewed.push(productId);
    steps.push({ type: 'product_view', gap: rng.int(15, 150), pageUrl: `/products/${productId}`, productId });
  }
  if (!rng.chance(0.4)) return steps;
  const productId = rng.pick(viewed);
  const quantity = rng.int(1, 3);
  steps.push({
    type: 'add_to_cart',
    gap: rng.int(5, 90),
    pageUrl: `/products/${productId}`,
    productId,
    quantity,
  });
  if (rng.chance(0.25)) {
    steps.push({ type: 'remove_from_cart', gap: rng.int(20, 300), pageUrl: '/cart', productId, quantity });
    return steps;
  }
  if (rng.chance(0.45)) steps.push({ type: 'checkout_started', gap: rng.int(20, 180), pageUrl: '/checkout' });
  return steps;
}
