import { parse as parsePostgresSql } from 'libpg-query';
import nodeSqlParser from 'node-sql-parser';
import { describe, expect, it } from 'vitest';
import { quarantinedIdentity } from '../contracts/source-keys.ts';
import { sourceTable } from '../contracts/source-tables.ts';
import { classifyKey, compareListings, type SourceKey, type WarehouseKey } from './compare.ts';
import {
  keyShapeOf,
  sourceListingSql,
  sourceSummarySql,
  warehouseListingSql,
  warehouseSummarySql,
} from './key-sql.ts';
import { keyPredicate } from './repair.ts';

const source = (keyText: string, version: string | null, keyHash = keyText): SourceKey => ({
  keyHash,
  keyText,
  version,
  keyValues: [keyText],
});
const warehouse = (
  keyText: string,
  version: string | null,
  deleted = false,
  keyHash = keyText,
): WarehouseKey => ({
  keyHash,
  keyText,
  version,
  deleted,
});
const V1 = '2026-09-01 10:00:00.000000';
const V2 = '2026-09-01 10:00:00.000001';

async function* listOf<T>(rows: T[]): AsyncGenerator<T> {
  yield* rows;
}

describe('classifyKey', () => {
  it('deletes a live warehouse key the source no longer has, and leaves an already deleted one alone', () => {
    expect(classifyKey(undefined, warehouse('1', V1))).toEqual(['deleted']);
    expect(classifyKey(undefined, warehouse('1', V1, true))).toEqual([]);
  });

  it('repairs a version at or below the watermark that the warehouse lacks or has older', () => {
    expect(classifyKey(source('1', V1), undefined)).toEqual(['late']);
    expect(classifyKey(source('1', V2), warehouse('1', V1))).toEqual(['late']);
    expect(classifyKey(source('1', V1), warehouse('1', V1))).toEqual([]);
  });

  it('leaves rows in flight (newer than the watermark, or no updated_at) to the next extract', () => {
    expect(classifyKey(source('1', null), undefined)).toEqual([]);
    expect(classifyKey(source('1', null), warehouse('1', V1))).toEqual([]);
    expect(classifyKey(source('1', null), warehouse('1', V1, true))).toEqual([]);
  });

  it('restores a deleted key that is back, repairing it too when its version is new', () => {
    expect(classifyKey(source('1', V1), warehouse('1', V1, true))).toEqual(['restored']);
    expect(classifyKey(source('1', V2), warehouse('1', V1, true))).toEqual(['restored', 'late']);
  });

  it('reports a source version older than the warehouse one without repairing it', () => {
    expect(classifyKey(source('1', V1), warehouse('1', V2))).toEqual(['regressed']);
  });
});

describe('compareListings', () => {
  it('merges the two md5-ordered listings key by key and caps the keys it keeps, not the counts', async () => {
    const differences = await compareListings(
      listOf([source('a', V1), source('b', V2), source('c', V1), source('e', V1)]),
      listOf([warehouse('b', V1), warehouse('c', V1), warehouse('d', V1), warehouse('f', V1)]),
      1,
    );
    expect(differences.compared).toBe(6);
    expect(differences.counts).toEqual({ deleted: 2, restored: 0, late: 3, regressed: 0 });
    expect(differences.late.map((key) => key.keyText)).toEqual(['a']);
    expect(differences.deleted.map((key) => key.keyText)).toEqual(['d']);
  });

  it('treats two keys sharing an md5 as two keys', async () => {
    const differences = await compareListings(
      listOf([source('x', V1, 'h')]),
      listOf([warehouse('y', V1, false, 'h')]),
      10,
    );
    expect(differences.counts).toMatchObject({ deleted: 1, late: 1 });
  });

  it('fails on a listing out of md5 order instead of pairing the wrong keys', async () => {
    await expect(
      compareListings(listOf([source('b', V1), source('a', V1)]), listOf([warehouse('a', V1)]), 10),
    ).rejects.toThrow(/source key listing is not in md5 order \(a after b\)/);
  });
});

describe('repair key predicates', () => {
  it('selects single and composite keys by typed literals the source reads the same whatever its settings', () => {
    expect(keyPredicate(sourceTable('orders'), [['1'], ['42']])).toBe('"order_id" in (1, 42)');
    expect(keyPredicate(sourceTable('fx_rates'), [['2026-09-01', "E'U\\R"]])).toBe(
      `("rate_date", "currency") in ((cast(E'2026-09-01' as date), E'E''U\\\\R'))`,
    );
  });

  it('refuses a key value that is not of its column type', () => {
    expect(() => keyPredicate(sourceTable('orders'), [['1) or (1=1']])).toThrow(/malformed integer key/);
  });
});

