import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { warehouseEngines } from '../../test/pg-database.ts';
import { SOURCE_TABLES, type SourceTableSpec } from '../contracts/source-tables.ts';
import { ensureWarehouseSchema } from '../ops/warehouse-schema.ts';
import { refreshKeyVersions } from './key-versions.ts';

const orders = SOURCE_TABLES.find((table) => table.name === 'orders') as SourceTableSpec;
const fxRates = SOURCE_TABLES.find((table) => table.name === 'fx_rates') as SourceTableSpec;

/** Loads rows as a batch does: one transaction, so they share their `_ingested_at`. */
async function loadOrders(db: SqlDatabase, batchId: string, rows: [number, string][]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec(`delete from bronze.orders where _batch_id = '${batchId}'`);
    for (const [orderId, updatedAt] of rows)
      await tx.query(
        `insert into bronze.orders (order_id, updated_at, _batch_id, _source_file) values ($1, $2, $3, 'raw/x.csv')`,
        [String(orderId), updatedAt, batchId],
      );
  });
}

/** What ops.reconcile_versions holds for orders, as `key=version` (UTC, seconds). */
async function keptOrders(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ key: string; version: string | null }>(
    `select cast(key_number as varchar(20)) as key, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as version
     from ops.reconcile_versions where source = 'orders' order by key_number`,
  );
  return rows.map((row) => `${row.key}=${row.version}`);
}

describe.each(warehouseEngines('key_versions'))(
  'the reconciliation keeps bronze key versions on %s',
  (_engine, open) => {
    let db: SqlDatabase;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ db, dispose } = await open());
      await ensureWarehouseSchema(db);
    });
    afterEach(() => dispose());

    it('folds in only the batches new since its last run, keeping the newest version per key', async () => {
      await loadOrders(db, 'orders_1', [
        [1, '2026-10-01 10:00:00+00'],
        [2, '2026-10-01 10:00:00+00'],
      ]);
      expect(await refreshKeyVersions(db, orders)).toEqual({ mode: 'rebuild', batchesFolded: 1 });
      expect(await keptOrders(db)).toEqual(['1=2026-10-01 10:00:00', '2=2026-10-01 10:00:00']);

      // Key 1 updated, key 3 new, and an older version of key 2 arriving late: it must not win.
      await loadOrders(db, 'orders_2', [
        [1, '2026-10-02 10:00:00+00'],
        [2, '2026-09-30 10:00:00+00'],
        [3, '2026-10-02 10:00:00+00'],
      ]);
      expect(await refreshKeyVersions(db, orders)).toEqual({ mode: 'fold', batchesFolded: 1 });
      expect(await keptOrders(db)).toEqual([
        '1=2026-10-02 10:00:00',
        '2=2026-10-01 10:00:00',
        '3=2026-10-02 10:00:00',
      ]);
      expect(await refreshKeyVersions(db, orders)).toEqual({ mode: 'unchanged', batchesFolded: 0 });
    });

    it('folds the table again from scratch when a folded batch was taken out or reloaded', async () => {
      await loadOrders(db, 'orders_1', [[1, '2026-10-01 10:00:00+00']]);
      await loadOrders(db, 'orders_2', [
        [1, '2026-10-02 10:00:00+00'],
        [2, '2026-10-02 10:00:00+00'],
      ]);
      await refreshKeyVersions(db, orders);
      expect(await keptOrders(db)).toEqual(['1=2026-10-02 10:00:00', '2=2026-10-02 10:00:00']);

      // Batch 2 taken out (marked failed): key 1 falls back to its older version, key 2 is gone.
      await db.exec("delete from bronze.orders where _batch_id = 'orders_2'");
      expect(await refreshKeyVersions(db, orders)).toEqual({ mode: 'rebuild', batchesFolded: 1 });
      expect(await keptOrders(db)).toEqual(['1=2026-10-01 10:00:00']);

      // Batch 1 reloaded with as many rows but another version: the new arrival time gives it away.
      await loadOrders(db, 'orders_1', [[1, '2026-09-01 10:00:00+00']]);
      expect(await refreshKeyVersions(db, orders)).toEqual({ mode: 'rebuild', batchesFolded: 1 });
      expect(await keptOrders(db)).toEqual(['1=2026-09-01 10:00:00']);
    });

    it('keeps a composite key as its text', async () => {
      await db.exec(
        `insert into bronze.fx_rates (rate_date, currency, updated_at, _batch_id, _source_file)
       values ('2026-10-01', 'EUR', '2026-10-01 10:00:00+00', 'fx_1', 'raw/x.csv'),
              ('2026-10-01', 'EUR', '2026-10-02 10:00:00+00', 'fx_1', 'raw/x.csv')`,
      );
      await refreshKeyVersions(db, fxRates);
      const kept = await db.query<{ key_text: string; key_number: unknown }>(
        "select key_text, key_number from ops.reconcile_versions where source = 'fx_rates'",
      );
      expect(kept).toEqual([{ key_text: '2026-10-01|EUR', key_number: null }]);
    });
  },
);
