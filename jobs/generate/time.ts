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

/** `2024-05-01T13:45:07Z` */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** `2024-05-01` */
export function isoDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().slice(0, 10);
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
