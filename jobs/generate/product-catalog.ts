/**
 * The generated store's product catalog (products with their category, brand, price and popularity) and the daily
 * FX rates its prices are converted with.
 */
import { CURRENCIES } from '../contracts/source-tables.ts';
import { at, type Rng, weightedIndexSampler } from './random.ts';
import { DAY, isoDate, isoSeconds, roundMoney, roundTo, type TimeWindow, WINDOW_DAYS } from './time.ts';
import type { FxRateRow, ProductRow } from './types.ts';
import { BASE_FX_TO_USD, CATEGORIES, PRODUCT_ADJECTIVES, PRODUCT_CURRENCIES } from './words.ts';

/** Share of products deactivated (never ordered in the window). */
const INACTIVE_SHARE = 0.05;
/** Share of products edited (price, name) inside the window. */
const EDITED_SHARE = 0.15;

export interface PlannedProduct {
  row: ProductRow;
  /** Relative popularity (Zipf-like): a few best sellers, a long tail. */
  popularity: number;
}

/** Products ordered by creation (product_id is a serial), spread over ~8 categories with their brands. */
export function generateProducts(rng: Rng, count: number, window: TimeWindow): PlannedProduct[] {
  const created: number[] = [];
  for (let index = 0; index < count; index += 1) {
    created.push(rng.int(window.end - 730 * DAY, window.start - DAY));
  }
  created.sort((a, b) => a - b);

  const currencyWeights = PRODUCT_CURRENCIES;
  const popularityRank = rng.sample(
    created.map((_, index) => index),
    created.length,
  );
  const popularity: number[] = new Array(count).fill(0);
  popularityRank.forEach((productIndex, rank) => {
    popularity[productIndex] = 1 / (rank + 1) ** 0.8;
  });

  const planned = created.map((createdAt, index) => {
    const productId = index + 1;
    const category = rng.pick(CATEGORIES);
    const brand = rng.pick(category.brands);
    const currency = rng.weighted(currencyWeights);
    const usd = category.minUsd * (category.maxUsd / category.minUsd) ** rng.next();
    const updatedAt = rng.chance(EDITED_SHARE) ? rng.int(window.start, window.end - 1) : createdAt;
    const row: ProductRow = {
      product_id: productId,
      sku: `${category.code}-${String(productId).padStart(6, '0')}`,
      product_name: `${brand} ${rng.pick(PRODUCT_ADJECTIVES)} ${rng.pick(category.nouns)}`,
      category: category.name,
      brand,
      unit_price: listPrice(usd, currency),
      currency,
      is_active: !rng.chance(INACTIVE_SHARE),
      created_at: isoSeconds(createdAt),
      updated_at: isoSeconds(updatedAt),
    };
    return { row, popularity: popularity[index] ?? 1 };
  });
  // Tiny scales: there must be something to order.
  const first = planned[0];
  if (first && !planned.some((product) => product.row.is_active)) first.row.is_active = true;
  return planned;
}

/** Products that can be viewed and ordered: active, with a sane price (not an injected negative one). */
export function isOrderable(product: PlannedProduct): boolean {
  return product.row.is_active && product.row.unit_price > 0;
}

/** What orders and browsing sessions need of a product that can be ordered. */
export interface OrderableProduct {
  product_id: number;
  unit_price: number;
  currency: string;
}

/**
 * The orderable products without the rest of their rows, by index in typed arrays (they are held for the whole
 * run), and a draw of one of them (its index) by popularity.
 */
export interface OrderableCatalog {
  productIds: Uint32Array;
  unitPrices: Float64Array;
  /** Index into `currencies`. */
  currencyOf: Uint8Array;
  currencies: string[];
  pick: (rng: Rng) => number;
}

export function orderableCatalog(products: readonly PlannedProduct[]): OrderableCatalog {
  const active = products.filter(isOrderable);
  if (active.length === 0) throw new Error('generate: no active products to order');
  const currencies = [...new Set(active.map(({ row }) => row.currency))];
  return {
    productIds: Uint32Array.from(active, ({ row }) => row.product_id),
    unitPrices: Float64Array.from(active, ({ row }) => row.unit_price),
    currencyOf: Uint8Array.from(active, ({ row }) => currencies.indexOf(row.currency)),
    currencies,
    pick: weightedIndexSampler(active.map((product) => product.popularity)),
  };
}

export function orderableProduct(catalog: OrderableCatalog, index: number): OrderableProduct {
  const productId = catalog.productIds[index];
  const unitPrice = catalog.unitPrices[index];
  if (productId === undefined || unitPrice === undefined)
    throw new RangeError(`no orderable product ${index}`);
  return {
    product_id: productId,
    unit_price: unitPrice,
    currency: at(catalog.currencies, catalog.currencyOf[index] ?? -1),
  };
}

/** A shop-like list price in `currency` for a USD value: x.99 endings, whole tens for JPY. */
function listPrice(usd: number, currency: string): number {
  const local = usd / (BASE_FX_TO_USD[currency] ?? 1);
  if (currency === 'JPY') return Math.max(10, Math.round(local / 10) * 10);
  return roundMoney(Math.max(1, Math.floor(local)) + 0.99, currency);
}

/**
 * One rate per (day, currency) for every day of the window: USD is exactly 1, the others follow a small
 * random walk (at most ±0.4% a day) around their base rate.
 */
export function generateFxRates(rng: Rng, window: TimeWindow): FxRateRow[] {
  const rows: FxRateRow[] = [];
  const current: Record<string, number> = {};
  for (const currency of CURRENCIES) {
    current[currency] = (BASE_FX_TO_USD[currency] ?? 1) * (currency === 'USD' ? 1 : rng.float(0.97, 1.03));
  }
  for (let day = 0; day < WINDOW_DAYS; day += 1) {
    const dayStart = window.start + day * DAY;
    for (const currency of CURRENCIES) {
      let rate = current[currency] ?? 1;
      if (currency !== 'USD') {
        rate *= 1 + rng.float(-0.004, 0.004);
        current[currency] = rate;
      }
      rows.push({
        rate_date: isoDate(dayStart),
        currency,
        rate_to_usd: currency === 'USD' ? 1 : roundTo(rate, 8),
        created_at: isoSeconds(dayStart),
        updated_at: isoSeconds(dayStart),
      });
    }
  }
  return rows;
}

/** Looks up rate_to_usd by (date, currency). */
export function fxLookup(rows: readonly FxRateRow[]): (date: string, currency: string) => number {
  // By date, then currency: no key string to build on every lookup (several per generated order).
  const byDate = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const rates = byDate.get(row.rate_date) ?? new Map<string, number>();
    rates.set(row.currency, row.rate_to_usd);
    byDate.set(row.rate_date, rates);
  }
  return (date, currency) => {
    const rate = byDate.get(date)?.get(currency);
    if (rate === undefined) throw new Error(`no fx rate for ${currency} on ${date}`);
    return rate;
  };
}
