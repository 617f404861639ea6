import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Checked,
  type ColumnSpec,
  checkCsvCell,
  checkJsonValue,
  parseTimestamp,
  timestampMillis,
  type ValueLimits,
} from './column-types.ts';

/**
 * The checks as patterns, as they were written before they were read by hand: the hand-written checks must give
 * the same text or the same reason for every input.
 */
const reference = {
  integer(text: string, min: bigint, max: bigint, what: string): Checked {
    if (!/^-?\d{1,30}$/.test(text)) return { reason: 'expected an integer' };
    const value = BigInt(text);
    if (value < min || value > max) return { reason: `out of range for ${what} (${min} to ${max})` };
    return { text };
  },
  decimal(text: string, precision: number, scale: number): Checked {
    const match = /^-?(\d+)(?:\.(\d+))?$/.exec(text);
    if (!match) return { reason: 'expected a decimal number' };
    const whole = (match[1] as string).replace(/^0+/, '');
    const fraction = (match[2] ?? '').replace(/0+$/, '');
    if (whole.length > precision - scale)
      return {
        reason: `more than ${precision - scale} digits before the decimal point (numeric(${precision}, ${scale}))`,
      };
    if (fraction.length > scale)
      return { reason: `more than ${scale} decimal places (numeric(${precision}, ${scale}))` };
    return { text };
  },
};

const limits: ValueLimits = {
  earliest: new Date('2000-01-01T00:00:00Z'),
  maxFutureSeconds: 86_400,
  now: new Date('2026-10-02T00:00:00Z'),
};
const column = (type: ColumnSpec['type'], shape: Partial<ColumnSpec> = {}): ColumnSpec => ({
  name: 'c',
  type,
  ...shape,
});

const digitsAndSigns = fc.string({ unit: fc.constantFrom('0', '1', '2', '7', '9', '-', '.', ' ', 'e', '+') });

describe('column checks read by hand', () => {
  it('read integers as the pattern and BigInt do, in every range', () => {
    const int = column('int');
    const bigint = column('bigint');
    fc.assert(
      fc.property(
        fc.oneof(
          digitsAndSigns,
          fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
          fc.integer().map(String),
        ),
        (text) => {
          expect(checkCsvCell(int, text, limits)).toEqual(
            reference.integer(text, -2_147_483_648n, 2_147_483_647n, 'a 32-bit integer'),
          );
          expect(checkCsvCell(bigint, text, limits)).toEqual(
            reference.integer(text, -(2n ** 63n), 2n ** 63n - 1n, 'a 64-bit integer'),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('read decimals as the pattern does, in numeric(precision, scale)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          digitsAndSigns,
          fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
          fc
            .tuple(fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), fc.nat(99_999))
            .map(([whole, fraction]) => `${whole}.${String(fraction).padStart(5, '0')}`),
        ),
        fc.constantFrom([12, 2], [18, 8], [3, 0], [5, 5]),
        (text, [precision, scale]) => {
          const numeric = column('numeric', { precision, scale });
          expect(checkCsvCell(numeric, text, limits)).toEqual(
            reference.decimal(text, precision as number, scale as number),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('read JSON integers as the text of the number', () => {
    const jsonInteger = (value: number): Checked => {
      if (!Number.isInteger(value)) return { reason: 'expected an integer' };
      if (!Number.isSafeInteger(value))
        return { reason: 'integer beyond ±2^53 cannot be read exactly from JSON' };
      return reference.integer(String(value), -2_147_483_648n, 2_147_483_647n, 'a 32-bit integer');
    };
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double(), fc.maxSafeInteger(), fc.constant(-0)), (value) => {
        expect(checkJsonValue(column('int'), value, limits)).toEqual(jsonInteger(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('read timestamps to the instant the ISO-8601 pattern gives, or leave them to it', () => {
    const piece = fc.constantFrom(
      ...['0', '1', '2', '5', '9', '00', '12', '29', '30', '31', '59', '60', '99'],
      ...[
        '-',
        ':',
        'T',
        ' ',
        '.',
        'Z',
        '+',
        't',
        '2026-',
        '0000-',
        '2024-02-',
        '1999-12-31',
        '+05:30',
        '-14:00',
      ],
      ...['+1401', '.1234567', '.123'],
    );
    const nearTimestamp = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.constantFrom('T', ' ', 't'),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 60 }),
        fc.option(fc.integer({ min: 0, max: 60 })),
        fc.option(fc.stringMatching(/^\d{1,8}$/)),
        fc.constantFrom(
          '',
          'Z',
          '+00',
          '-00',
          '+05:30',
          '+0530',
          '-14:00',
          '+14:01',
          '+15',
          '-1',
          '+05:3',
          ' ',
        ),
      )
      .map(([year, month, day, separator, hour, minute, second, fraction, offset]) => {
        const two = (value: number) => String(value).padStart(2, '0');
        const time = second === null ? '' : `:${two(second)}${fraction === null ? '' : `.${fraction}`}`;
        return `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}${separator}${two(hour)}:${two(minute)}${time}${offset}`;
      });
    fc.assert(
      fc.property(
        fc.oneof(
          nearTimestamp,
          fc.array(piece, { maxLength: 9 }).map((pieces) => pieces.join('')),
        ),
        (text) => {
          const parsed = parseTimestamp(text);
          const epochMs = timestampMillis(text);
          // Never an instant the pattern does not give; and every instant it gives is read by hand too.
          if ('reason' in parsed) expect(epochMs).toBeNaN();
          else expect(epochMs).toBe(parsed.epochMs);
        },
      ),
      { numRuns: 5000 },
    );
    // Record times as the stream column stages them (toISOString) read back to themselves.
    for (const epochMs of [0, 1, 951_782_400_000, 1_790_291_773_123, Date.UTC(9999, 11, 31, 23, 59, 59, 999)])
      expect(timestampMillis(new Date(epochMs).toISOString())).toBe(epochMs);
  });
});
