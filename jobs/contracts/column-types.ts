/**
 * One definition per column type, and it feeds everything downstream of a column (invariant 7): the contract check
 * of a CSV cell or a JSON value (here), the silver cast (`{{ cast_column(table.column) }}`, rendered from
 * `sqlColumnType`), and the bronze landing column (text of at most MAX_TEXT_BYTES). The checks are as strict as
 * the casts after them: whatever passes here, PostgreSQL, PGlite and Redshift cast without an error and without
 * changing the value (no calendar roll-over, no rounding, no overflow). jobs/contracts/cast-safety.test.ts holds
 * that with generated boundary values on the real engines.
 */

import type { DerivedColumn, PiiClass } from './pii.ts';

export type ColumnType = 'int' | 'bigint' | 'numeric' | 'text' | 'timestamptz' | 'date' | 'bool';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable?: boolean;
  /**
   * Personal data, by class: never in gold in clear text (invariant 4). The clear value lands only in the
   * restricted schema `pii` (jobs/contracts/pii.ts, sql/README.md › PII).
   */
  pii?: PiiClass;
  /** Columns computed from this one while rows are validated (a keyed hash, a mask), staged after the declared ones. */
  derived?: DerivedColumn[];
  /** numeric: total digits and digits after the point, as in the silver column `numeric(precision, scale)`. */
  precision?: number;
  scale?: number;
}

/**
 * Bronze lands every contract column as varchar(65535) (Redshift counts bytes) and PostgreSQL text cannot hold NUL,
 * so a text above this size could not be loaded: the contract refuses it, naming the column.
 */
export const MAX_TEXT_BYTES = 65_535;

const INT_RANGE = { min: -2_147_483_648n, max: 2_147_483_647n } as const;
const BIGINT_RANGE = { min: -9_223_372_036_854_775_808n, max: 9_223_372_036_854_775_807n } as const;

/** The plausible time window of a timestamp or date column: before `earliest` or too far ahead is refused. */
export interface TimeWindow {
  earliest: Date;
  /** How far past the validation time a value may lie (clock skew, time zones, rates published for tomorrow). */
  maxFutureSeconds: number;
}

/** What a value is judged against besides its type: the time window, relative to the validation time. */
export interface ValueLimits extends TimeWindow {
  now: Date;
}

/** A checked value: the text staged for bronze, or why it fails. */
export type Checked = { text: string; reason?: undefined } | { reason: string; text?: undefined };

/** The SQL type of the typed (silver) column. */
export function sqlColumnType(column: ColumnSpec): string {
  switch (column.type) {
    case 'int':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'numeric':
      return `numeric(${numericShape(column).precision}, ${numericShape(column).scale})`;
    case 'text':
      return `varchar(${MAX_TEXT_BYTES})`;
    case 'timestamptz':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'bool':
      return 'boolean';
  }
}

function numericShape(column: ColumnSpec): { precision: number; scale: number } {
  const { precision, scale } = column;
  if (
    precision === undefined ||
    scale === undefined ||
    !Number.isInteger(precision) ||
    !Number.isInteger(scale) ||
    precision < 1 ||
    precision > 38 ||
    scale < 0 ||
    scale > precision
  ) {
    throw new Error(`numeric column ${column.name} needs a precision (1-38) and a scale (0-precision)`);
  }
  return { precision, scale };
}

/** Checks a CSV cell as the OLTP database wrote it (PostgreSQL's text output). */
export function checkCsvCell(column: ColumnSpec, cell: string, limits: ValueLimits): Checked {
  switch (column.type) {
    case 'int':
      return checkIntegerText(cell, INT_RANGE, 'a 32-bit integer');
    case 'bigint':
      return checkIntegerText(cell, BIGINT_RANGE, 'a 64-bit integer');
    case 'numeric':
      return checkDecimalText(column, cell);
    case 'text':
      return checkText(cell);
    case 'timestamptz':
      return checkTimestampText(cell, limits, 'a timestamp');
    case 'date':
      return checkDateText(cell, limits);
    case 'bool':
      return BOOLEAN_TEXT.has(cell) ? { text: cell } : { reason: 'expected a boolean (t, f, true, false)' };
  }
}

const BOOLEAN_TEXT = new Set(['t', 'f', 'true', 'false']);

/** Checks a JSON value of an event: a number must be a number, not a string that looks like one. */
export function checkJsonValue(column: ColumnSpec, value: unknown, limits: ValueLimits): Checked {
  switch (column.type) {
    case 'int':
    case 'bigint': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return { reason: 'expected an integer' };
      if (!Number.isSafeInteger(value))
        return { reason: 'integer beyond ±2^53 cannot be read exactly from JSON' };
      return column.type === 'int'
        ? checkIntegerText(String(value), INT_RANGE, 'a 32-bit integer')
        : { text: String(value) };
    }
    case 'numeric':
      if (typeof value !== 'number' || !Number.isFinite(value)) return { reason: 'expected a number' };
      return checkDecimalText(column, plainDecimal(value));
    case 'text':
      return typeof value === 'string' ? checkText(value) : { reason: 'expected text' };
    case 'timestamptz':
      if (typeof value !== 'string' || value.length > 64) return { reason: 'expected an ISO-8601 timestamp' };
      return checkTimestampText(value, limits, 'an ISO-8601 timestamp');
    case 'date':
      return typeof value === 'string'
        ? checkDateText(value, limits)
        : { reason: 'expected a date YYYY-MM-DD' };
    case 'bool':
      return typeof value === 'boolean' ? { text: String(value) } : { reason: 'expected a boolean' };
  }
}

