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
   * false: only another source of the table writes the column (the FX vendor's is_carried_forward), so the OLTP
   * table (sql/source/schema.sql), the generator and the OLTP extract leave it out. Such a column must be nullable:
   * a row from the OLTP database arrives without it.
   */
  oltp?: false;
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

/** Why a value fails, as a compiled check returns it (a passing value comes back as its staged text). */
export interface Rejection {
  readonly reason: string;
  readonly text?: undefined;
}

/**
 * A column's check compiled once (csvCellCheck, jsonValueCheck): the staged text of a passing value, or why it
 * fails. No object per passing value: every value of every row passes here.
 */
export type ValueCheck<Value> = (value: Value, limits: ValueLimits) => string | Rejection;

const rejection = (reason: string): Rejection => Object.freeze({ reason });
const asChecked = (checked: string | Rejection): Checked =>
  typeof checked === 'string' ? { text: checked } : { reason: checked.reason };

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
  return asChecked(csvCellCheck(column)(cell, limits));
}

/** Checks a JSON value of an event: a number must be a number, not a string that looks like one. */
export function checkJsonValue(column: ColumnSpec, value: unknown, limits: ValueLimits): Checked {
  return asChecked(jsonValueCheck(column)(value, limits));
}

/** The check of a CSV cell of the column (checkCsvCell), compiled once per column. */
export const csvCellCheck = compiledOncePerColumn(compileCsvCellCheck);

/** The check of a JSON value of the column (checkJsonValue), compiled once per column. */
export const jsonValueCheck = compiledOncePerColumn(compileJsonValueCheck);

function compiledOncePerColumn<T>(compile: (column: ColumnSpec) => ValueCheck<T>) {
  const compiled = new WeakMap<ColumnSpec, ValueCheck<T>>();
  return (column: ColumnSpec): ValueCheck<T> => {
    let check = compiled.get(column);
    if (!check) {
      check = compile(column);
      compiled.set(column, check);
    }
    return check;
  };
}

const EXPECTED_INTEGER = rejection('expected an integer');
const EXPECTED_BOOLEAN_TEXT = rejection('expected a boolean (t, f, true, false)');

function compileCsvCellCheck(column: ColumnSpec): ValueCheck<string> {
  switch (column.type) {
    case 'int':
      return integerTextCheck(INT_RANGE, 'a 32-bit integer');
    case 'bigint':
      return integerTextCheck(BIGINT_RANGE, 'a 64-bit integer');
    case 'numeric':
      return decimalTextCheck(column);
    case 'text':
      return checkText;
    case 'timestamptz':
      return timestampTextCheck('a timestamp');
    case 'date':
      return checkDateText;
    case 'bool':
      return (cell) => (BOOLEAN_TEXT.has(cell) ? cell : EXPECTED_BOOLEAN_TEXT);
  }
}

const BOOLEAN_TEXT = new Set(['t', 'f', 'true', 'false']);

const BEYOND_SAFE_INTEGER = rejection('integer beyond ±2^53 cannot be read exactly from JSON');
const EXPECTED_NUMBER = rejection('expected a number');
const EXPECTED_TEXT = rejection('expected text');
const EXPECTED_ISO_TIMESTAMP = rejection('expected an ISO-8601 timestamp');
const EXPECTED_DATE = rejection('expected a date YYYY-MM-DD');
const EXPECTED_BOOLEAN = rejection('expected a boolean');

function compileJsonValueCheck(column: ColumnSpec): ValueCheck<unknown> {
  switch (column.type) {
    case 'int':
    case 'bigint': {
      // A safe integer's decimal text is all digits, so its range is the number's.
      const outOfInt = rejection(`out of range for a 32-bit integer (${INT_RANGE.min} to ${INT_RANGE.max})`);
      const isInt = column.type === 'int';
      return (value) => {
        if (typeof value !== 'number' || !Number.isInteger(value)) return EXPECTED_INTEGER;
        if (!Number.isSafeInteger(value)) return BEYOND_SAFE_INTEGER;
        if (isInt && (value < INT_MIN || value > INT_MAX)) return outOfInt;
        return String(value);
      };
    }
    case 'numeric': {
      const decimal = decimalTextCheck(column);
      return (value, limits) =>
        typeof value === 'number' && Number.isFinite(value)
          ? decimal(plainDecimal(value), limits)
          : EXPECTED_NUMBER;
    }
    case 'text':
      return (value, limits) => (typeof value === 'string' ? checkText(value, limits) : EXPECTED_TEXT);
    case 'timestamptz': {
      const timestamp = timestampTextCheck('an ISO-8601 timestamp');
      return (value, limits) =>
        typeof value === 'string' && value.length <= 64 ? timestamp(value, limits) : EXPECTED_ISO_TIMESTAMP;
    }
    case 'date':
      return (value, limits) => (typeof value === 'string' ? checkDateText(value, limits) : EXPECTED_DATE);
    case 'bool':
      return (value) => (typeof value === 'boolean' ? (value ? 'true' : 'false') : EXPECTED_BOOLEAN);
  }
}

