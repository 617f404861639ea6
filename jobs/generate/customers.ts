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
  const signups: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const isNew = rng.chance(NEW_CUSTOMER_SHARE);
    const from = isNew ? window.start : window.end - 365 * DAY;
    const to = isNew ? window.end - HOUR : window.start;
    signups.push(rng.int(from, to - 1));
  }
  signups.sort((a, b) => a - b);

  const countryWeights = COUNTRIES.map((country) => [country, country.weight] as const);
  return signups.map((signedUpAt, index) => {
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
    return { row, signedUpAt, currency: country.currency };
  });
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
export function customersSignedUpBy(customers: readonly PlannedCustomer[], time: number): number {
  let low = 0;
  let high = customers.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (at(customers, middle).signedUpAt <= time) low = middle + 1;
    else high = middle;
  }
  return low;
}