describe('quarantined identity', () => {
  it('names a table row by its key text and updated_at, an event by its event_id, a broken record by nothing', () => {
    expect(
      quarantinedIdentity('fx_rates', {
        rate_date: '2026-09-01',
        currency: 'EUR',
        updated_at: '2026-09-01 00:00:00+00',
      }),
    ).toEqual({ key: '2026-09-01|EUR', updatedAt: '2026-09-01 00:00:00+00' });
    expect(quarantinedIdentity('orders', { order_id: '7', updated_at: 'soon' })).toEqual({
      key: '7',
      updatedAt: null,
    });
    expect(quarantinedIdentity('clickstream', { event_id: 'e-1' })).toEqual({ key: 'e-1', updatedAt: null });
    expect(quarantinedIdentity('orders', ['7', 'x'])).toEqual({ key: null, updatedAt: null });
  });
});

describe('reconciliation SQL', () => {
  const table = sourceTable('fx_rates');
  const watermark = '2026-09-30 23:00:00.5+00';
  const buckets = ['0a1', 'fff'];

  it('parses as PostgreSQL on both sides', async () => {
    for (const sql of [
      sourceSummarySql(table, watermark),
      sourceListingSql(table, watermark, buckets),
      warehouseSummarySql(table, 'postgres'),
      warehouseListingSql(table, 'postgres', null),
    ]) {
      expect((await parsePostgresSql(sql)).stmts?.length).toBe(1);
    }
  });

  it("renders the warehouse side for Redshift with Redshift's spellings (no bit cast, no collate)", () => {
    const parser = new nodeSqlParser.Parser();
    for (const sql of [
      warehouseSummarySql(table, 'redshift'),
      warehouseListingSql(table, 'redshift', buckets),
    ]) {
      expect(sql).not.toMatch(/\bbit\b|collate|::/i);
      expect(() =>
        parser.astify(sql.replaceAll('as timestamptz', 'as timestamp'), { database: 'redshift' }),
      ).not.toThrow();
    }
  });

  it('sums the same 32-bit hash on Redshift as on PostgreSQL (strtol of the md5 hex digits)', () => {
    expect(warehouseSummarySql(table, 'redshift')).toContain('sum(strtol(substring(md5(key_text');
    expect(warehouseSummarySql(table, 'postgres')).toContain("sum(cast(cast('x' || substr(md5(key_text");
  });

  it('refuses a malformed bucket', () => {
    expect(() => warehouseListingSql(table, 'postgres', ["0a1') or ('1"])).toThrow(/malformed key bucket/);
    expect(() => warehouseListingSql(sourceTable('orders'), 'postgres', ['1) or (1=1'])).toThrow(
      /malformed key bucket/,
    );
  });

  describe('a table keyed by one integer column (arithmetic buckets and hashes, no md5 or to_char per key)', () => {
    const orders = sourceTable('orders');
    const numbered = ['17', '4095', '-3'];

    it('is the integer shape; a composite key is the text shape', () => {
      expect(keyShapeOf(orders)).toBe('integer');
      expect(keyShapeOf(table)).toBe('text');
    });

    it('parses as PostgreSQL on both sides, and summarises without md5 or to_char', async () => {
      const summaries = [sourceSummarySql(orders, watermark), warehouseSummarySql(orders, 'postgres')];
      for (const sql of [
        ...summaries,
        sourceListingSql(orders, watermark, numbered),
        warehouseListingSql(orders, 'postgres', numbered),
        warehouseListingSql(orders, 'postgres', null),
      ]) {
        expect((await parsePostgresSql(sql)).stmts?.length).toBe(1);
      }
      for (const sql of summaries) {
        expect(sql).toContain('mod(key_number, 4096)');
        // md5 and to_char stay in the text of the listing's columns, which the summary never reads.
        expect(sql).toMatch(/sum\(case when x is null then 2147483647/);
      }
    });

    it('renders the warehouse side for Redshift (datediff in microseconds, no bit cast, no collate)', () => {
      const parser = new nodeSqlParser.Parser();
      for (const sql of [
        warehouseSummarySql(orders, 'redshift'),
        warehouseListingSql(orders, 'redshift', numbered),
      ]) {
        expect(sql).not.toMatch(/\bbit\b|collate|::|extract\(epoch/i);
        expect(sql).toContain('datediff(microsecond,');
        expect(() =>
          parser.astify(sql.replaceAll('as timestamptz', 'as timestamp'), { database: 'redshift' }),
        ).not.toThrow();
      }
    });
  });
});