const INT_MIN = Number(INT_RANGE.min);
const INT_MAX = Number(INT_RANGE.max);

/**
 * `-?\d{1,30}` within the range, read digit by digit: up to 15 digits the value is exact as a number, longer
 * ones are compared as BigInt. The staged text is the cell as written (`007` stays `007`).
 */
function integerTextCheck(range: { min: bigint; max: bigint }, what: string): ValueCheck<string> {
  const outOfRange = rejection(`out of range for ${what} (${range.min} to ${range.max})`);
  const min = Number(range.min);
  const max = Number(range.max);
  return (text) => {
    const length = text.length;
    const from = length > 0 && text.charCodeAt(0) === MINUS ? 1 : 0;
    const digits = length - from;
    if (digits < 1 || digits > 30) return EXPECTED_INTEGER;
    let value = 0;
    for (let at = from; at < length; at += 1) {
      const digit = text.charCodeAt(at) - ZERO;
      if (digit < 0 || digit > 9) return EXPECTED_INTEGER;
      value = value * 10 + digit;
    }
    if (digits <= 15) {
      const signed = from === 1 ? -value : value;
      return signed < min || signed > max ? outOfRange : text;
    }
    const exact = BigInt(text);
    return exact < range.min || exact > range.max ? outOfRange : text;
  };
}

const EXPECTED_DECIMAL = rejection('expected a decimal number');

/**
 * `-?\d+(\.\d+)?` that fits numeric(precision, scale): leading zeros of the whole part and trailing zeros of the
 * fraction do not count. The column's shape is checked on first use (a column without one fails every check).
 */
function decimalTextCheck(column: ColumnSpec): ValueCheck<string> {
  let reasons: { whole: number; tooWhole: Rejection; scale: number; tooFine: Rejection } | undefined;
  return (text) => {
    const length = text.length;
    let at = length > 0 && text.charCodeAt(0) === MINUS ? 1 : 0;
    const wholeFrom = at;
    while (at < length && isDigit(text.charCodeAt(at))) at += 1;
    const wholeTo = at;
    if (wholeTo === wholeFrom) return EXPECTED_DECIMAL;
    let fractionDigits = 0;
    if (at < length) {
      if (text.charCodeAt(at) !== DOT) return EXPECTED_DECIMAL;
      at += 1;
      const fractionFrom = at;
      while (at < length && isDigit(text.charCodeAt(at))) at += 1;
      if (at === fractionFrom || at !== length) return EXPECTED_DECIMAL;
      let fractionTo = at;
      while (fractionTo > fractionFrom && text.charCodeAt(fractionTo - 1) === ZERO) fractionTo -= 1;
      fractionDigits = fractionTo - fractionFrom;
    }
    if (!reasons) {
      const { precision, scale } = numericShape(column);
      const shape = `(numeric(${precision}, ${scale}))`;
      reasons = {
        whole: precision - scale,
        tooWhole: rejection(`more than ${precision - scale} digits before the decimal point ${shape}`),
        scale,
        // Refused rather than rounded: a cast would silently change the value.
        tooFine: rejection(`more than ${scale} decimal places ${shape}`),
      };
    }
    let significant = wholeFrom;
    while (significant < wholeTo && text.charCodeAt(significant) === ZERO) significant += 1;
    if (wholeTo - significant > reasons.whole) return reasons.tooWhole;
    if (fractionDigits > reasons.scale) return reasons.tooFine;
    return text;
  };
}

const NUL_IN_TEXT = rejection('text must not contain NUL characters');
const LONE_SURROGATE = rejection('text is not valid Unicode (lone surrogate)');
const TEXT_TOO_LONG = rejection(`text longer than ${MAX_TEXT_BYTES} bytes`);

function checkText(text: string, _limits?: ValueLimits): string | Rejection {
  if (text.includes('\u0000')) return NUL_IN_TEXT;
  // A lone surrogate would be written as U+FFFD: the warehouse would hold a value nobody sent.
  if (!text.isWellFormed()) return LONE_SURROGATE;
  if (text.length * 3 > MAX_TEXT_BYTES && Buffer.byteLength(text) > MAX_TEXT_BYTES) return TEXT_TOO_LONG;
  return text;
}

const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const isDigit = (code: number) => code >= ZERO && code <= ZERO + 9;

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

/**
 * The instant of a timestamp text, read character by character in the TIMESTAMP forms; NaN when the text is not one
 * of them or names no instant (parseTimestamp then says why). Never an instant parseTimestamp would not give.
 */
