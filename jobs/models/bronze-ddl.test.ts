import { describe, expect, it } from 'vitest';
import { type ColumnSpec, checkCsvCell, MAX_TEXT_BYTES } from '../contracts/column-types.ts';
import { DATA_CONTRACTS, DEFAULT_TIME_WINDOW, STREAM_COLUMN_SPECS } from '../contracts/data-contracts.ts';
import { loadBronzeTables, loadPiiTables, stripCommentsAndStrings } from './models.ts';

const META_COLUMNS = ['_rescued_data', '_batch_id', '_source_file', '_ingested_at'];
const STREAM_COLUMNS = ['_stream_partition', '_stream_offset', '_published_at'];

const contracts = DATA_CONTRACTS.map((contract) => {
  const clear = new Set(contract.piiColumns);
  return {
    table: contract.table,
    /** What bronze lands: the declared columns but the clear PII ones, then the derived hashes and masks. */
    columns: [...contract.columns.filter((column) => !clear.has(column)), ...contract.derivedColumns],
    /** What the restricted `pii` table lands: every staged column. */
    landed: [...contract.columns, ...contract.derivedColumns],
    piiColumns: contract.piiColumns,
    stream: contract.streamColumns.length > 0 ? STREAM_COLUMNS : [],
  };
});

/** Written by the key reconciliation (jobs/reconcile/), not loaded from a contract's staged rows. */
const TOMBSTONES = 'bronze.source_deletes';

describe('bronze DDL', () => {
  const all = loadBronzeTables();
  const bronze = all.filter((table) => table.name !== TOMBSTONES);

  it('has one table per source table and event topic, the reconciliation tombstones, and nothing else', () => {
    expect(all.map((table) => table.name).sort()).toEqual(
      [...contracts.map((entry) => `bronze.${entry.table}`), TOMBSTONES].sort(),
    );
  });

  it('keeps the tombstones typed, with the batch and load metadata of every bronze table', () => {
    const tombstones = all.find((table) => table.name === TOMBSTONES);
    expect(tombstones?.columns).toEqual([
      'source',
      'key_text',
      'key_event',
      'detected_at',
      'last_updated_at',
      'run_id',
      '_batch_id',
      '_ingested_at',
    ]);
    expect(tombstones?.sql).toContain('  _ingested_at timestamptz not null default current_timestamp\n');
  });

  it('lands the clear PII of a source only in its pii table, with everything staged; bronze never has it', () => {
    const pii = loadPiiTables();
    const withPii = contracts.filter((entry) => entry.piiColumns.length > 0);
    expect(withPii.map((entry) => entry.table)).toEqual(['customers', 'crm_contacts']);
    expect(pii.map((table) => table.name).sort()).toEqual(
      withPii.map((entry) => `pii.${entry.table}`).sort(),
    );
    for (const entry of withPii) {
      expect(pii.find((table) => table.name === `pii.${entry.table}`)?.columns).toEqual([
        ...entry.landed,
        ...entry.stream,
        ...META_COLUMNS,
      ]);
      const ddl = bronze.find((table) => table.name === `bronze.${entry.table}`);
      for (const column of entry.piiColumns) expect(ddl?.columns).not.toContain(column);
    }
  });

  it.each(contracts)(
    'bronze.$table has the contract columns (no clear PII), their derived hashes and masks, then the load metadata',
    ({ table, columns, stream }) => {
      const ddl = bronze.find((entry) => entry.name === `bronze.${table}`);
      expect(ddl?.columns).toEqual([...columns, ...stream, ...META_COLUMNS]);
    },
  );

  it('keeps contract columns as wide text and the metadata as the loader expects', () => {
    for (const table of bronze) {
      expect(table.grain, table.file).toMatch(/^one row per /);
      const contract = contracts.find((entry) => `bronze.${entry.table}` === table.name);
      const derived = new Set(DATA_CONTRACTS.flatMap((entry) => entry.derivedColumns));
      for (const column of [...(contract?.columns ?? []), '_rescued_data']) {
        // A keyed hash is 64 hex characters; masks are as long as what they mask.
        const width = /_(hash|key)$/.test(column) && derived.has(column) ? 64 : MAX_TEXT_BYTES;
        expect(table.sql, `${table.file} ${column}`).toMatch(
          new RegExp(`\\n  ${column} varchar\\(${width}\\),\\n`),
        );
      }
      expect(table.sql).toContain('  _batch_id varchar(128) not null,\n');
      expect(table.sql).toContain('  _source_file varchar(1024) not null,\n');
      expect(table.sql).toContain('  _ingested_at timestamptz not null default current_timestamp\n');
      // Redshift turns `text` into varchar(256); serial and identity are not portable.
      expect(stripCommentsAndStrings(table.sql)).not.toMatch(/\btext\b|\bserial\b|\bidentity\b/i);
    }
  });

  it('lands each stream column in a varchar wide enough for the longest text its type check passes', () => {
    // The longest texts the contracts stage: -2147483648, -9223372036854775808, and an ISO-8601 timestamp with
    // microseconds and an hour:minute offset.
    const longest: Record<string, number> = { int: 11, bigint: 20, timestamptz: 32 };
    const now = { now: new Date(), ...DEFAULT_TIME_WINDOW };
    expect(checkCsvCell(STREAM_COLUMN_SPECS[0] as ColumnSpec, '-2147483648', now).text).toBe('-2147483648');
    expect(
      checkCsvCell(STREAM_COLUMN_SPECS[2] as ColumnSpec, '2026-11-01T10:00:00.123456+05:30', now).text,
    ).toHaveLength(32);
    for (const table of bronze.filter((entry) => entry.columns.includes('_published_at'))) {
      for (const spec of STREAM_COLUMN_SPECS) {
        const width = Number(new RegExp(`\\n  ${spec.name} varchar\\((\\d+)\\)`).exec(table.sql)?.[1]);
        expect(width, `${table.file} ${spec.name}`).toBeGreaterThanOrEqual(longest[spec.type] as number);
      }
    }
  });
});
