/**
 * Reads a raw stream line (an envelope as stream-ingest writes it, raw-batch.ts) straight into the event's declared
 * fields, in one pass and without the two JSON.parse calls (the envelope, then the event text inside it) or an object
 * per event. It reads only the common case, and says so only when the answer is exactly what the two parses give:
 * the envelope's fields in stream-ingest's order, the event a JSON object whose values are strings without escapes,
 * plain numbers, booleans or null, with spaces as its only whitespace. Anything else (a nested value, an escape, an
 * exponent, a base64 value, a damaged line) reads as null, and the caller parses the line as JSON.
 *
 * It reads the line's UTF-8 bytes: a byte of a typed array is one load, where a string's charCodeAt dispatches on
 * the string's kind at every character (scale 20's clickstream lines took ~2 µs an event so, ~1 µs by bytes). Every
 * byte of JSON's syntax is ASCII and no byte of a multi-byte character is, so the structure reads the same
 * in bytes; the values are cut from the chunk's text when it is all ASCII (the same offsets), else decoded.
 */
import { ENVELOPE_FIELDS } from './raw-batch.ts';

/** An envelope line's stream position and its event's values by declared position (undefined: absent). */
export interface EventLine {
  /** The partition and offset as their JSON text (String of the parsed number). */
  partition: string;
  offset: string;
  /** The record time in epoch milliseconds, null when the envelope has none. */
  timestamp: number | null;
  values: unknown[];
  /** The event's undeclared fields, as JSON.parse gives them; null when it has none. */
  rescued: Record<string, unknown> | null;
}

/**
 * Lines as read from a raw object: their UTF-8 bytes, and their text when every byte is ASCII (a character per
 * byte, so the text is cut at the bytes' offsets), else null (each value is decoded from its bytes: UTF-8 decoding
 * starts afresh at every ASCII byte, so a value decoded alone is the same text as in the decoded line).
 */
export class LineBytes {
  readonly bytes: Buffer;
  readonly text: string | null;

  constructor(bytes: Buffer, text: string | null) {
    this.bytes = bytes;
    this.text = text;
  }