export function timestampMillis(text: string): number {
  const length = text.length;
  if (length < 16 || text.charCodeAt(4) !== MINUS || text.charCodeAt(7) !== MINUS) return Number.NaN;
  const separator = text.charCodeAt(10);
  if ((separator !== 0x54 && separator !== 0x20) || text.charCodeAt(13) !== 0x3a) return Number.NaN;
  const century = twoDigits(text, 0);
  const yearInCentury = twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  if (century < 0 || yearInCentury < 0 || month < 0 || day < 0 || hour < 0 || minute < 0) return Number.NaN;
  let at = 16;
  let second = 0;
  let millis = 0;
  if (at < length && text.charCodeAt(at) === 0x3a) {
    second = at + 3 <= length ? twoDigits(text, at + 1) : -1;
    if (second < 0) return Number.NaN;
    at += 3;
    if (at < length && text.charCodeAt(at) === DOT) {
      at += 1;
      const from = at;
      while (at < length && at - from < 7 && isDigit(text.charCodeAt(at))) at += 1;
      const digits = at - from;
      if (digits === 0 || digits > 6) return Number.NaN;
      for (let place = 0; place < 3; place += 1)
        millis = millis * 10 + (place < digits ? text.charCodeAt(from + place) - ZERO : 0);
    }
  }
  let offsetMinutes = 0;
  if (at < length) {
    const sign = text.charCodeAt(at);
    if (sign === 0x5a) {
      if (at + 1 !== length) return Number.NaN;
    } else if (sign === 0x2b || sign === MINUS) {
      const hours = at + 3 <= length ? twoDigits(text, at + 1) : -1;
      if (hours < 0) return Number.NaN;
      at += 3;
      let minutes = 0;
      if (at < length) {
        if (text.charCodeAt(at) === 0x3a) at += 1;
        minutes = at + 2 === length ? twoDigits(text, at) : -1;
        if (minutes < 0) return Number.NaN;
      }
      if (minutes > 59 || hours * 60 + minutes > 14 * 60) return Number.NaN;
      offsetMinutes = sign === MINUS ? -(hours * 60 + minutes) : hours * 60 + minutes;
    } else {
      return Number.NaN;
    }
  }
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const days = dayNumber(century * 100 + yearInCentury, month, day);
  if (Number.isNaN(days)) return Number.NaN;
  return days * 86_400_000 + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
}

/** The last calendar day timestampMillis read (rows of a batch share a few days), and its day number. */
const lastDay = { key: -1, days: 0 };

/**
 * Days since 1970-01-01 of a calendar day (proleptic Gregorian, as Date.UTC and setUTCFullYear count them), NaN
 * when there is no such day.
 */
function dayNumber(year: number, month: number, day: number): number {
  const key = (year * 100 + month) * 100 + day;
  if (key === lastDay.key) return lastDay.days;
  if (!isCalendarDate(year, month, day)) return Number.NaN;
  // Days from civil (H. Hinnant): years counted from March, so the leap day ends a year.
  const shifted = month <= 2 ? year - 1 : year;
  const era = Math.floor(shifted / 400);
  const yearOfEra = shifted - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  const days = era * 146_097 + dayOfEra - 719_468;
  lastDay.key = key;
  lastDay.days = days;
  return days;
}

/** Two decimal digits at `at` as a number, -1 when either is not a digit. */
function twoDigits(text: string, at: number): number {
  const high = text.charCodeAt(at) - ZERO;
  const low = text.charCodeAt(at + 1) - ZERO;
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : -1;
}

/** A timestamp column's check: the common forms read by hand, anything else by the pattern (and its reason). */
function timestampTextCheck(what: string): ValueCheck<string> {
  return (text, limits) => {
    const epochMs = timestampMillis(text);
    if (!Number.isNaN(epochMs)) return inWindow(epochMs, limits) ?? text;
    const parsed = parseTimestamp(text);
    if ('reason' in parsed) return { reason: `expected ${what}: ${parsed.reason}` };
    return inWindow(parsed.epochMs, limits) ?? text;
  };
}

/**
 * The check of a timestamp given by its instant rather than its text, for a text its caller made from it (the
 * toISOString of a whole millisecond from 1970 to 9999, which the text's check reads back to the same instant):
 * the time window alone. Null when it passes.
 */
export function checkInstant(epochMs: number, limits: ValueLimits): Rejection | null {
  return inWindow(epochMs, limits);
}

function checkDateText(text: string, limits: ValueLimits): string | Rejection {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!match) return EXPECTED_DATE;
  const [year, month, day] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  if (!isCalendarDate(year, month, day))
    return { reason: 'expected a date YYYY-MM-DD: no such calendar day' };
  return inWindow(utcMillis(year, month, day, 0, 0, 0, 0), limits) ?? text;
}

function inWindow(epochMs: number, limits: ValueLimits): Rejection | null {
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
  if (!text.includes('e')) return text;
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
