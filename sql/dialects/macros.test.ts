import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { bronzeTableSql, expandMacros, keyedTableSql, MACROS, splitArguments } from './macros.ts';

const vars = {};

describe('expandMacros', () => {
  it('has no pii_hash: a keyed hash in SQL would spell the key in the statement log', () => {
    expect(Object.keys(MACROS)).not.toContain('pii_hash');
    expect(() => expandMacros('select {{ pii_hash(customer_id) }}', 'postgres')).toThrow(
      /pii_hash is gone: .*select the hash column derived during validation/,
    );
  });

  it('casts a bronze column to its declared type, and names what it cannot find', () => {
    const columnType = (table: string, column: string) =>
      table === 'orders'
        ? (
            {
              order_id: { kind: 'int', sqlType: 'integer' },
              ordered_at: { kind: 'timestamptz', sqlType: 'timestamptz' },
              is_gift: { kind: 'bool', sqlType: 'boolean' },
              channel: { kind: 'text', sqlType: 'varchar(65535)' },
            } as const
          )[column as 'order_id']
        : undefined;
    const cast = (reference: string, dialect: 'postgres' | 'redshift' = 'postgres') =>
      expandMacros(`{{ cast_column(${reference}) }}`, dialect, { columnType });
    expect(cast('orders.order_id')).toBe("cast(nullif(trim(order_id), '') as integer)");
    expect(cast('orders.channel')).toBe('trim(channel)');
    expect(cast('orders.ordered_at', 'redshift')).toBe(
      "cast(replace(replace(nullif(trim(ordered_at), ''), 'T', ' '), 'Z', '+00') as timestamptz)",
    );
    expect(cast('orders.is_gift')).toMatch(
      /^case when nullif\(trim\(is_gift\), ''\) in \('t', 'true'\) then true/,
    );
    expect(() => cast('orders.coupon')).toThrow(/bronze\.orders declares no column coupon/);
    expect(() => cast('order_id')).toThrow(/cast_column expects table\.column, got "order_id"/);
    expect(() => expandMacros('{{ cast_column(orders.order_id) }}', 'postgres')).toThrow(
      /needs vars\.columnType/,
    );
  });

  it('passes nested parentheses and commas inside arguments through', () => {
    expect(expandMacros('{{ days_between(min(a), coalesce(b, c)) }}', 'redshift')).toBe(
      'cast(datediff(day, min(a), coalesce(b, c)) as integer)',
    );
    expect(splitArguments("f(a, b), 'x, y', c")).toEqual(['f(a, b)', "'x, y'", 'c']);
  });

  it('refuses unknown macros, wrong arity and malformed calls', () => {
    expect(() => expandMacros('{{ sha(x) }}', 'postgres')).toThrow(/unknown macro \{\{ sha\(…\) \}\}/);
    expect(() => expandMacros('{{ add_days(x) }}', 'postgres')).toThrow(
      /add_days takes \(date, days\), got 1/,
    );
    expect(() => expandMacros('{{ add_days x }}', 'postgres')).toThrow(/malformed macro call/);
  });

  it('gives every helper a default spelling', () => {
    for (const [name, macro] of Object.entries(MACROS)) {
      expect(typeof macro.default, name).toBe('function');
    }
  });
});