  /** The text of bytes[from, to). */
  slice(from: number, to: number): string {
    return this.text !== null ? this.text.slice(from, to) : this.bytes.toString('utf8', from, to);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN = 0x7b;
const CLOSE = 0x7d;

const isDigit = (code: number) => code >= ZERO && code <= NINE;
const ascii = (text: string) => Buffer.from(text, 'latin1');

const {
  topic: TOPIC,
  partition: PARTITION,
  offset: OFFSET,
  key: KEY,
  timestamp: TIMESTAMP,
  value: VALUE,
} = ENVELOPE_FIELDS;
const NULL = ascii('null');
const TRUE = ascii('true');
const FALSE = ascii('false');

/**
 * Reads the lines of one raw object (one topic and partition) against an event's declared fields: a line's stream
 * position and event values, or null when it is not the common case (see the module). The envelope's head, up to
 * the offset, is read once and then matched whole on the lines after it.
 */
export class EventLineReader {
  /** Field name to its position in the contract. */
  readonly #index: ReadonlyMap<string, number>;
  /** Each name followed by the escaped quote that ends it in the envelope (`event_id\"`), by position, as UTF-8. */
  readonly #quoted: readonly Uint8Array[];
  readonly #maxValue: number;
  /** `{"topic":…,"partition":…,"offset":` of the last line read whole, and its partition's text. */
  #head: Uint8Array = new Uint8Array(0);
  #partition = '';

  /** `maxValue` bounds the event text's length in bytes (longer ones are for the caller's size check). */
  constructor(names: readonly string[], maxValue: number) {
    this.#index = new Map(names.map((name, position) => [name, position]));
    this.#quoted = names.map((name) => Buffer.from(`${name}\\"`));
    this.#maxValue = maxValue;
  }

  /**
   * The line lines.bytes[from, to). A line is read only when every byte was looked at: its strings are scanned for
   * a control character too (JSON has none raw in a string; every other part is matched to exact text, digits or
   * spaces), so no scan of the whole chunk is needed.
   */
  read(lines: LineBytes, from: number, to: number): EventLine | null {
    const bytes = lines.bytes;
    let at: number;
    let partition: string;
    if (this.#head.length > 0 && bytesAt(bytes, from, to, this.#head)) {
      at = from + this.#head.length;
      partition = this.#partition;
    } else {
      if (!bytesAt(bytes, from, to, TOPIC) || !quoteAt(bytes, from + TOPIC.length, to)) return null;
      at = plainStringEnd(bytes, from + TOPIC.length + 1, to);
      if (at < 0 || !bytesAt(bytes, at, to, PARTITION)) return null;
      at += PARTITION.length;
      const end = integerEnd(bytes, at, to);
      if (end < 0 || !bytesAt(bytes, end, to, OFFSET)) return null;
      partition = lines.slice(at, end);
      at = end + OFFSET.length;
      this.#head = Buffer.from(bytes.subarray(from, at));
      this.#partition = partition;
    }
    let end = integerEnd(bytes, at, to);
    if (end < 0) return null;
    const offset = lines.slice(at, end);
    at = end;
    if (!bytesAt(bytes, at, to, KEY)) return null;
    at += KEY.length;
    if (bytesAt(bytes, at, to, NULL)) at += NULL.length;
    else if (quoteAt(bytes, at, to)) at = plainStringEnd(bytes, at + 1, to);
    else return null;
    if (at < 0 || !bytesAt(bytes, at, to, TIMESTAMP)) return null;
    at += TIMESTAMP.length;
    let timestamp: number | null = null;
    if (bytesAt(bytes, at, to, NULL)) {
      at += NULL.length;
    } else {
      end = integerEnd(bytes, at, to);
      if (end < 0) return null;
      timestamp = integerValue(bytes, at, end);
      at = end;
    }
    if (!bytesAt(bytes, at, to, VALUE) || !quoteAt(bytes, at + VALUE.length, to)) return null;
    at += VALUE.length + 1;
    // The value's text runs to the quote before the line's closing brace.
    const textEnd = to - 2;
    if (textEnd < at || textEnd - at > this.#maxValue) return null;
    if (bytes[textEnd] !== QUOTE || bytes[textEnd + 1] !== CLOSE) return null;
    const fields = readEvent(lines, at, textEnd, this.#index, this.#quoted);
    return fields ? { partition, offset, timestamp, values: fields.values, rescued: fields.rescued } : null;
  }
}

/** Whether `word` is at bytes[at], before `to`. */
function bytesAt(bytes: Uint8Array, at: number, to: number, word: Uint8Array): boolean {
  if (at + word.length > to) return false;
  for (let index = 0; index < word.length; index += 1) if (bytes[at + index] !== word[index]) return false;
  return true;
}

/**
 * The end (after the closing quote) of a JSON string starting at `from`, past its opening quote, when it holds no
 * escape or control character and ends before `to`; else -1. For the envelope's short strings (topic, key).
 */
function plainStringEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let at = from; at < to; at += 1) {
    const code = bytes[at] as number;
    if (code === QUOTE) return at + 1;
    if (code === BACKSLASH || code < SPACE) return -1;
  }
  return -1;
}

/** The end of `0|-?[1-9][0-9]{0,14}` at `from`: an integer whose String is its text (not `-0`); else -1. */
function integerEnd(bytes: Uint8Array, from: number, to: number): number {
  const negative = bytes[from] === MINUS;
  let at = negative ? from + 1 : from;
  const first = at < to ? (bytes[at] as number) : -1;
  if (!isDigit(first) || (negative && first === ZERO)) return -1;
  at += 1;
  if (first !== ZERO) {
    const limit = at + 14;
    while (at < to && at < limit && isDigit(bytes[at] as number)) at += 1;
  }
  return at < to && isDigit(bytes[at] as number) ? -1 : at;
}

/** An event's declared values by position (undefined: absent), and its undeclared fields (null: none). */
interface EventFields {
  values: unknown[];
  rescued: Record<string, unknown> | null;
}

/**
 * The event in the line's bytes[from, to), the envelope's string without its quotes, where every quote of the
 * event is `\"`: its fields, or null (see the module). An undeclared field is taken into `rescued` as JSON.parse
 * would have it, unless its name is `__proto__` (an object literal would take it as the prototype) or all digits
 * (an object orders such names first, not where they stand).
 */
function readEvent(
  lines: LineBytes,
  from: number,
  to: number,
  index: ReadonlyMap<string, number>,
  quoted: readonly Uint8Array[],
): EventFields | null {
  const bytes = lines.bytes;
  const values: unknown[] = new Array(quoted.length);
  let rescued: Record<string, unknown> | null = null;
  let at = skipSpaces(bytes, from, to);
  if (at >= to || bytes[at] !== OPEN) return null;
  at = skipSpaces(bytes, at + 1, to);
  let next = 0;
  if (at < to && bytes[at] === CLOSE) {
    at += 1;
  } else {
    for (;;) {
      // A name: `\"`, the name, `\"`; declared names are matched in order first.
      if (!escapedQuoteAt(bytes, at, to)) return null;
      at += 2;
      let position: number | undefined;
      let undeclared = '';
      const expected = quoted[next];
      if (expected !== undefined && bytesAt(bytes, at, to, expected)) {
        position = next;
        next += 1;
        at += expected.length;
      } else {
        const nameEnd = eventStringEnd(bytes, at, to);
        if (nameEnd < 0) return null;
        const name = lines.slice(at, nameEnd);
        position = index.get(name);
        if (position !== undefined) next = position + 1;
        else if (name === '__proto__' || ALL_DIGITS.test(name)) return null;
        else undeclared = name;
        at = nameEnd + 2;
      }
      at = skipSpaces(bytes, at, to);
      if (at >= to || bytes[at] !== COLON) return null;
      at = skipSpaces(bytes, at + 1, to);
      if (at >= to) return null;
      const code = bytes[at] as number;
      let value: unknown;
      if (code === BACKSLASH) {
        if (!escapedQuoteAt(bytes, at, to)) return null;
        const start = at + 2;
        const close = eventStringEnd(bytes, start, to);
        if (close < 0) return null;
        value = lines.slice(start, close);
        at = close + 2;
      } else if (code === MINUS || isDigit(code)) {
        const end = numberEnd(bytes, at, to);
        if (end < 0) return null;
        value = end - at <= 9 ? smallNumber(lines, at, end) : Number(lines.slice(at, end));
        at = end;
      } else if (bytesAt(bytes, at, to, NULL)) {
        value = null;
        at += NULL.length;
      } else if (bytesAt(bytes, at, to, TRUE)) {
        value = true;
        at += TRUE.length;
      } else if (bytesAt(bytes, at, to, FALSE)) {
        value = false;
        at += FALSE.length;
      } else {
        return null;
      }
      if (position !== undefined) {
        values[position] = value;
      } else {
        rescued ??= {};
        rescued[undeclared] = value;
      }
      at = skipSpaces(bytes, at, to);
      if (at >= to) return null;
      const separator = bytes[at];
      if (separator === CLOSE) {
        at += 1;
        break;
      }
      if (separator !== COMMA) return null;
      at = skipSpaces(bytes, at + 1, to);
    }
  }
  return skipSpaces(bytes, at, to) === to ? { values, rescued } : null;
}

const ALL_DIGITS = /^[0-9]+$/;

/**
 * Where an event's string (or name) starting at `from` ends, at its closing `\"`: -1 when it holds an escape (any
 * other backslash), a quote of its own (that would end the envelope's string) or a control character (JSON.parse
 * fails it).
 */
function eventStringEnd(bytes: Uint8Array, from: number, to: number): number {
  let close = from;
  for (; close < to; close += 1) {
    const inside = bytes[close] as number;
    if (inside === BACKSLASH || inside === QUOTE || inside < SPACE) break;
  }
  return escapedQuoteAt(bytes, close, to) ? close : -1;
}

/** The value of the integer bytes[from, to) of integerEnd (at most 15 digits: exact). */
function integerValue(bytes: Uint8Array, from: number, to: number): number {
  const negative = bytes[from] === MINUS;
  let value = 0;
  for (let at = negative ? from + 1 : from; at < to; at += 1)
    value = value * 10 + (bytes[at] as number) - ZERO;
  return negative ? -value : value;
}

/**
 * Number(text) of a JSON number of at most 9 characters (numberEnd): an integer from its digits, exactly (below
 * 10^9); one with a fraction by Number.
 */
function smallNumber(lines: LineBytes, from: number, to: number): number {
  const bytes = lines.bytes;
  const negative = bytes[from] === MINUS;
  let value = 0;
  for (let at = negative ? from + 1 : from; at < to; at += 1) {
    const digit = (bytes[at] as number) - ZERO;
    if (digit < 0 || digit > 9) return Number(lines.slice(from, to));
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

function skipSpaces(bytes: Uint8Array, from: number, to: number): number {
  let at = from;
  while (at < to && bytes[at] === SPACE) at += 1;
  return at;
}

function quoteAt(bytes: Uint8Array, at: number, to: number): boolean {
  return at < to && bytes[at] === QUOTE;
}

function escapedQuoteAt(bytes: Uint8Array, at: number, to: number): boolean {
  return at + 1 < to && bytes[at] === BACKSLASH && bytes[at + 1] === QUOTE;
}

/**
 * The end of a JSON number `-?(0|[1-9][0-9]*)(\.[0-9]+)?` at `from` (its Number is JSON.parse's), -1 for anything
 * else (an exponent is left to JSON.parse).
 */
function numberEnd(bytes: Uint8Array, from: number, to: number): number {
  let at = bytes[from] === MINUS ? from + 1 : from;
  if (at >= to || !isDigit(bytes[at] as number)) return -1;
  if (bytes[at] === ZERO) at += 1;
  else while (at < to && isDigit(bytes[at] as number)) at += 1;
  if (at < to && bytes[at] === DOT) {
    at += 1;
    const fraction = at;
    while (at < to && isDigit(bytes[at] as number)) at += 1;
    if (at === fraction) return -1;
  }
  if (at < to) {
    const code = bytes[at] as number;
    if (isDigit(code) || code === 0x65 || code === 0x45) return -1;
  }
  return at;
}
