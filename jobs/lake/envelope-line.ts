/**
 * Reads a raw stream line (an envelope as stream-ingest writes it, raw-batch.ts) straight into the event's declared
 * fields, in one pass and without the two JSON.parse calls (the envelope, then the event text inside it) or an object
 * per event. It reads only the common case, and says so only when the answer is exactly what the two parses give:
 * the envelope's fields in stream-ingest's order, the event a JSON object of declared fields whose values are
 * strings without escapes, plain numbers, booleans or null, with spaces as its only whitespace. Anything else (a
 * nested value, an escape, an exponent, an undeclared field, a base64 value, a damaged line) reads as null, and
 * the caller parses the line as JSON.
 */

/** An envelope line's stream position and its event's values by declared position (undefined: absent). */
export interface EventLine {
  /** The partition and offset as their JSON text (String of the parsed number). */
  partition: string;
  offset: string;
  /** The record time in epoch milliseconds, null when the envelope has none. */
  timestamp: number | null;
  values: unknown[];
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

/** Whether the text holds a control character other than the line ends `\n` and `\r` (EventLineReader). */
export function hasControlCharacters(text: string): boolean {
  return CONTROL_CHARACTER.test(text);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters JSON never has raw inside a string.
const CONTROL_CHARACTER = /[\u0000-\u0009\u000b\u000c\u000e-\u001f]/;

/**
 * Reads the lines of one raw object (one topic and partition) against an event's declared fields: a line's stream
 * position and event values, or null when it is not the common case (see the module). The envelope's head, up to
 * the offset, is read once and then matched whole on the lines after it.
 */
export class EventLineReader {
  /** Field name to its position in the contract. */
  readonly #index: ReadonlyMap<string, number>;
  /** Each name followed by the escaped quote that ends it in the envelope (`event_id\"`), by position. */
  readonly #quoted: readonly string[];
  readonly #maxValue: number;
  /** `{"topic":…,"partition":…,"offset":` of the last line read whole, and its partition's text. */
  #head = '';
  #partition = '';

  /** `maxValue` bounds the event text's length (longer ones are for the caller's size check). */
  constructor(names: readonly string[], maxValue: number) {
    this.#index = new Map(names.map((name, position) => [name, position]));
    this.#quoted = names.map((name) => `${name}\\"`);
    this.#maxValue = maxValue;
  }

  /**
   * The line text[from, to). The caller has checked that it holds no control character (hasControlCharacters):
   * its strings are then scanned for quotes and backslashes alone. Reading by offsets keeps to the chunk's one
   * flat string.
   */
  read(text: string, from: number, to: number): EventLine | null {
    let at: number;
    let partition: string;
    if (this.#head !== '' && text.startsWith(this.#head, from)) {
      at = from + this.#head.length;
      partition = this.#partition;
    } else {
      if (!text.startsWith('{"topic":"', from)) return null;
      at = plainStringEnd(text, from + 10, to);
      if (at < 0 || !text.startsWith(',"partition":', at)) return null;
      at += 13;
      const end = integerEnd(text, at, to);
      if (end < 0 || !text.startsWith(',"offset":', end)) return null;
      partition = text.slice(at, end);
      at = end + 10;
      this.#head = text.slice(from, at);
      this.#partition = partition;
    }
    let end = integerEnd(text, at, to);
    if (end < 0) return null;
    const offset = text.slice(at, end);
    at = end;
    if (!text.startsWith(',"key":', at)) return null;
    at += 7;
    if (text.startsWith('null', at)) at += 4;
    else if (text.charCodeAt(at) === QUOTE) at = plainStringEnd(text, at + 1, to);
    else return null;
    if (at < 0 || !text.startsWith(',"timestamp":', at)) return null;
    at += 13;
    let timestamp: number | null = null;
    if (text.startsWith('null', at)) {
      at += 4;
    } else {
      end = integerEnd(text, at, to);
      if (end < 0) return null;
      timestamp = integerValue(text, at, end);
      at = end;
    }
    if (!text.startsWith(',"value":"', at)) return null;
    at += 10;
    // The value's text runs to the quote before the line's closing brace.
    const textEnd = to - 2;
    if (textEnd < at || textEnd - at > this.#maxValue) return null;
    if (text.charCodeAt(textEnd) !== QUOTE || text.charCodeAt(textEnd + 1) !== CLOSE) return null;
    const values = readEvent(text, at, textEnd, this.#index, this.#quoted);
    return values ? { partition, offset, timestamp, values } : null;
  }
}

/**
 * The end (after the closing quote) of a JSON string starting at `from`, past its opening quote, when it holds no
 * escape and ends before `to`; else -1. For the envelope's short strings (topic, key).
 */
function plainStringEnd(text: string, from: number, to: number): number {
  for (let at = from; at < to; at += 1) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) return at + 1;
    if (code === BACKSLASH) return -1;
  }
  return -1;
}

/** The end of `0|-?[1-9][0-9]{0,14}` at `from`: an integer whose String is its text (not `-0`); else -1. */
function integerEnd(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === MINUS;
  let at = negative ? from + 1 : from;
  const first = at < to ? text.charCodeAt(at) : -1;
  if (!isDigit(first) || (negative && first === ZERO)) return -1;
  at += 1;
  if (first !== ZERO) {
    const limit = at + 14;
    while (at < to && at < limit && isDigit(text.charCodeAt(at))) at += 1;
  }
  return at < to && isDigit(text.charCodeAt(at)) ? -1 : at;
}

/**
 * The event in line[from, to), the envelope's string without its quotes, where every quote of the event is `\"`:
 * its declared values by position, or null (see the module).
 */
function readEvent(
  line: string,
  from: number,
  to: number,
  index: ReadonlyMap<string, number>,
  quoted: readonly string[],
): unknown[] | null {
  const values: unknown[] = new Array(quoted.length);
  let at = skipSpaces(line, from, to);
  if (at >= to || line.charCodeAt(at) !== OPEN) return null;
  at = skipSpaces(line, at + 1, to);
  let next = 0;
  if (at < to && line.charCodeAt(at) === CLOSE) {
    at += 1;
  } else {
    for (;;) {
      // A name: `\"`, the name, `\"`; declared names are matched in order first.
      if (!escapedQuoteAt(line, at, to)) return null;
      at += 2;
      let position: number | undefined;
      const expected = quoted[next];
      if (expected !== undefined && at + expected.length <= to && line.startsWith(expected, at)) {
        position = next;
        at += expected.length;
      } else {
        const nameEnd = line.indexOf('\\', at);
        if (nameEnd < 0 || !escapedQuoteAt(line, nameEnd, to)) return null;
        position = index.get(line.slice(at, nameEnd));
        if (position === undefined) return null;
        at = nameEnd + 2;
      }
      next = position + 1;
      at = skipSpaces(line, at, to);
      if (at >= to || line.charCodeAt(at) !== COLON) return null;
      at = skipSpaces(line, at + 1, to);
      if (at >= to) return null;
      const code = line.charCodeAt(at);
      if (code === BACKSLASH) {
        if (!escapedQuoteAt(line, at, to)) return null;
        const start = at + 2;
        // The string ends at the next backslash, which must start `\"` (any other is an escape inside it), and
        // holds no quote of its own (that would end the envelope's string).
        const close = line.indexOf('\\', start);
        if (close < 0 || !escapedQuoteAt(line, close, to) || line.indexOf('"', start) !== close + 1)
          return null;
        values[position] = line.slice(start, close);
        at = close + 2;
      } else if (code === MINUS || isDigit(code)) {
        const end = numberEnd(line, at, to);
        if (end < 0) return null;
        values[position] = end - at <= 9 ? smallNumber(line, at, end) : Number(line.slice(at, end));
        at = end;
      } else if (line.startsWith('null', at) && at + 4 <= to) {
        values[position] = null;
        at += 4;
      } else if (line.startsWith('true', at) && at + 4 <= to) {
        values[position] = true;
        at += 4;
      } else if (line.startsWith('false', at) && at + 5 <= to) {
        values[position] = false;
        at += 5;
      } else {
        return null;
      }
      at = skipSpaces(line, at, to);
      if (at >= to) return null;
      const separator = line.charCodeAt(at);
      if (separator === CLOSE) {
        at += 1;
        break;
      }
      if (separator !== COMMA) return null;
      at = skipSpaces(line, at + 1, to);
    }
  }
  return skipSpaces(line, at, to) === to ? values : null;
}

/** The value of the integer text[from, to) of integerEnd (at most 15 digits: exact). */
function integerValue(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === MINUS;
  let value = 0;
  for (let at = negative ? from + 1 : from; at < to; at += 1) value = value * 10 + text.charCodeAt(at) - ZERO;
  return negative ? -value : value;
}

/**
 * Number(text) of a JSON number of at most 9 characters (numberEnd): an integer from its digits, exactly (below
 * 10^9); one with a fraction by Number.
 */
function smallNumber(line: string, from: number, to: number): number {
  const negative = line.charCodeAt(from) === MINUS;
  let value = 0;
  for (let at = negative ? from + 1 : from; at < to; at += 1) {
    const digit = line.charCodeAt(at) - ZERO;
    if (digit < 0 || digit > 9) return Number(line.slice(from, to));
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

function skipSpaces(line: string, from: number, to: number): number {
  let at = from;
  while (at < to && line.charCodeAt(at) === SPACE) at += 1;
  return at;
}

function escapedQuoteAt(line: string, at: number, to: number): boolean {
  return at + 1 < to && line.charCodeAt(at) === BACKSLASH && line.charCodeAt(at + 1) === QUOTE;
}

/**
 * The end of a JSON number `-?(0|[1-9][0-9]*)(\.[0-9]+)?` at `from` (its Number is JSON.parse's), -1 for anything
 * else (an exponent is left to JSON.parse).
 */
function numberEnd(line: string, from: number, to: number): number {
  let at = line.charCodeAt(from) === MINUS ? from + 1 : from;
  if (at >= to || !isDigit(line.charCodeAt(at))) return -1;
  if (line.charCodeAt(at) === ZERO) at += 1;
  else while (at < to && isDigit(line.charCodeAt(at))) at += 1;
  if (at < to && line.charCodeAt(at) === DOT) {
    at += 1;
    const fraction = at;
    while (at < to && isDigit(line.charCodeAt(at))) at += 1;
    if (at === fraction) return -1;
  }
  if (at < to) {
    const code = line.charCodeAt(at);
    if (isDigit(code) || code === 0x65 || code === 0x45) return -1;
  }
  return at;
}
