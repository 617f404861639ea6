import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { ORDER_EVENTS } from './events.ts';
import { createRng, type Rng } from './random.ts';
import { isoSeconds, roundMoney } from './time.ts';
import type { EventMessage } from './types.ts';
import { COUNTRIES, LOYALTY_TIERS } from './words.ts';

export interface SourceChangeOptions {
  seed: number;
  /** The change time: every changed row gets updated_at = at. */
  at: Date;
  /** How many rows to change per table (default 0). */
  customers?: number;
  products?: number;
  orders?: number;
}

/** Primary keys of the rows changed, ascending. */
export interface SourceChanges {
  customers: number[];
  products: number[];
  orders: number[];
}

/**
 * Deterministic OLTP updates for incremental-extract tests: customers get a new loyalty_tier and city (in the
 * same country), products a new valid unit_price (±5-15%), orders advance one status step (pending → shipped,
 * shipped → delivered). Rows are drawn from those whose updated_at is before `at` (and, for products, whose
 * price is valid; for orders, whose status can advance), so updated_at only moves forward. Throws if a table
 * has fewer such rows than requested. One transaction.
 */
export async function applySourceChanges(
  db: SqlDatabase,
  options: SourceChangeOptions,
): Promise<SourceChanges> {
  const { seed, at } = options;
  if (!Number.isFinite(at.getTime())) throw new Error('applySourceChanges: at is not a valid date');
  const atIso = at.toISOString();
  const rngFor = (table: string) => createRng(seed, `changes:${table}:${atIso}`);
  return db.transaction(async (tx) => ({
    customers: await changeCustomers(tx, rngFor('customers'), atIso, options.customers ?? 0),
    products: await changeProducts(tx, rngFor('products'), atIso, options.products ?? 0),
    orders: await changeOrders(tx, rngFor('orders'), atIso, options.orders ?? 0),
  }));
}

async function choose<Row>(rng: Rng, table: string, rows: Row[], count: number): Promise<Row[]> {
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`applySourceChanges: bad ${table} count ${count}`);
  if (count > rows.length) {
    throw new Error(
      `applySourceChanges: asked to change ${count} ${table} but only ${rows.length} rows can change before that time`,
    );
  }
  return rng.sample(rows, count);
}

interface CustomerRow extends Record<string, unknown> {
  customer_id: number;
  loyalty_tier: string | null;
  city: string | null;
  country_code: string | null;
}

async function changeCustomers(db: SqlDatabase, rng: Rng, at: string, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await db.query<CustomerRow>(
    `SELECT customer_id, loyalty_tier, city, country_code FROM public.customers
     WHERE updated_at < $1 ORDER BY customer_id`,
    [at],
  );
  const chosen = await choose(rng, 'customers', rows, count);
  for (const row of chosen) {
    const tiers = LOYALTY_TIERS.map(([tier]) => tier).filter((tier) => tier !== row.loyalty_tier);
    const country = COUNTRIES.find((entry) => entry.code === row.country_code) ?? COUNTRIES[0];
    const cities = (country?.cities ?? ['Springfield']).filter((city) => city !== row.city);
    await db.query(
      'UPDATE public.customers SET loyalty_tier = $2, city = $3, updated_at = $4 WHERE customer_id = $1',
      [row.customer_id, rng.pick(tiers), rng.pick(cities.length > 0 ? cities : ['Springfield']), at],
    );
  }
  return sortedIds(chosen.map((row) => row.customer_id));
}

interface ProductRow extends Record<string, unknown> {
  product_id: number;
  unit_price: string;
  currency: string | null;
}

