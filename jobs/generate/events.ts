import { type CustomerDirectory, customersSignedUpBy } from './customers.ts';
import type { PlannedOrder, StatusChange } from './orders.ts';
import { type OrderableCatalog, orderableProduct } from './product-catalog.ts';
import { createRng, type Rng } from './random.ts';
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

/** The campaign parameters a session's landing URL carries, as the link spelled them. */
export interface Campaign {
  source: string;
  medium: string;
  /** Null for a tagged link that names no campaign (analytics report `(not set)`). */
  campaign: string | null;
}

/**
 * Where sessions come from: [source, medium, campaigns, weight]. The weights leave ~40% without UTM parameters
 * (typed-in URLs, bookmarks, organic search), as on a shop whose paid and email traffic is tagged.
 */
const CAMPAIGN_MIX: readonly (readonly [string, string, readonly string[], number])[] = [
  ['google', 'cpc', ['brand_search', 'generic_search', 'shopping_feed'], 20],
  ['facebook', 'paid_social', ['spring_sale', 'retargeting', 'lookalike'], 10],
  ['instagram', 'paid_social', ['spring_sale', 'influencer_collab'], 6],
  ['tiktok', 'paid_social', ['creator_launch'], 4],
  ['bing', 'cpc', ['brand_search'], 3],
  ['newsletter', 'email', ['weekly_digest', 'cart_reminder', 'vip_offer'], 12],
  ['partner_blog', 'affiliate', ['gift_guide'], 5],
];
const UNTAGGED_WEIGHT = 40;
/** Tagged links are written by hand: some spell the source capitalised (silver lower-cases it). */
const CAPITALISED_SHARE = 0.15;
/** Affiliates often tag source and medium only. */
const NO_CAMPAIGN_SHARE = 0.2;

/**
 * The session's campaign, or null for direct traffic. Drawn from the session's own stream (keyed by its id, which the
 * events rng drew from the seed), not from the events rng: the events rng then draws what it drew before UTM
 * existed, and the streaming generator needs no extra state to replay a session's campaign.
 */
export function sessionCampaign(sessionId: string): Campaign | null {
  const rng = createRng(0, `utm:${sessionId}`);
  const choice = rng.weighted<(typeof CAMPAIGN_MIX)[number] | null>([
    [null, UNTAGGED_WEIGHT],
    ...CAMPAIGN_MIX.map((entry) => [entry, entry[3]] as const),
  ]);
  if (!choice) return null;
  const [source, medium, campaigns] = choice;
  const spelled = rng.chance(CAPITALISED_SHARE) ? source.charAt(0).toUpperCase() + source.slice(1) : source;
  const campaign = medium === 'affiliate' && rng.chance(NO_CAMPAIGN_SHARE) ? null : rng.pick(campaigns);
  return { source: spelled, medium, campaign };
}

/** The landing URL with the campaign's query string, as the ad or email linked it. */
function landingUrl(path: string, campaign: Campaign | null): string {
  if (!campaign) return path;
  const parameters = new URLSearchParams({ utm_source: campaign.source, utm_medium: campaign.medium });
  if (campaign.campaign !== null) parameters.set('utm_campaign', campaign.campaign);
  return `${path}?${parameters.toString()}`;
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
  customers: CustomerDirectory;
  catalog: OrderableCatalog;
  orders: readonly PlannedOrder[];
}

/**
 * Clickstream sessions (a purchase funnel for every web/mobile order, plus abandoned sessions dropping off at
 * each step) and order lifecycle events, each topic sorted by occurred_at. The rng draws for every order's purchase
 * session (in order_id order), then every abandoned session, then every order's lifecycle events: the streaming
 * generator (event-streams.ts) replays those three parts in the same order.
 */
export function generateEvents(rng: Rng, inputs: EventInputs): LogicalEvent[] {
  const clicks: LogicalEvent[] = [];
  const randomProductId = productPicker(inputs.catalog);
  for (const order of inputs.orders) clicks.push(...purchaseSession(rng, order, randomProductId));
  for (let index = 0; index < abandonedSessionCount(inputs.scale); index += 1)
    clicks.push(...abandonedSession(rng, inputs, randomProductId));
  const orderEvents: LogicalEvent[] = [];
  for (const order of inputs.orders) orderEvents.push(...orderLifecycle(rng, order));
  return [...sortByTime(clicks), ...sortByTime(orderEvents)];
}

export type ProductPicker = (rng: Rng) => number;

/** A product_id drawn by popularity among the orderable products. */
export function productPicker(catalog: OrderableCatalog): ProductPicker {
  return (rng) => orderableProduct(catalog, catalog.pick(rng)).product_id;
}

