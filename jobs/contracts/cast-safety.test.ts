/**
 * Invariant 7, tried with generated boundary values: every value a contract passes, the silver cast of its column
 * accepts, on PostgreSQL and on PGlite, and casts to the very value the contract read (no calendar roll-over, no
 * rounding, no overflow). The casts are the ones the models use: `{{ cast_column(table.column) }}` rendered from
 * the same column definition the contract checks with.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import { openPostgres } from '../../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { expandMacros } from '../../sql/dialects/macros.ts';
import {
  type ColumnSpec,
  checkCsvCell,
  checkJsonValue,
  parseTimestamp,
  sqlColumnType,
  type ValueLimits,
} from './column-types.ts';
import { DATA_CONTRACTS, STREAM_COLUMN_SPECS } from './data-contracts.ts';

const NOW = new Date('2026-12-05T12:00:00Z');
/** The default window (as the jobs run) and a wide one, so the calendar rules meet centuries of dates too. */
const WINDOWS: Record<string, ValueLimits> = {
  default: { now: NOW, earliest: new Date('2000-01-01T00:00:00Z'), maxFutureSeconds: 86_400 },
  wide: { now: NOW, earliest: new Date('0001-01-01T00:00:00Z'), maxFutureSeconds: 8000 * 366 * 86_400 },
};

/** Every distinct column type the contracts declare (numeric by precision and scale). */
const SHAPES: ColumnSpec[] = (() => {
  const seen = new Map<string, ColumnSpec>();
  for (const spec of [...DATA_CONTRACTS.flatMap((contract) => contract.specs), ...STREAM_COLUMN_SPECS]) {
    const key = `${spec.type}:${spec.precision ?? ''}:${spec.scale ?? ''}`;
    if (!seen.has(key)) seen.set(key, { ...spec, name: 'value', nullable: false });
  }
  return [...seen.values()];
})();

const pad = (value: number, width: number) => String(value).padStart(width, '0');
const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });

const integerText = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom(
    '2147483647',
    '2147483648',
    '-2147483648',
    '-2147483649',
    '9223372036854775807',
    '9223372036854775808',
  ),
  fc.constantFrom('-9223372036854775808', '-9223372036854775809', '0', '-0', '007', '+1', ' 1', '1.0', ''),
  fc.tuple(fc.constantFrom('', '-'), digits(1, 22)).map(([sign, body]) => `${sign}${body}`),
);

const decimalText = fc.oneof(
  fc
    .tuple(fc.constantFrom('', '-'), digits(1, 14), fc.option(digits(0, 11), { nil: undefined }))
    .map(([sign, whole, fraction]) =>
      fraction === undefined ? `${sign}${whole}` : `${sign}${whole}.${fraction}`,
    ),
  fc.constantFrom(
    '9999999999.99',
    '10000000000.00',
    '99999999999',
    '0.005',
    '1.50',
    '1.500',
    '1e3',
    '.5',
    '5.',
    '-',
  ),
  fc.constantFrom('9999999999.99999999', '0.00000001', '0.000000001', '12.345678901'),
);

const timeOfDay = fc.record({
  hour: fc.integer({ min: 0, max: 25 }),
  minute: fc.integer({ min: 0, max: 61 }),
  second: fc.option(fc.integer({ min: 0, max: 61 }), { nil: undefined }),
  fraction: fc.option(digits(1, 8), { nil: undefined }),
  separator: fc.constantFrom('T', ' '),
  offset: fc.constantFrom(
    '',
    'Z',
    '+00',
    '-00',
    '+05:30',
    '-0930',
    '+14',
    '+14:00',
    '-14:00',
    '+15',
    '+05:60',
    '+1',
  ),
});

const calendarDay = fc.record({
  year: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1999, max: 2028 })),
  month: fc.integer({ min: 0, max: 13 }),
  day: fc.integer({ min: 0, max: 32 }),
});

const dateText = fc.oneof(
  calendarDay.map(({ year, month, day }) => `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`),
  fc.constantFrom(
    '2027-02-29',
    '2028-02-29',
    '2100-02-29',
    '2000-02-29',
    '2026-02-30',
    '2026-04-31',
    '2026-4-1',
  ),
);

const timestampText = fc.oneof(
  fc.tuple(calendarDay, timeOfDay).map(([day, time]) => {
    const seconds = time.second === undefined ? '' : `:${pad(time.second, 2)}`;
    const fraction = time.second !== undefined && time.fraction !== undefined ? `.${time.fraction}` : '';
    return `${pad(day.year, 4)}-${pad(day.month, 2)}-${pad(day.day, 2)}${time.separator}${pad(time.hour, 2)}:${pad(time.minute, 2)}${seconds}${fraction}${time.offset}`;
  }),
  fc.constantFrom(
    '2027-02-29T10:00:00Z',
    '2026-12-31 23:59:59.999999+00',
    '2026-12-31T24:00:00Z',
    '2026-06-30T23:59:60Z',
    '9999-12-31 00:00:00+00',
    '2026-11-01 10:00:00+00',
  ),
);

const textValue = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    'a\u0000b',
    '\ud800',
    'x\udfff',
    ' padded ',
    '\t',
    'é'.repeat(32_767),
    'é'.repeat(32_768),
    'x'.repeat(65_535),
  ),
);

const booleanText = fc.constantFrom('t', 'f', 'true', 'false', 'TRUE', 'T', '1', 'yes', '', ' t');

