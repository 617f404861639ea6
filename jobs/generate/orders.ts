import { type CustomerDirectory, customerCurrency, customersSignedUpBy } from './customers.ts';
import { fxLookup, type OrderableCatalog, orderableProduct } from './product-catalog.ts';
import { at, type Rng, type RngState, resumeRng, weightedIndexSampler } from './random.ts';
import { DAY, HOUR, isoDate, isoSeconds, MINUTE, roundMoney, type TimeWindow, WINDOW_DAYS } from './time.ts';
import type { FxRateRow, OrderItemRow, OrderRow } from './types.ts';
import { FREE_SHIPPING_USD, SHIPPING_FEE } from './words.ts';

/** The statuses an order goes through (the source's ORDER_STATUSES, without the anomalies' unknown ones). */
export const LIFECYCLE_STATUSES = ['pending', 'shipped', 'delivered', 'cancelled'] as const;

export interface StatusChange {
  at: number;
  status: (typeof LIFECYCLE_STATUSES)[number];
}

export interface PlannedOrder {
  row: OrderRow;
  items: OrderItemRow[];
  orderedAt: number;
  /** The original customer (the row's customer_id may later be blanked by an anomaly). */
  customerId: number;
  /** Every status the order went through, first `pending` at orderedAt; all <= window end. */
  history: StatusChange[];
}

const CHANNELS = [
  ['web', 35],
  ['mobile', 15],
  ['store', 25],
  ['marketplace', 25],
] as const;

/** Items per order: mean ~2.4. */
const ITEMS_PER_ORDER = [
  [1, 30],
  [2, 30],
  [3, 20],
  [4, 12],
  [5, 8],
] as const;

const QUANTITY = [
  [1, 60],
  [2, 22],
  [3, 10],
  [4, 5],
  [5, 3],
] as const;

/** Share of orders cancelled before shipping. */
const CANCELLED_SHARE = 0.08;

/** Relative order volume by hour of day (UTC): quiet nights, busy evenings. */
const HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 8, 7, 6, 6, 7, 8, 9, 10, 10, 9, 6, 4];

export interface OrderInputs {
  count: number;
  customers: CustomerDirectory;
  catalog: OrderableCatalog;
  fxRates: readonly FxRateRow[];
  window: TimeWindow;
}

/** Orders (order_id serial in time order) with their items and status history. */
export function generateOrders(rng: Rng, inputs: OrderInputs): PlannedOrder[] {
  return [...orderStream(planOrderTimes(rng, inputs.count, inputs.window), inputs)];
}

/**
 * The orders' times, drawn before any order (and sorted, so order_id follows time), and where the orders stream
 * goes on from: every pass over the orders replays them from here instead of keeping them.
 */
export interface OrderTimes {
  times: Float64Array;
  rest: RngState;
}

/**
 * Order times spread over the window with a weekly rhythm, slight growth and a daily curve; sorted.
 * Nothing before window start + 1 hour, so the browsing session before an order stays inside the window.
 */
export function planOrderTimes(rng: Rng, count: number, window: TimeWindow): OrderTimes {
  const dayWeights: number[] = [];
  for (let day = 0; day < WINDOW_DAYS; day += 1) {
    const weekday = new Date((window.start + day * DAY) * 1000).getUTCDay();
    const weekend = weekday === 0 || weekday === 6 ? 1.25 : 1;
    dayWeights.push(weekend * (1 + (0.3 * day) / WINDOW_DAYS));
  }
  const pickDay = weightedIndexSampler(dayWeights);
  const pickHour = weightedIndexSampler(HOUR_WEIGHTS);
  const times = new Float64Array(count);
  for (let index = 0; index < count; index += 1) {
    const dayStart = window.start + pickDay(rng) * DAY;
    const time = dayStart + pickHour(rng) * HOUR + rng.int(0, HOUR - 1);
    times[index] = Math.max(time, window.start + HOUR);
  }
  return { times: times.sort(), rest: rng.state() };
}

