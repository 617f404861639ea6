/** Time and money helpers. Internally the generator counts time in whole epoch seconds. */

export const MINUTE = 60;
export const HOUR = 3600;
export const DAY = 86_400;
/** Days of history before asOf. */
export const WINDOW_DAYS = 30;

export interface TimeWindow {
  /** asOf - 30 days, epoch seconds. */
  start: number;
  /** asOf, epoch seconds (exclusive for new activity; nothing happens after it). */
  end: number;
}

export function timeWindow(asOf: Date): TimeWindow {
  const ms = asOf.getTime();
  if (!Number.isFinite(ms)) throw new Error('generate: asOf is not a valid date');
  if (ms % (DAY * 1000) !== 0) {
    throw new Error(`generate: asOf must be a UTC midnight, got ${asOf.toISOString()}`);
  }
  const end = ms / 1000;
  return { start: end - WINDOW_DAYS * DAY, end };
}

/** `00` … `59`: the two digits of an hour, minute or second. */
const TWO_DIGITS = Array.from({ length: 60 }, (_, value) => String(value).padStart(2, '0'));
/** `YYYY-MM-DDT` by day number since 1970: the generator's timestamps fall on a few dozen days. */
const DAY_PREFIXES = new Map<number, string>();

/** `YYYY-MM-DDT` of a day since 1970, from Date once per day (its formatting is the generator's hot spot). */
function dayPrefix(day: number): string {
  let prefix = DAY_PREFIXES.get(day);
  if (prefix === undefined) {
    if (DAY_PREFIXES.size >= 10_000) DAY_PREFIXES.clear();
    prefix = new Date(day * DAY * 1000).toISOString().slice(0, 11);
    DAY_PREFIXES.set(day, prefix);
  }
  return prefix;
}

/** Whole seconds from 1970 to 9999, the ones built from a day prefix; anything else is formatted by Date. */
function isPlainSecond(epochSeconds: number): boolean {
  return Number.isInteger(epochSeconds) && epochSeconds >= 0 && epochSeconds < 253_402_300_800;
}

/** `2024-05-01T13:45:07Z` */
export function isoSeconds(epochSeconds: number): string {
  if (!isPlainSecond(epochSeconds)) return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
  const day = Math.floor(epochSeconds / DAY);
  const second = epochSeconds - day * DAY;
  const hours = TWO_DIGITS[Math.floor(second / HOUR)];
  const minutes = TWO_DIGITS[Math.floor((second % HOUR) / MINUTE)];
  return `${dayPrefix(day)}${hours}:${minutes}:${TWO_DIGITS[second % MINUTE]}Z`;
}

/** `2024-05-01` */
export function isoDate(epochSeconds: number): string {
  if (!isPlainSecond(epochSeconds)) return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
  return dayPrefix(Math.floor(epochSeconds / DAY)).slice(0, 10);
}

export function parseIsoSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** Minor-unit digits per currency. */
export function currencyDecimals(currency: string): number {
  return currency === 'JPY' ? 0 : 2;
}

export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export function roundMoney(value: number, currency: string): number {
  return roundTo(value, currencyDecimals(currency));
}
