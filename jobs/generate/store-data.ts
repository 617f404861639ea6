import { injectOrderAnomalies, injectProductAnomalies, serializeEvents } from './anomalies.ts';
import { customerDirectory, generateCustomers } from './customers.ts';
import { generateEvents } from './events.ts';
import { generateOrders } from './orders.ts';
import { generateFxRates, generateProducts, orderableCatalog } from './product-catalog.ts';
import { createRng } from './random.ts';
import { timeWindow } from './time.ts';
import type { GeneratedData, GenerateOptions, SourceRows } from './types.ts';

/** Row counts at scale 1; scale N multiplies them (order_items follow from ~2.4 items per order). */
export const BASE_COUNTS = { customers: 1000, products: 200, orders: 5000 } as const;

/** How many customers, products and orders a scale makes; throws on a bad seed or scale. */
export function storeSizes(
  options: Pick<GenerateOptions, 'seed' | 'scale'>,
): Record<keyof typeof BASE_COUNTS, number> {
  const { seed, scale } = options;
  if (!Number.isSafeInteger(seed)) throw new Error(`generate: seed must be an integer, got ${seed}`);
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`generate: scale must be a positive number, got ${scale}`);
  const count = (base: number) => Math.max(1, Math.round(base * scale));
  return {
    customers: count(BASE_COUNTS.customers),
    products: Math.max(10, count(BASE_COUNTS.products)),
    orders: count(BASE_COUNTS.orders),
  };
}

/**
 * Builds the whole synthetic store in memory: rows for the five source tables and the event messages, with the
 * injected anomalies and their manifest. Pure: the same (seed, scale, asOf) always gives byte-identical output.
 * streamStoreData (store-stream.ts) gives the same store at any scale in bounded memory; this is its reference,
 * and what the tests of small stores read.
 */
export function generateStoreData(options: GenerateOptions): GeneratedData {
  const { seed, scale, asOf } = options;
  const sizes = storeSizes(options);
  const window = timeWindow(asOf);

  const customers = generateCustomers(createRng(seed, 'customers'), sizes.customers, window);
  const directory = customerDirectory(customers, customers.length);
  const products = generateProducts(createRng(seed, 'products'), sizes.products, window);
  const productAnomalies = injectProductAnomalies(
    createRng(seed, 'product-anomalies'),
    products.map((product) => product.row),
  );
  const fxRates = generateFxRates(createRng(seed, 'fx_rates'), window);
  const catalog = orderableCatalog(products);
  const orders = generateOrders(createRng(seed, 'orders'), {
    count: sizes.orders,
    customers: directory,
    catalog,
    fxRates,
    window,
  });
  // Events are derived before the order anomalies touch the rows: events describe what really happened.
  const logicalEvents = generateEvents(createRng(seed, 'events'), {
    scale,
    window,
    customers: directory,
    catalog,
    orders,
  });

  const tables: SourceRows = {
    customers: customers.map((customer) => customer.row),
    products: products.map((product) => product.row),
    orders: orders.map((order) => order.row),
    order_items: orders.flatMap((order) => order.items),
    fx_rates: fxRates,
  };
  const orderAnomalies = injectOrderAnomalies(createRng(seed, 'order-anomalies'), tables);
  const { messages, anomalies: eventAnomalies } = serializeEvents(
    createRng(seed, 'event-anomalies'),
    logicalEvents,
  );

  return {
    seed,
    scale,
    asOf: asOf.toISOString(),
    tables,
    events: messages,
    anomalies: [...productAnomalies, ...orderAnomalies, ...eventAnomalies],
  };
}