function textFor(spec: ColumnSpec): fc.Arbitrary<string> {
  switch (spec.type) {
    case 'int':
    case 'bigint':
      return integerText;
    case 'numeric':
      return decimalText;
    case 'date':
      return dateText;
    case 'timestamptz':
      return timestampText;
    case 'text':
      return textValue;
    case 'bool':
      return booleanText;
  }
}

function jsonFor(spec: ColumnSpec): fc.Arbitrary<unknown> {
  switch (spec.type) {
    case 'int':
    case 'bigint':
    case 'numeric':
      return fc.oneof(
        fc.integer(),
        fc.double({ noNaN: false }),
        fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 31 - 1, 2 ** 53, 1e21, 1e-7, 0.1 + 0.2, 9999999999.99, -0),
        fc.string({ maxLength: 4 }),
      );
    default:
      return fc.oneof(textFor(spec), fc.integer(), fc.boolean(), fc.constant(null));
  }
}

/** The cast a silver model runs for this column, on one value bound as a parameter. */
function castQuery(db: SqlDatabase, spec: ColumnSpec): string {
  const cast = expandMacros('{{ cast_column(probe.value) }}', db.dialect, {
    columnType: () => ({ kind: spec.type, sqlType: sqlColumnType(spec) }),
  });
  return `select ${cast} as typed from (select cast($1 as varchar(65535)) as value) probe`;
}

/** The cast value as text the test can compare exactly, whatever the driver makes of each type. */
function comparableQuery(db: SqlDatabase, spec: ColumnSpec): string {
  const inner = castQuery(db, spec);
  const shown =
    spec.type === 'timestamptz'
      ? 'cast(extract(epoch from typed) * 1000000 as varchar(40))'
      : spec.type === 'bool'
        ? "case when typed then 'true' else 'false' end"
        : 'cast(typed as varchar(65535))';
  return `select ${shown} as shown from (${inner}) cast_value`;
}

/** What the cast must give for a value the contract passed: the value the contract read, nothing else. */
function expected(spec: ColumnSpec, text: string): string {
  switch (spec.type) {
    case 'int':
    case 'bigint':
      return BigInt(text).toString();
    case 'numeric': {
      const negative = text.startsWith('-');
      const [whole = '0', fraction = ''] = text.replace('-', '').split('.');
      const scale = spec.scale ?? 0;
      const body = `${whole.replace(/^0+(?=\d)/, '')}${scale > 0 ? `.${fraction.replace(/0+$/, '').padEnd(scale, '0')}` : ''}`;
      return negative && /[1-9]/.test(body) ? `-${body}` : body;
    }
    case 'timestamptz': {
      const parsed = parseTimestamp(text);
      if ('reason' in parsed) throw new Error(`contract passed an unparsable timestamp ${text}`);
      return (BigInt(parsed.epochMs) * 1000n + BigInt(parsed.micros)).toString();
    }
    case 'date':
      return text;
    case 'bool':
      return String(text === 't' || text === 'true');
    case 'text':
      return text.replace(/^ +| +$/g, '');
  }
}

async function castAgrees(db: SqlDatabase, spec: ColumnSpec, text: string): Promise<void> {
  let rows: { shown: string | null }[];
  try {
    rows = await db.query<{ shown: string | null }>(comparableQuery(db, spec), [text]);
  } catch (error) {
    throw new Error(
      `${sqlColumnType(spec)}: the contract passed ${JSON.stringify(text)} but the cast failed: ${(error as Error).message}`,
    );
  }
  const shown = rows[0]?.shown ?? null;
  const want = expected(spec, text);
  // PostgreSQL writes epoch * 1e6 of a timestamptz as a numeric with a fraction of zeros.
  const normalised = spec.type === 'timestamptz' && shown !== null ? shown.replace(/\.0+$/, '') : shown;
  if (normalised !== want)
    throw new Error(
      `${sqlColumnType(spec)}: ${JSON.stringify(text)} cast to ${shown}, the contract read ${want}`,
    );
}

function engineCases(name: string, open: () => Promise<SqlDatabase>, runs: number) {
  describe(`contract-passed values cast cleanly on ${name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await open();
      await db.exec("set time zone 'UTC'");
    });
    afterAll(async () => {
      await db.close();
    });

    for (const spec of SHAPES) {
      for (const [windowName, limits] of Object.entries(WINDOWS)) {
        if (windowName === 'wide' && spec.type !== 'date' && spec.type !== 'timestamptz') continue;
        it(`${sqlColumnType(spec)} from CSV text (${windowName} window)`, async () => {
          let passed = 0;
          await fc.assert(
            fc.asyncProperty(textFor(spec), async (text) => {
              const checked = checkCsvCell(spec, text, limits);
              if (checked.reason !== undefined) return;
              passed += 1;
              await castAgrees(db, spec, checked.text);
            }),
            { numRuns: runs, seed: 42 },
          );
          expect(passed, 'the generators must reach passing values too').toBeGreaterThan(runs / 20);
        });
      }
      it(`${sqlColumnType(spec)} from JSON values`, async () => {
        await fc.assert(
          fc.asyncProperty(jsonFor(spec), async (value) => {
            const checked = checkJsonValue(spec, value, WINDOWS.default as ValueLimits);
            if (checked.reason !== undefined) return;
            await castAgrees(db, spec, checked.text);
          }),
          { numRuns: runs, seed: 7 },
        );
      });
    }
  });
}

engineCases('PostgreSQL', () => openPostgres(loadServiceEnv().TEST_PG_URL), 400);
engineCases('PGlite', () => openPglite('pglite://memory'), 250);