/** The browsing session that ended in a web or mobile order (none for the other channels), in time order. */
export function purchaseSession(
  rng: Rng,
  order: PlannedOrder,
  randomProductId: ProductPicker,
): LogicalEvent[] {
  if (order.row.channel !== 'web' && order.row.channel !== 'mobile') return [];
  const device = order.row.channel === 'web' ? 'web' : rng.chance(0.6) ? 'app' : 'mobile';
  const session: Session = { id: rng.uuid(), customerId: order.customerId, device };
  const steps = purchaseSteps(rng, order, () => randomProductId(rng));
  const duration = steps.reduce((sum, step) => sum + step.gap, 0);
  return sessionEvents(rng, session, order.orderedAt - duration, steps);
}

export function abandonedSessionCount(scale: number): number {
  return Math.round(ABANDONED_SESSIONS * scale);
}

/** One browsing session that ends without a purchase, at a random time of the window, in time order. */
export function abandonedSession(
  rng: Rng,
  inputs: Pick<EventInputs, 'window' | 'customers'>,
  randomProductId: ProductPicker,
): LogicalEvent[] {
  const { window, customers } = inputs;
  const start = rng.int(window.start, window.end - 2 * HOUR);
  const eligible = customersSignedUpBy(customers, start);
  const customerId = eligible === 0 || rng.chance(ANONYMOUS_SHARE) ? null : rng.int(0, eligible - 1) + 1;
  const session: Session = { id: rng.uuid(), customerId, device: rng.pick(['web', 'mobile', 'app']) };
  return sessionEvents(
    rng,
    session,
    start,
    abandonedSteps(rng, () => randomProductId(rng)),
  );
}

/** order_created, then one order_status_changed per later status, in time order: one event_id drawn for each. */
export function orderLifecycle(rng: Rng, order: PlannedOrder): LogicalEvent[] {
  const amount = orderAmount(order);
  return order.history.map((change, step) =>
    lifecycleEvent(order.row.order_id, change, step, rng.uuid(), amount),
  );
}

/** The event of an order's `step`-th status (0: the order was created). */
/** What version 2 of the order-events contract carries: the order's total (its lines' net amounts) and currency. */
export interface OrderAmount {
  total: number;
  currency: string;
}

/** The order's total as its events carry it: the lines' net amounts (gold's revenue rule), to the cent. */
export function orderAmount(order: PlannedOrder): OrderAmount {
  let cents = 0;
  for (const item of order.items)
    cents += Math.round((item.quantity * item.unit_price - item.discount_amount) * 100);
  return { total: cents / 100, currency: order.row.currency };
}

export function lifecycleEvent(
  orderId: number,
  change: StatusChange,
  step: number,
  eventId: string,
  amount: OrderAmount,
): LogicalEvent {
  return {
    topic: ORDER_EVENTS,
    key: String(orderId),
    occurredAt: change.at,
    payload: {
      event_id: eventId,
      event_type: step === 0 ? 'order_created' : 'order_status_changed',
      occurred_at: '',
      order_id: orderId,
      status: change.status,
      schema_version: 2,
      order_total: amount.total,
      currency: amount.currency,
    },
  };
}

/**
 * The session's events. Its UTM parameters are on its landing page view only (the first event), as web analytics
 * receive them: the query string of the URL the visitor arrived by; later pages do not repeat it.
 */
function sessionEvents(rng: Rng, session: Session, start: number, steps: Step[]): LogicalEvent[] {
  let time = start;
  const campaign = sessionCampaign(session.id);
  return steps.map((step, index) => {
    time += step.gap;
    const landing = index === 0 ? campaign : null;
    return {
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
        page_url: index === 0 ? landingUrl(step.pageUrl, campaign) : step.pageUrl,
        product_id: step.productId ?? null,
        quantity: step.quantity ?? null,
        order_id: step.orderId ?? null,
        utm_source: landing?.source ?? null,
        utm_medium: landing?.medium ?? null,
        utm_campaign: landing?.campaign ?? null,
      },
    };
  });
}

/** Stable sort by occurred_at; fills in the ISO occurred_at field. */
function sortByTime(events: LogicalEvent[]): LogicalEvent[] {
  const sorted = events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.occurredAt - b.event.occurredAt || a.index - b.index)
    .map(({ event }) => event);
  for (const event of sorted) stampOccurredAt(event);
  return sorted;
}

/** The payload's occurred_at, left empty until the event's place in its topic is known. */
export function stampOccurredAt(event: LogicalEvent): void {
  event.payload.occurred_at = isoSeconds(event.occurredAt);
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
