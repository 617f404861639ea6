import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openPglite } from '../../adapters/warehouse/pglite.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import {
  batchesAwaitingLoad,
  batchesAwaitingValidation,
  batchState,
  clearBatchFailure,
  failedBatches,
  listBatches,
  markBatchFailed,
  markBatchSkipped,
  markLoaded,
  markValidated,
  pendingStreamBatches,
  registerBatch,
  stillRegistered,
  streamBacklog,
} from './batches.ts';
import { ensureWarehouseSchema } from './warehouse-schema.ts';

const at = new Date('2026-10-01T10:00:00Z');

describe('the batch ledger: failed and skipped batches', () => {
  let db: SqlDatabase;
  beforeAll(async () => {
    db = await openPglite('pglite://memory');
    await ensureWarehouseSchema(db);
  });
  afterAll(async () => {
    await db.close();
  });
  beforeEach(async () => {
    await db.exec('delete from ops.batches; delete from ops.quarantine_rows; delete from bronze.orders');
  });

  const register = (batchId: string, kind: 'table' | 'stream' = 'table', source = 'orders') =>
    registerBatch(db, {
      batchId,
      source,
      kind,
      ingestionDate: '2026-10-01',
      rawKey: `raw/source=${source}/ingestion_date=2026-10-01/${batchId}.csv`,
      rows: 2,
      at,
    });
  const validated = (batchId: string) =>
    markValidated(db, batchId, {
      stagedKey: `staging/${batchId}.csv`,
      quarantineKey: null,
      staged: 2,
      quarantined: 0,
      rescued: 0,
      at,
    });
  const loadRows = async (batchId: string) => {
    await db.query(
      `insert into bronze.orders (order_id, _batch_id, _source_file) values ('1', $1, 'raw'), ('2', $1, 'raw')`,
      [batchId],
    );
    await db.query(
      "insert into ops.quarantine_rows (batch_id, source, row_number, reasons) values ($1, 'orders', 3, 'x')",
      [batchId],
    );
    await markLoaded(db, batchId, 2, at);
  };
  const ids = (rows: { batch_id: string }[]) => rows.map((row) => row.batch_id);

  it('keeps failed and skipped batches out of every queue, and out of the stream backlog', async () => {
    for (const id of ['new', 'failed', 'skipped']) await register(id);
    for (const id of ['s-new', 's-failed', 's-skipped']) await register(id, 'stream', 'clickstream');
    for (const id of ['v-ok', 'v-failed']) {
      await register(id);
      await validated(id);
    }
    for (const id of ['failed', 's-failed', 'v-failed'])
      await markBatchFailed(db, { batchId: id, step: 'validate', reason: 'truncated', at });
    for (const id of ['skipped', 's-skipped'])
      await markBatchSkipped(db, { batchId: id, reason: 'lost', at });

    expect(ids(await batchesAwaitingValidation(db))).toEqual(['new']);
    expect(ids(await batchesAwaitingLoad(db))).toEqual(['v-ok']);
    expect(ids(await pendingStreamBatches(db, 10))).toEqual(['s-new']);
    expect(await streamBacklog(db)).toEqual({ batches: 1, events: 2 });
    const [failedStream] = await db.query<{ extracted_at: Date }>(
      "select extracted_at from ops.batches where batch_id = 's-failed'",
    );
    expect(await stillRegistered(db, 's-failed', failedStream?.extracted_at as Date)).toBe(false);
    expect(ids(await failedBatches(db)).sort()).toEqual(['failed', 's-failed', 'v-failed']);
  });

  it('takes a failed batch out of the warehouse in the same transaction: bronze rows, quarantine rows, loaded', async () => {
    await register('b1');
    await validated('b1');
    await loadRows('b1');
    await register('b2');
    await validated('b2');
    await loadRows('b2');
    await markBatchFailed(db, {
      batchId: 'b1',
      step: 'transform',
      reason: 'silver.orders: invalid input syntax for type integer: "x" (order_id=1)',
      at,
      runId: 'run-1',
    });
    expect(await db.query('select _batch_id from bronze.orders order by _batch_id')).toEqual([
      { _batch_id: 'b2' },
      { _batch_id: 'b2' },
    ]);
    expect(await db.query('select batch_id from ops.quarantine_rows')).toEqual([{ batch_id: 'b2' }]);
    expect(await batchState(db, 'b1')).toMatchObject({
      status: 'failed',
      failed_step: 'transform',
      failure_reason: 'silver.orders: invalid input syntax for type integer: "x" (order_id=1)',
      failed_run_id: 'run-1',
      failed_at: at,
    });
    const [ledger] = await db.query("select loaded_at, rows_loaded from ops.batches where batch_id = 'b1'");
    expect(ledger).toEqual({ loaded_at: null, rows_loaded: null });
  });

  it('rolls the failure back with the caller’s transaction', async () => {
    await register('b1');
    await expect(
      db.transaction(async (tx) => {
        await markBatchFailed(tx, { batchId: 'b1', step: 'load', reason: 'x', at });
        throw new Error('caller failed');
      }),
    ).rejects.toThrow('caller failed');
    expect((await batchState(db, 'b1'))?.status).toBe('pending');
  });

  it('puts a retried batch back at the step that failed', async () => {
    await register('at-validate');
    await validated('at-validate');
    await markBatchFailed(db, { batchId: 'at-validate', step: 'validate', reason: 'bad', at });
    await register('at-load');
    await validated('at-load');
    await markBatchFailed(db, { batchId: 'at-load', step: 'load', reason: 'bad', at });
    await register('at-transform');
    await validated('at-transform');
    await loadRows('at-transform');
    await markBatchFailed(db, { batchId: 'at-transform', step: 'transform', reason: 'bad', at });
    for (const id of ['at-validate', 'at-load', 'at-transform']) await clearBatchFailure(db, id);

    expect(ids(await batchesAwaitingValidation(db))).toEqual(['at-validate']);
    expect(ids(await batchesAwaitingLoad(db)).sort()).toEqual(['at-load', 'at-transform']);
    expect(await batchState(db, 'at-load')).toMatchObject({
      status: 'pending',
      failed_at: null,
      failed_step: null,
      failure_reason: null,
    });
    await expect(clearBatchFailure(db, 'at-load')).rejects.toThrow('batch at-load has not failed');
  });

  it('lists batches by status, the most recent first, with the total', async () => {
    for (const id of ['a', 'b', 'c']) await register(id);
    await markBatchFailed(db, { batchId: 'a', step: 'validate', reason: 'one', at });
    await markBatchFailed(db, {
      batchId: 'b',
      step: 'load',
      reason: 'two',
      at: new Date(at.getTime() + 1000),
    });
    await markBatchSkipped(db, { batchId: 'c', reason: 'gone for good', at });
    const failed = await listBatches(db, { status: 'failed', limit: 1 });
    expect(failed.total).toBe(2);
    expect(ids(failed.batches)).toEqual(['b']);
    const skipped = await listBatches(db, { status: 'skipped', limit: 10 });
    expect(skipped.batches).toMatchObject([
      { batch_id: 'c', status: 'skipped', skip_reason: 'gone for good' },
    ]);
    expect((await listBatches(db, { status: 'all', limit: 10 })).total).toBe(3);
    expect((await listBatches(db, { status: 'pending', limit: 10 })).total).toBe(0);
  });

  it('indexes every bronze table by _batch_id first, so a batch delete does not scan the table', async () => {
    const indexes = await db.query<{ tablename: string; indexdef: string }>(
      "select tablename, indexdef from pg_indexes where schemaname = 'bronze' and indexdef like '%(_batch_id, %'",
    );
    const tables = await db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'bronze'",
    );
    expect(tables.length).toBeGreaterThan(5);
    expect(indexes.map((index) => index.tablename).sort()).toEqual(
      tables.map((table) => table.table_name).sort(),
    );
  });

  it('refuses to mark a batch the ledger does not hold', async () => {
    await expect(markBatchFailed(db, { batchId: 'nope', step: 'load', reason: 'x', at })).rejects.toThrow(
      'no batch nope in the ledger (ops.batches)',
    );
  });
});
