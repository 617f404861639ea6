import { at, type Rng } from './random.ts';
import { DAY, HOUR, isoSeconds, type TimeWindow } from './time.ts';
import type { CustomerRow } from './types.ts';
import {
  COUNTRIES,
  EMAIL_DOMAINS,
  FIRST_NAMES,
  LAST_NAMES,
  LOYALTY_TIERS,
  STREET_NAMES,
  STREET_SUFFIXES,
} from './words.ts';

/** Share of customers who signed up inside the 30-day window ("new customers" every day). */
const NEW_CUSTOMER_SHARE = 0.12;
/** Share of customers whose profile changed after sign-up (updated_at > created_at). */
const PROFILE_UPDATE_SHARE = 0.25;

export interface PlannedCustomer {
  row: CustomerRow;
  signedUpAt: number;
  currency: string;
}

/**
 * Customers ordered by sign-up time (customer_id is a serial, as in a real OLTP table): ~88% signed up during
 * the year before the window, ~12% inside it. Nothing is later than the window end.
 */
export function generateCustomers(rng: Rng, count: number, window: TimeWindow): PlannedCustomer[] {
  return [...customerStream(rng, count, window)];
}

/** generateCustomers one at a time: only the sign-up times are held (all are drawn before the first row). */
export function* customerStream(rng: Rng, count: number, window: TimeWindow): Generator<PlannedCustomer> {
  const signups = new Float64Array(count);
  for (let index = 0; index < count; index += 1) {
    const isNew = rng.chance(NEW_CUSTOMER_SHARE);
    const from = isNew ? window.start : window.end - 365 * DAY;
    const to = isNew ? window.end - HOUR : window.start;
    signups[index] = rng.int(from, to - 1);
  }
  signups.sort();

  const countryWeights = COUNTRIES.map((country) => [country, country.weight] as const);
  for (const [index, signedUpAt] of signups.entries()) {
    const customerId = index + 1;
    const country = rng.weighted(countryWeights);
    const firstName = rng.pick(FIRST_NAMES);
    const lastName = rng.pick(LAST_NAMES);
    const updatedAt = rng.chance(PROFILE_UPDATE_SHARE) ? rng.int(signedUpAt, window.end - 1) : signedUpAt;
    const row: CustomerRow = {
      customer_id: customerId,
      email: fakeEmail(rng, firstName, lastName, customerId),
      phone: rng.chance(0.1) ? null : fakePhone(rng, country.callingCode),
      first_name: firstName,
      last_name: lastName,
      street_address: rng.chance(0.03)
        ? null
        : `${rng.int(1, 2999)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_SUFFIXES)}`,
      city: rng.pick(country.cities),
      country_code: country.code,
      loyalty_tier: rng.weighted(LOYALTY_TIERS),
      signed_up_at: isoSeconds(signedUpAt),
      created_at: isoSeconds(signedUpAt),
      updated_at: isoSeconds(updatedAt),
    };
    yield { row, signedUpAt, currency: country.currency };
  }
}

/**
 * What orders and sessions need of the customers, without their rows: customer i (0-based) has customer_id i + 1,
 * signed up at signedUpAt[i] (ascending) and pays in currencies[currencyOf[i]] by default.
 */
export interface CustomerDirectory {
  signedUpAt: Float64Array;
  currencyOf: Uint8Array;
  currencies: string[];
}

export function customerDirectory(customers: Iterable<PlannedCustomer>, count: number): CustomerDirectory {
  const directory: CustomerDirectory = {
    signedUpAt: new Float64Array(count),
    currencyOf: new Uint8Array(count),
    currencies: [],
  };
  for (const customer of customers) {
    const index = customer.row.customer_id - 1;
    directory.signedUpAt[index] = customer.signedUpAt;
    let code = directory.currencies.indexOf(customer.currency);
    if (code === -1) code = directory.currencies.push(customer.currency) - 1;
    directory.currencyOf[index] = code;
  }
  return directory;
}

/** The currency customer `index` (0-based) pays in by default. */
export function customerCurrency(directory: CustomerDirectory, index: number): string {
  return at(directory.currencies, directory.currencyOf[index] ?? -1);
}

function fakeEmail(rng: Rng, firstName: string, lastName: string, customerId: number): string {
  const clean = (name: string) => name.toLowerCase().replace(/[^a-z]/g, '');
  const local = rng.chance(0.5)
    ? `${clean(firstName)}.${clean(lastName)}${customerId}`
    : `${clean(firstName).charAt(0)}${clean(lastName)}${customerId}`;
  return `${local}@${rng.pick(EMAIL_DOMAINS)}`;
}

function fakePhone(rng: Rng, callingCode: string): string {
  const digits = (length: number) => {
    let text = '';
    for (let index = 0; index < length; index += 1) text += String(rng.int(0, 9));
    return text;
  };
  // 555-01xx is the fictional range in North America; elsewhere just plausible digit groups.
  if (callingCode === '+1') return `+1 ${rng.int(201, 989)}-555-01${digits(2)}`;
  return `${callingCode} ${rng.int(10, 99)} ${digits(4)} ${digits(4)}`;
}

/** Index of the first customer who signed up after `time` (customers are sorted by sign-up). */
export function customersSignedUpBy(customers: CustomerDirectory, time: number): number {
  let low = 0;
  let high = customers.signedUpAt.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((customers.signedUpAt[middle] ?? Number.POSITIVE_INFINITY) <= time) low = middle + 1;
    else high = middle;
  }
  return low;
}