describe('postgres spellings on PGlite', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openPglite('pglite://memory');
  });
  afterAll(async () => {
    await db.close();
  });

  const evaluate = async (expression: string, options = vars) => {
    const [row] = await db.query(`select ${expandMacros(expression, 'postgres', options)} as value`);
    return row?.value;
  };

  it('cast_column reads both ISO timestamp spellings and the boolean spellings the contracts pass', async () => {
    const columnType = (_table: string, column: string) =>
      column === 'flag'
        ? ({ kind: 'bool', sqlType: 'boolean' } as const)
        : ({ kind: 'timestamptz', sqlType: 'timestamptz' } as const);
    const cast = async (column: string, text: string) => {
      const expression = expandMacros(`{{ cast_column(probe.${column}) }}`, 'postgres', { columnType });
      const [row] = await db.query(
        `select ${expression} as value from (select cast($1 as varchar) as ${column}) probe`,
        [text],
      );
      return row?.value;
    };
    const iso = async (text: string) => ((await cast('at', text)) as Date).toISOString();
    expect(await iso('2026-11-01 10:00:00+00')).toBe('2026-11-01T10:00:00.000Z');
    expect(await iso('2026-11-01T10:00:00.000Z')).toBe('2026-11-01T10:00:00.000Z');
    expect(await iso('2026-11-01T12:00:00+02:00')).toBe('2026-11-01T10:00:00.000Z');
    expect(await cast('flag', 't')).toBe(true);
    expect(await cast('flag', ' false ')).toBe(false);
    expect(await cast('flag', '')).toBeNull();
  });

  it('hash32 is the first 8 hex digits of md5 as an unsigned integer (what Redshift strtol(…, 16) gives)', async () => {
    for (const text of ['42', '2026-09-01|EUR', 'ü']) {
      const md5 = createHash('md5').update(text, 'utf8').digest('hex');
      expect(Number(await evaluate(`{{ hash32('${text}') }}`)), text).toBe(
        Number.parseInt(md5.slice(0, 8), 16),
      );
    }
    expect(expandMacros('{{ hash32(k) }}', 'redshift')).toBe('strtol(substring(md5(k), 1, 8), 16)');
  });

  it('epoch_micros counts whole microseconds since 1970 UTC, exactly (what Redshift datediff(microsecond) gives)', async () => {
    for (const text of [
      '2026-11-01 12:00:00.123457+02',
      '1970-01-01 00:00:00+00',
      '2099-12-31 23:59:59.999999+00',
    ]) {
      const [seconds, fraction = ''] = (new Date(text.replace(/\.\d+/, '')).getTime() / 1000)
        .toString()
        .split('.');
      const micros =
        BigInt(seconds as string) * 1_000_000n + BigInt((/\.(\d+)/.exec(text)?.[1] ?? '').padEnd(6, '0'));
      expect(fraction).toBe('');
      expect(String(await evaluate(`{{ epoch_micros(cast('${text}' as timestamptz)) }}`)), text).toBe(
        String(micros),
      );
    }
    expect(expandMacros('{{ epoch_micros(t) }}', 'redshift')).toBe(
      "datediff(microsecond, cast('1970-01-01 00:00:00' as timestamp), cast(t as timestamp))",
    );
  });

  it('version_text prints a timestamp as UTC to the microsecond, and bytewise sorts hex like bytes', async () => {
    expect(await evaluate("{{ version_text(cast('2026-11-01 12:00:00.0000501+02' as timestamptz)) }}")).toBe(
      '2026-11-01 10:00:00.000050',
    );
    const [row] = await db.query<{ sorted: string }>(
      expandMacros(
        "select string_agg(k, ',' order by {{ bytewise(k) }}) as sorted from (values ('b'), ('A'), ('a'), ('0')) as t (k)",
        'postgres',
      ),
    );
    expect(row?.sorted).toBe('0,A,a,b');
    expect(expandMacros('{{ bytewise(k) }}', 'redshift')).toBe('k');
  });

  it('date helpers count days and second boundaries like Redshift dateadd/datediff', async () => {
    const day = (await evaluate("{{ add_days(cast('2026-02-28' as date), 1) }}")) as Date;
    expect(day.toISOString().slice(0, 10)).toBe('2026-03-01');
    expect(await evaluate("{{ days_between(cast('2026-11-01' as date), cast('2026-11-05' as date)) }}")).toBe(
      4,
    );
    const seconds = await evaluate(
      "{{ seconds_between(cast('2026-11-01 10:00:00.900+00' as timestamptz), cast('2026-11-01 10:00:01.100+00' as timestamptz)) }}",
    );
    expect(Number(seconds)).toBe(1);
  });
});

describe('bronzeTableSql', () => {
  const create =
    'create table if not exists bronze.orders (\n  order_id varchar(65535),\n  _batch_id varchar(128) not null\n);\n';
  it('indexes _batch_id and _ingested_at on PostgreSQL, in the table schema, replacing the older _batch_id index', () => {
    expect(bronzeTableSql('bronze.orders', create, 'postgres')).toBe(
      `${create.trim().slice(0, -1)};\n` +
        'create index if not exists orders__batch_arrival on bronze.orders (_batch_id, _ingested_at);\n' +
        'drop index if exists bronze.orders__batch_id',
    );
  });
  it('sorts by _batch_id on Redshift, which has no indexes', () => {
    expect(bronzeTableSql('bronze.orders', create, 'redshift')).toBe(
      `${create.trim().slice(0, -1)} compound sortkey (_batch_id)`,
    );
  });
});

describe('keyedTableSql', () => {
  const create = 'create table if not exists realtime.sessions (\n  session_id varchar(64) not null\n);';
  it('gives the key a unique index on PostgreSQL, and a sort key on Redshift', () => {
    expect(keyedTableSql('realtime.sessions', create, ['session_id'], 'postgres')).toBe(
      `${create.slice(0, -1)};\ncreate unique index if not exists sessions__key on realtime.sessions (session_id)`,
    );
    expect(keyedTableSql('realtime.sessions', create, ['session_id'], 'redshift')).toBe(
      `${create.slice(0, -1)} compound sortkey (session_id)`,
    );
  });
});