function checkIntegerText(text: string, range: { min: bigint; max: bigint }, what: string): Checked {
  if (!/^-?\d{1,30}$/.test(text)) return { reason: 'expected an integer' };
  const value = BigInt(text);
  if (value < range.min || value > range.max)
    return { reason: `out of range for ${what} (${range.min} to ${range.max})` };
  return { text };
}

function checkDecimalText(column: ColumnSpec, text: string): Checked {
  const match = /^-?(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) return { reason: 'expected a decimal number' };
  const { precision, scale } = numericShape(column);
  const whole = (match[1] as string).replace(/^0+/, '');
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (whole.length > precision - scale)
    return {
      reason: `more than ${precision - scale} digits before the decimal point (numeric(${precision}, ${scale}))`,
    };
  // Refused rather than rounded: a cast would silently change the value.
  if (fraction.length > scale)
    return { reason: `more than ${scale} decimal places (numeric(${precision}, ${scale}))` };
  return { text };
}

function checkText(text: string): Checked {
  if (text.includes('\u0000')) return { reason: 'text must not contain NUL characters' };
  // A lone surrogate would be written as U+FFFD: the warehouse would hold a value nobody sent.
  if (!text.isWellFormed()) return { reason: 'text is not valid Unicode (lone surrogate)' };
  if (text.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(text) > MAX_TEXT_BYTES)
    return { reason: `text longer than ${MAX_TEXT_BYTES} bytes` };
  return { text };
}

/**
 * ISO-8601 as both engines read it: `YYYY-MM-DD`, `T` or a space, `HH:MM`, optional `:SS` and up to 6 fraction
 * digits (Redshift keeps microseconds), then `Z`, `±HH`, `±HHMM` or `±HH:MM` (none: UTC, the session time zone).
 */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** The instant a timestamp text names, or why it names none (never rolled over, unlike Date.parse). */
export function parseTimestamp(text: string): { epochMs: number; micros: number } | { reason: string } {
  const match = TIMESTAMP.exec(text);
  if (!match) return { reason: 'not ISO-8601' };
  // Field by field, without arrays: every timestamp of every row passes here.
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = match[6] === undefined ? 0 : Number(match[6]);
  if (!isCalendarDate(year, month, day)) return { reason: 'no such calendar day' };
  if (hour > 23 || minute > 59 || second > 59) return { reason: 'no such time of day' };
  const offsetMinutes = parseOffset(match[8]);
  if (offsetMinutes === null) return { reason: 'offset out of range (±14:00)' };
  const fraction = match[7] === undefined ? '000000' : match[7].padEnd(6, '0');
  const millis = Number(fraction.slice(0, 3));
  const epochMs = utcMillis(year, month, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  return { epochMs, micros: Number(fraction.slice(3)) };
}

function checkTimestampText(text: string, limits: ValueLimits, what: string): Checked {
  const parsed = parseTimestamp(text);
  if ('reason' in parsed) return { reason: `expected ${what}: ${parsed.reason}` };
  return inWindow(parsed.epochMs, limits) ?? { text };
}

function checkDateText(text: string, limits: ValueLimits): Checked {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return { reason: 'expected a date YYYY-MM-DD' };
  const [year, month, day] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  if (!isCalendarDate(year, month, day))
    return { reason: 'expected a date YYYY-MM-DD: no such calendar day' };
  return inWindow(utcMillis(year, month, day, 0, 0, 0, 0), limits) ?? { text };
}

function inWindow(epochMs: number, limits: ValueLimits): Checked | null {
  if (epochMs < limits.earliest.getTime())
    return { reason: `before ${limits.earliest.toISOString().slice(0, 10)}, the earliest plausible time` };
  if (epochMs > limits.now.getTime() + limits.maxFutureSeconds * 1000)
    return { reason: `more than ${limits.maxFutureSeconds} seconds in the future` };
  return null;
}

function parseOffset(text: string | undefined): number | null {
  if (text === undefined || text === 'Z') return 0;
  const sign = text.startsWith('-') ? -1 : 1;
  const digits = text.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (minutes > 59 || hours * 60 + minutes > 14 * 60) return null;
  return sign * (hours * 60 + minutes);
}

export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Date.UTC maps years 0-99 to 1900-1999 (setUTCFullYear does not), so only later years take it. */
function utcMillis(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime();
}

/** A JSON number as plain decimal text (`1e-7` is `0.0000001`), the form every engine's numeric cast reads. */
function plainDecimal(value: number): string {
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, lead, rest = '', exponentText] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const digits = `${lead}${rest}`;
  const exponent = Number(exponentText);
  if (exponent >= 0) return `${sign}${digits.padEnd(exponent + 1, '0')}`;
  return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
}
