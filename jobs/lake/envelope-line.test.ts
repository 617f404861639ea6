import { isAscii } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventLineReader, LineBytes } from './envelope-line.ts';
import { envelopeOf, type RawEnvelope } from './raw-batch.ts';

const NAMES = ['event_id', 'occurred_at', 'customer_id', 'order_total', 'is_test'];

/** The line stream-ingest writes for a message (raw-batch.ts: byte for byte JSON.stringify of its envelope). */
const lineOf = (
  value: string | Buffer,
  timestamp = 1_790_291_773_000,
  partition = 2,
  offset = 30_348,
): string =>
  JSON.stringify(
    envelopeOf({
      topic: 'clickstream',
      partition,
      offset,
      key: 'k-1',
      value: typeof value === 'string' ? Buffer.from(value) : value,
      timestamp,
    }),
  );

/**
 * The line read as validate reads it: its UTF-8 bytes, with its text when all ASCII (`decoded`: without, so each
 * value is decoded from its bytes).
 */
function readLine(reader: EventLineReader, line: string, decoded = false) {
  const bytes = Buffer.from(line);
  return reader.read(new LineBytes(bytes, !decoded && isAscii(bytes) ? line : null), 0, bytes.length);
}

/** A line read by a reader of its own (the next test's lines are of other partitions, topics and heads). */
const read = (line: string) => readLine(new EventLineReader(NAMES, 1_048_576), line);

/** What parsing the line twice gives, in EventLineReader's terms. */
function parsedTwice(line: string) {
  const envelope = JSON.parse(line) as RawEnvelope;
  const event = JSON.parse(envelope.value as string) as Record<string, unknown>;
  return {
    partition: String(envelope.partition),
    offset: String(envelope.offset),
    timestamp: envelope.timestamp,
    values: NAMES.map((name) => event[name]),
    rescued: Object.keys(event).some((name) => !NAMES.includes(name))
      ? Object.fromEntries(Object.entries(event).filter(([name]) => !NAMES.includes(name)))
      : null,
  };
}

