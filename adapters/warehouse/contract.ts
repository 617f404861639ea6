import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalStore } from '../storage/local.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { BulkLoadError, type SqlDatabase } from './sql-database.ts';

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

/** The behaviour every Postgres-wire backend must show; `open` gives a database the test may create tables in. */
export function sqlDatabaseContract(name: string, open: () => Promise<SqlDatabase>): void {
  describe(`SqlDatabase contract: ${name}`, () => {
    let db: SqlDatabase;
    let lake: ObjectStore;
    const table = `contract_${Math.random().toString(36).slice(2, 8)}`;
    beforeAll(async () => {
      db = await open();
      lake = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'copy-'))}`);
      await db.exec(`create table ${table} (id integer, label varchar(1000), note varchar(1000))`);
    });
    afterAll(async () => {
      await db.exec(`drop table if exists ${table}`);
      await db.close();
    });

    it('bulk-loads CSV with commas, quotes, newlines, unicode, empty strings and NULLs', async () => {
      const csv = [
        'id,label,note',
        '1,"a, b","say ""hi"""',
        '2,"line one\nline two",',
        '3,"日本語 ✓ émoji 🚀",""',
        '4,,plain',
        '',
      ].join('\n');
      await lake.put('copy/rows.csv', csv);
      const loaded = await db.copyFromCsv(table, ['id', 'label', 'note'], {
        store: lake,
        key: 'copy/rows.csv',
      });
      expect(loaded).toBe(4);
      const rows = await db.query<{ id: number; label: string | null; note: string | null }>(
        `select id, label, note from ${table} order by id`,
      );
      expect(rows).toEqual([
        { id: 1, label: 'a, b', note: 'say "hi"' },
        { id: 2, label: 'line one\nline two', note: null },
        { id: 3, label: '日本語 ✓ émoji 🚀', note: '' },
        { id: 4, label: null, note: 'plain' },
      ]);
    });

    it('streams a query out as CSV with a header, preserving NULL versus empty', async () => {
      const csv = await text(
        db.copyToCsv(`select id, label, note from ${table} where id in (2, 3) order by id`),
      );
      expect(csv).toBe('id,label,note\n2,"line one\nline two",\n3,日本語 ✓ émoji 🚀,""\n');
    });

    it('binds parameters, including NULL and dates', async () => {
      const [row] = await db.query<{ a: number; b: null; c: string }>(
        "select cast($1 as integer) + 1 as a, cast($2 as varchar) as b, to_char(cast($3 as timestamptz), 'YYYY-MM-DD') as c",
        [41, null, new Date('2026-01-02T03:04:05Z')],
      );
      expect(row).toEqual({ a: 42, b: null, c: '2026-01-02' });
    });

    it('gives the rows one statement counts (CREATE TABLE AS, INSERT, DELETE), null for DDL or several', async () => {
      const copy = `${table}_counted`;
      try {
        expect(await db.exec(`create table ${copy} as select n as id from generate_series(1, 3) as n`)).toBe(
          3,
        );
        expect(await db.exec(`create index on ${copy} (id)`)).toBeNull();
        await db.transaction(async (tx) => {
          expect(await tx.exec(`insert into ${copy} select id + 3 from ${copy}`)).toBe(3);
        });
        expect(
          await db.exec(`delete from ${copy} where id > 5; delete from ${copy} where id = 5`),
        ).toBeNull();
        expect(await db.exec(`delete from ${copy} where id > 10`)).toBe(0);
        expect(await db.query(`select id from ${copy} order by id`)).toEqual([
          { id: 1 },
          { id: 2 },
          { id: 3 },
          { id: 4 },
        ]);
      } finally {
        await db.exec(`drop table if exists ${copy}`);
      }
    });

    it('rolls a transaction back when its work fails', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`insert into ${table} (id, label) values (100, 'in tx')`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.query(`select id from ${table} where id = 100`)).toEqual([]);
    });

    it('names a refused row of a bulk load (table, line, column), outside a transaction and inside', async () => {
      // The first record spans lines 2-3, so the refused one ends on line 4: lines, not records, are counted.
      const csv = ['id,label,note', '7,"two\nlines",ok', `8,${'x'.repeat(1001)},too long`, '9,fine,ok', ''];
      await lake.put('copy/refused.csv', csv.join('\n'));
      const source = { store: lake, key: 'copy/refused.csv' };
      const columns = ['id', 'label', 'note'];
      for (const load of [
        () => db.copyFromCsv(table, columns, source),
        () => db.transaction((tx) => tx.copyFromCsv(table, columns, source)),
      ]) {
        const error = await load().catch((failure: unknown) => failure);
        expect(error).toBeInstanceOf(BulkLoadError);
        expect(error).toMatchObject({ table, line: 4, column: 'label', code: '22001' });
        expect((error as BulkLoadError).object.key).toBe('copy/refused.csv');
        expect((error as Error).message).toMatch(/value too long for type character varying\(1000\)/);
      }
      expect(await db.query(`select id from ${table} where id in (7, 8, 9)`)).toEqual([]);
      expect(await db.query('select 1 as ok')).toEqual([{ ok: 1 }]);
    });

    it('returns the same JS shapes for every type the jobs read', async () => {
      const [row] = await db.query(
        `select cast(42 as integer) as int4, cast(7 as smallint) as int2, cast(9000000000 as bigint) as int8,
           count(*) as count_all, cast(count(*) as integer) as count_int,
           cast('1234.50' as numeric(12, 2)) as amount, cast(0.5 as double precision) as ratio,
           cast('2026-01-02 03:04:05.678+00' as timestamptz) as at_tz,
           cast('2026-01-02 03:04:05' as timestamp) as at_local, cast('2026-01-02' as date) as day,
           true as flag, cast('x' as varchar(8)) as label, cast(null as integer) as missing
         from ${table} where id = 1`,
      );
      expect(row).toEqual({
        int4: 42,
        int2: 7,
        int8: 9_000_000_000,
        count_all: 1,
        count_int: 1,
        amount: '1234.50',
        ratio: 0.5,
        at_tz: new Date('2026-01-02T03:04:05.678Z'),
        at_local: new Date('2026-01-02T03:04:05Z'),
        day: new Date('2026-01-02T00:00:00Z'),
        flag: true,
        label: 'x',
        missing: null,
      });
    });

    it('runs every connection in UTC, so cast(ts as date) is the UTC date', async () => {
      const rows = await Promise.all(
        Array.from({ length: 6 }, () =>
          db.query<{ zone: string; day: string }>(
            `select current_setting('TimeZone') as zone,
               to_char(cast(cast('2026-01-02 23:30:00-05' as timestamptz) as date), 'YYYY-MM-DD') as day`,
          ),
        ),
      );
      for (const [row] of rows) expect(row).toEqual({ zone: 'UTC', day: '2026-01-03' });
    });

    it('reuses the outer transaction for a nested one and rolls both back together', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`insert into ${table} (id, label) values (101, 'outer')`);
          await tx.transaction((inner) =>
            inner.query(`insert into ${table} (id, label) values (102, 'inner')`),
          );
          expect(await tx.query(`select id from ${table} where id in (101, 102) order by id`)).toEqual([
            { id: 101 },
            { id: 102 },
          ]);
          throw new Error('undo both');
        }),
      ).rejects.toThrow('undo both');
      expect(await db.query(`select id from ${table} where id in (101, 102)`)).toEqual([]);
    });

    it('loads many chunks of rows with embedded newlines completely', async () => {
      const lines = ['id,label,note'];
      for (let i = 0; i < 20_000; i += 1) lines.push(`${1000 + i},"multi\nline ${i}",x`);
      await lake.put('copy/many.csv', `${lines.join('\n')}\n`);
      const loaded = await db.transaction((tx) =>
        tx.copyFromCsv(table, ['id', 'label', 'note'], { store: lake, key: 'copy/many.csv' }),
      );
      expect(loaded).toBe(20_000);
      const [count] = await db.query<{ n: number }>(
        `select cast(count(*) as integer) as n from ${table} where id >= 1000`,
      );
      expect(count?.n).toBe(20_000);
    });

    it('streams a large result out in several chunks, every row intact and in order', async () => {
      let chunks = 0;
      let csv = '';
      for await (const chunk of db.copyToCsv(`select id, label from ${table} where id >= 1000 order by id`)) {
        chunks += 1;
        csv += chunk.toString();
      }
      expect(chunks).toBeGreaterThan(1);
      expect(csv.startsWith('id,label\n1000,"multi\nline 0"\n1001,"multi\nline 1"\n')).toBe(true);
      expect(csv.endsWith('20999,"multi\nline 19999"\n')).toBe(true);
      expect(csv.split('\n').length).toBe(1 + 2 * 20_000 + 1);
    });
  });
}