async function changeProducts(db: SqlDatabase, rng: Rng, at: string, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await db.query<ProductRow>(
    `SELECT product_id, unit_price::text AS unit_price, currency FROM public.products
     WHERE updated_at < $1 AND unit_price >= 0 ORDER BY product_id`,
    [at],
  );
  const chosen = await choose(rng, 'products', rows, count);
  for (const row of chosen) {
    const currency = row.currency ?? 'USD';
    const old = Number(row.unit_price);
    const factor = 1 + (rng.chance(0.5) ? 1 : -1) * rng.float(0.05, 0.15);
    const minimum = currency === 'JPY' ? 1 : 0.01;
    let price = Math.max(minimum, roundMoney(old * factor, currency));
    if (price === old) price = roundMoney(old + minimum, currency);
    await db.query('UPDATE public.products SET unit_price = $2, updated_at = $3 WHERE product_id = $1', [
      row.product_id,
      price,
      at,
    ]);
  }
  return sortedIds(chosen.map((row) => row.product_id));
}

const NEXT_STATUS: Readonly<Record<string, string>> = { pending: 'shipped', shipped: 'delivered' };

async function changeOrders(db: SqlDatabase, rng: Rng, at: string, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await db.query<{ order_id: number; status: string }>(
    `SELECT order_id, status FROM public.orders
     WHERE updated_at < $1 AND status IN ('pending', 'shipped') ORDER BY order_id`,
    [at],
  );
  const chosen = await choose(rng, 'orders', rows, count);
  for (const row of chosen) {
    await db.query('UPDATE public.orders SET status = $2, updated_at = $3 WHERE order_id = $1', [
      row.order_id,
      NEXT_STATUS[row.status] ?? 'delivered',
      at,
    ]);
  }
  return sortedIds(chosen.map((row) => row.order_id));
}

/**
 * The order-events that go with orders changed by applySourceChanges, as the generator's lifecycle events go with
 * the initial history: one `order_status_changed` per changed order, at the change time, carrying the status the
 * row now holds and its total and currency (contract version 2; read back from the source, so events and rows
 * agree). Publish them with publishEvents. `at` must
 * be the applySourceChanges time, in whole seconds like every generated timestamp; event ids are seeded by `seed`
 * and `at`.
 */
export async function orderStatusEvents(
  db: SqlDatabase,
  options: { seed: number; at: Date; orderIds: readonly number[] },
): Promise<EventMessage[]> {
  const { seed, at, orderIds } = options;
  if (!Number.isFinite(at.getTime()) || at.getTime() % 1000 !== 0)
    throw new Error('orderStatusEvents: at must be a valid date in whole seconds');
  const wanted = new Set(orderIds);
  // The order's total as version 2 of the order-events contract carries it: its lines' net amounts, in its currency.
  const rows = await db.query<{ order_id: number; status: string; currency: string; order_total: string }>(
    `SELECT o.order_id, o.status, o.currency,
       CAST(COALESCE(SUM(i.quantity * i.unit_price - i.discount_amount), 0) AS numeric(12, 2)) AS order_total
     FROM public.orders o LEFT JOIN public.order_items i ON i.order_id = o.order_id
     WHERE o.updated_at = $1 GROUP BY o.order_id, o.status, o.currency ORDER BY o.order_id`,
    [at.toISOString()],
  );
  const changed = rows.filter((row) => wanted.has(Number(row.order_id)));
  if (changed.length !== wanted.size) {
    throw new Error(
      `orderStatusEvents: ${wanted.size - changed.length} of the ${wanted.size} orders were not changed at ${at.toISOString()}`,
    );
  }
  const rng = createRng(seed, `change-events:${at.toISOString()}`);
  const occurredAt = isoSeconds(at.getTime() / 1000);
  return changed.map((row) => ({
    topic: ORDER_EVENTS,
    key: String(row.order_id),
    // Fields in the declared order of the order-events contract, as the generator writes them.
    value: JSON.stringify({
      event_id: rng.uuid(),
      event_type: 'order_status_changed',
      occurred_at: occurredAt,
      order_id: Number(row.order_id),
      status: row.status,
      schema_version: 2,
      order_total: Number(row.order_total),
      currency: row.currency,
    }),
    timestamp: at.getTime(),
  }));
}

function sortedIds(ids: number[]): number[] {
  return ids.slice().sort((a, b) => a - b);
}