describe('EventLineReader', () => {
  it('gives what the two JSON parses give, or nothing, for any event', () => {
    const plain = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', 'é', '😀', ' ', '/', '{', '}', ',', ':', '-', '1', 'T') }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
    );
    const hostile = fc.oneof(
      fc.string(),
      fc.string({ unit: fc.constantFrom('a', '"', '\\', '\n', '\u0001', '\u2028', '\ud800') }),
      fc.jsonValue(),
    );
    const entry = fc.oneof(
      {
        weight: 9,
        arbitrary: fc.tuple(
          fc.constantFrom(...NAMES, 'extra', 'x2', '9', 'é'),
          plain,
          fc.constantFrom('', ' '),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(
          fc.constantFrom(...NAMES, 'extra', '__proto__', 'event_id"', 'event_id\\'),
          hostile,
          fc.constantFrom('', ' ', '\n', '\t'),
        ),
      },
    );
    let read_ = 0;
    // One reader for every line: its envelope head is matched whole while the partition stays the same.
    const reader = new EventLineReader(NAMES, 1_048_576);
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 7 }),
        fc.constantFrom('', ' ', '\n'),
        fc.oneof(fc.integer({ min: -1e15, max: 1e16 }), fc.constant(Number.NaN)),
        fc.constantFrom(0, 0, 0, 1, 2 ** 31, 2 ** 53),
        (entries, around, timestamp, partition) => {
          const body = entries.map(
            ([key, item, space]) => `${JSON.stringify(key)}:${space}${JSON.stringify(item)}`,
          );
          const line = lineOf(`${around}{${body.join(',')}}${around}`, timestamp, partition);
          const fast = readLine(reader, line);
          if (fast) {
            read_ += 1;
            expect(fast).toEqual(parsedTwice(line));
            // In the same order too (toEqual does not look at the order of keys).
            expect(JSON.stringify(fast.rescued)).toBe(JSON.stringify(parsedTwice(line).rescued));
          }
          // Decoded value by value, as a chunk with a character beyond ASCII is read: the same.
          expect(readLine(reader, line, true)).toEqual(fast);
        },
      ),
      // Seeded: the share read fast varies from run to run (about 15%), and the count below must not flake.
      { numRuns: 2000, seed: 20261207 },
    );
    // Many are read fast (doubles with an exponent, escapes, nesting and newlines are not): the comparison above is
    // what the test is about.
    expect(read_).toBeGreaterThan(200);
  });

  it('reads a damaged line only when both JSON parses give what it read', () => {
    // A character anywhere in a line stream-ingest wrote: a control character (JSON has none raw in a string, and
    // the reader no longer relies on a scan of the whole text for them), a quote, a backslash, a brace.
    const damage = fc.constantFrom('\u0000', '\u0001', '\t', '\u001f', '"', '\\', '}', ' ', '\u007f');
    const reader = new EventLineReader(NAMES, 1_048_576);
    const event =
      '{"event_id":"e-1","occurred_at":"2026-09-24T23:16:13Z","customer_id":863,"order_total":-12.5,"is_test":false}';
    const line = lineOf(event);
    let read_ = 0;
    fc.assert(
      fc.property(fc.nat(line.length), damage, (at, character) => {
        const damaged = `${line.slice(0, at)}${character}${line.slice(at)}`;
        const fast = readLine(reader, damaged);
        if (fast) {
          read_ += 1;
          expect(fast).toEqual(parsedTwice(damaged));
        }
      }),
      { numRuns: 3000, seed: 20261208 },
    );
    // Spaces inside the event, and the like, are read; the comparison above is what the test is about.
    expect(read_).toBeGreaterThan(0);
    for (const control of ['\u0000', '\u0001', '\t', '\u001f']) {
      for (const inside of ['"e-1', '"clickstream', '"k-1']) {
        const damaged = line.replace(inside, `${inside}${control}`);
        expect(damaged).not.toBe(line);
        expect(() => JSON.parse(damaged)).toThrow();
        expect(readLine(reader, damaged), JSON.stringify(damaged)).toBeNull();
      }
    }
  });

  it('reads the common event: declared fields, plain strings, numbers, booleans and null', () => {
    const text =
      '{"event_id":"e-1","occurred_at":"2026-09-24T23:16:13Z","customer_id":863,"order_total":-12.5,"is_test":false}';
    expect(read(lineOf(text))).toEqual(parsedTwice(lineOf(text)));
    // Declared fields in any order, spaces, absent fields, a repeated field (the last one counts, as JSON.parse has it).
    const shuffled = ' { "customer_id" : null , "event_id":"a", "event_id":"b" } ';
    expect(read(lineOf(shuffled))?.values).toEqual(['b', undefined, null, undefined, undefined]);
    expect(read(lineOf(text, Number.NaN))?.timestamp).toBeNull();
  });

  it('reads undeclared plain fields as JSON.parse gives them, in their order', () => {
    const text =
      '{"event_id":"e-1","coupon_code":"XMAS","event_id":"e-2","ab":null,"coupon_code":"é","n":-1.5}';
    const fast = read(lineOf(text));
    expect(fast).toEqual(parsedTwice(lineOf(text)));
    expect(fast?.values[0]).toBe('e-2');
    expect(Object.entries(fast?.rescued ?? {})).toEqual([
      ['coupon_code', 'é'],
      ['ab', null],
      ['n', -1.5],
    ]);
    expect(read(lineOf('{"event_id":"e"}'))?.rescued).toBeNull();
    // An object would take `__proto__` as its prototype and put all-digit names first: parsed instead.
    for (const name of ['__proto__', '7', '01'])
      expect(read(lineOf(`{"event_id":"e","b":1,${JSON.stringify(name)}:2}`)), name).toBeNull();
  });

  it('leaves everything else to JSON.parse', () => {
    const leftOver = [
      '{"event_id":"tab\\there"}', // an escape inside a string
      '{"event_id":"quote \\" inside"}',
      '{"event_id":"e","nested":{"a":1}}', // a nested undeclared field
      '{"event_id":"e","customer_id":{"a":1}}', // a nested value
      '{"customer_id":1e3}', // an exponent
      '{"customer_id":01}', // not JSON
      '{"event_id":"e"}x',
      '\ufeff{"event_id":"e"}', // a byte-order mark
      '[1]',
      '{"event_id":"e",}',
      '{\n"event_id":"e"}', // whitespace other than spaces
    ];
    for (const text of leftOver) expect(read(lineOf(text)), text).toBeNull();
    expect(read(lineOf(Buffer.from([0x7b, 0xff, 0x7d])))).toBeNull(); // base64: not UTF-8
    expect(read(lineOf('{}', 1, -0 + 2 ** 53))).toBeNull(); // a partition whose text is not its number's
    const line = lineOf('{"event_id":"e"}');
    expect(read(line.replace('"partition":', '"partition": '))).toBeNull();
    expect(read(line.replace('"topic"', '"Topic"'))).toBeNull();
    // Damaged lines: JSON.parse fails them, so the fast reading must not pass them.
    const damaged = [
      line.replace('\\"e\\"', '\\"e\u0001\\"'), // a control character inside a string
      line.replace('{\\"event_id\\"', '{"event_id\\"'), // a quote left unescaped
      line.replace('\\"e\\"', '\\"e"x\\"'),
      line.slice(0, -1),
    ];
    for (const text of damaged) {
      expect(text).not.toBe(line);
      expect(() => JSON.parse(text)).toThrow();
      expect(read(text), text).toBeNull();
    }
  });
});
