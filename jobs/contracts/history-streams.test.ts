import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { configuredSources } from '../extract/sources.ts';
import { contractFor, DATA_CONTRACTS } from './data-contracts.ts';
import { HISTORY_STREAMS } from './history-streams.ts';
import { SOURCE_TABLES } from './source-tables.ts';

const now = new Date('2026-10-01T12:00:00Z');
const row = {
  sales_date: '2024-10-01',
  currency: 'EUR',
  order_count: '17',
  revenue: '1234.50',
  // TIMESTAMP_NTZ as the Snowflake connector writes it: no offset, read as UTC.
  updated_at: '2024-10-02 03:00:00.123456',
};

describe('history stream contracts', () => {
  it('has one csv contract per history stream, keyed by its primary key, with a type for every column', () => {
    for (const stream of HISTORY_STREAMS) {
      const contract = contractFor(stream.name);
      expect(contract.format).toBe('csv');
      expect(contract.table).toBe(stream.name);
      expect(contract.keyColumns).toEqual(stream.primaryKey);
      expect(contract.columns).toEqual(stream.columns.map((column) => column.name));
      expect(contract.columns).toContain(stream.cursor);
      expect(contract.piiColumns).toEqual([]);
    }
  });

  it('passes a day as the Snowflake connector writes it', () => {
    expect(contractFor('sales_history').check(row, { now }).reasons).toEqual([]);
  });

  it('refuses what silver could not cast or gold could not convert', () => {
    const check = (changes: Record<string, string | undefined>) =>
      contractFor('sales_history').check({ ...row, ...changes }, { now }).reasons;
    expect(check({ currency: 'XYZ' })).toEqual(['currency: must be one of USD, EUR, GBP, JPY, AUD']);
    expect(check({ revenue: '12.345' })).toEqual(['revenue: more than 2 decimal places (numeric(18, 2))']);
    expect(check({ revenue: '-1.00' })).toEqual(['revenue: must be >= 0']);
    expect(check({ order_count: '1.5' })).toEqual(['order_count: expected an integer']);
    expect(check({ order_count: '-1' })).toEqual(['order_count: must be >= 0']);
    expect(check({ sales_date: '2024-02-30' })).toHaveLength(1);
    expect(check({ updated_at: undefined })).toEqual(['updated_at: required value is missing']);
  });

  it('names the history bronze table once among all contracts, apart from the OLTP tables', () => {
    const tables = DATA_CONTRACTS.map((contract) => contract.table);
    expect(new Set(tables).size).toBe(tables.length);
    for (const stream of HISTORY_STREAMS) {
      expect(tables).toContain(stream.name);
      // The key reconciliation and backfill read SOURCE_TABLES: Snowflake is never compared with SOURCE_URL.
      expect(SOURCE_TABLES.map((table) => table.name)).not.toContain(stream.name);
    }
  });
});

describe('configured sources: history', () => {
  const base = { SOURCE_URL: 'pglite://memory' };
  const url = 'snowflake://acct/ANALYTICS/HISTORY?warehouse=WH&user=etl&passwordSecret=SNOWFLAKE_PASSWORD';

  it('extracts the history streams from Snowflake only when HISTORY_SOURCE_URL is set', () => {
    expect(configuredSources(loadConfig(base)).map((source) => source.setting)).toEqual(['SOURCE_URL']);
    const sources = configuredSources(loadConfig({ ...base, HISTORY_SOURCE_URL: url }));
    expect(sources.map((source) => source.setting)).toEqual(['SOURCE_URL', 'HISTORY_SOURCE_URL']);
    const history = sources[1];
    expect(history?.url).toBe(url);
    expect(history?.streams.map((stream) => [stream.name, stream.remoteName, stream.cursor])).toEqual([
      ['sales_history', 'DAILY_SALES_HISTORY', 'updated_at'],
    ]);
    expect(history?.streams[0]?.primaryKey).toEqual(['sales_date', 'currency']);
    expect(history?.streams[0]?.schema).toContainEqual({ name: 'revenue', type: 'numeric' });
  });

  it('refuses a HISTORY_SOURCE_URL no source connector serves', () => {
    expect(() => loadConfig({ ...base, HISTORY_SOURCE_URL: 'ftp://history' })).toThrow(/HISTORY_SOURCE_URL/);
  });
});