/** The orders one at a time, each drawn from where the one before left the stream (a fresh replay per call). */
export function* orderStream(planned: OrderTimes, inputs: OrderInputs): Generator<PlannedOrder> {
  const rng = resumeRng(planned.rest);
  const { window, customers } = inputs;
  const { catalog } = inputs;
  const fx = fxLookup(inputs.fxRates);
  const oldestSignup = customers.signedUpAt[0] ?? 0;

  let nextItemId = 1;
  for (const [index, orderedAt] of planned.times.entries()) {
    const orderId = index + 1;
    const eligible = Math.max(
      1,
      customersSignedUpBy(customers, Math.max(oldestSignup, orderedAt - 10 * MINUTE)),
    );
    const customerIndex = rng.int(0, eligible - 1);
    const customerId = customerIndex + 1;
    const channel = rng.weighted(CHANNELS);
    const currency = rng.chance(0.85) ? customerCurrency(customers, customerIndex) : 'USD';
    const date = isoDate(orderedAt);
    const orderRate = fx(date, currency);
    const stamp = isoSeconds(orderedAt);

    const lineCount = Math.min(rng.weighted(ITEMS_PER_ORDER), catalog.productIds.length);
    const chosen = new Set<number>();
    while (chosen.size < lineCount) chosen.add(catalog.pick(rng));
    let subtotalUsd = 0;
    const items: OrderItemRow[] = [...chosen].map((productIndex) => {
      const product = orderableProduct(catalog, productIndex);
      const quantity = rng.weighted(QUANTITY);
      const converted = (product.unit_price * fx(date, product.currency)) / orderRate;
      const unitPrice = Math.max(roundMoney(converted, currency), currency === 'JPY' ? 1 : 0.01);
      const discount = rng.chance(0.25)
        ? roundMoney(unitPrice * quantity * rng.pick([0.05, 0.1, 0.15, 0.2]), currency)
        : 0;
      subtotalUsd += (unitPrice * quantity - discount) * orderRate;
      const item: OrderItemRow = {
        order_item_id: nextItemId,
        order_id: orderId,
        product_id: product.product_id,
        quantity,
        unit_price: unitPrice,
        discount_amount: discount,
        created_at: stamp,
        updated_at: stamp,
      };
      nextItemId += 1;
      return item;
    });

    const history = statusHistory(rng, orderedAt, window.end);
    const last = at(history, history.length - 1);
    const shipping =
      channel === 'store' || subtotalUsd >= FREE_SHIPPING_USD ? 0 : (SHIPPING_FEE[currency] ?? 0);
    const row: OrderRow = {
      order_id: orderId,
      customer_id: customerId,
      ordered_at: stamp,
      status: last.status,
      channel,
      currency,
      shipping_amount: shipping,
      created_at: stamp,
      updated_at: isoSeconds(last.at),
    };
    yield { row, items, orderedAt, customerId, history };
  }
}

/** pending → shipped (4-48 h) → delivered (1-6 days), or pending → cancelled (0.5-24 h); cut at window end. */
function statusHistory(rng: Rng, orderedAt: number, end: number): StatusChange[] {
  const history: StatusChange[] = [{ at: orderedAt, status: 'pending' }];
  if (rng.chance(CANCELLED_SHARE)) {
    const cancelledAt = orderedAt + rng.int(HOUR / 2, 24 * HOUR);
    if (cancelledAt <= end) history.push({ at: cancelledAt, status: 'cancelled' });
    return history;
  }
  const shippedAt = orderedAt + rng.int(4 * HOUR, 48 * HOUR);
  const deliveredAt = shippedAt + rng.int(DAY, 6 * DAY);
  if (shippedAt <= end) history.push({ at: shippedAt, status: 'shipped' });
  if (deliveredAt <= end) history.push({ at: deliveredAt, status: 'delivered' });
  return history;
}
