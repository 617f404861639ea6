import { createInterface } from 'node:readline';
import type { SqlDatabase, SqlParam } from '../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../sql/dialects/macros.ts';
import type { JobContext } from './context.ts';
import { contractFor } from './contracts/data-contracts.ts';
import { loadLineage } from './lineage/steps.ts';
import { type BatchRow, batchesAwaitingLoad, markLoaded } from './ops/batches.ts';
import { recordStep } from './ops/pipeline-runs.ts';
import { quarantinedIdentity } from './reconcile/keys.ts';
import { stagingColumns } from './validate.ts';

export interface LoadedBatch {
  batchId: string;
  table: string;
  rows: number;
  quarantineRows: number;
}

const QUARANTINE_INSERT_CHUNK = 500;

/**
 * Bulk-loads every validated batch into bronze with COPY. Idempotent by batch id: the batch's earlier rows are
 * deleted in the same transaction, so a rerun or a replayed batch never doubles a row (invariant 2).
 */
export async function runLoad(context: JobContext): Promise<LoadedBatch[]> {
  const warehouse = await context.warehouse();
  const loaded: LoadedBatch[] = [];
  for (const batch of await batchesAwaitingLoad(warehouse)) {
    context.throwIfStopping();
    const result = await recordStep(
      context,
      { job: 'load', step: batch.source, batchId: batch.batch_id },
      () => loadBatch(context, warehouse, batch),
      {
        outcome: (batchLoaded) => ({
          step: `bronze.${batchLoaded.table}`,
          rowsIn: batch.rows_staged,
          rowsOut: batchLoaded.rows,
          rowsQuarantined: batchLoaded.quarantineRows,
        }),
        lineage: (startedAt, batchLoaded, error) =>
          loadLineage(context, batch, startedAt, batchLoaded, error),
      },
    );
    loaded.push(result);
  }
  return loaded;
}

async function loadBatch(context: JobContext, warehouse: SqlDatabase, batch: BatchRow): Promise<LoadedBatch> {
  const result = await warehouse.transaction((tx) => loadBatchInTransaction(context, tx, batch));
  context.log.info(
    { job: 'load', batchId: batch.batch_id, table: `bronze.${result.table}`, rows: result.rows },
    'loaded',
  );
  return result;
}

/**
 * Loads one validated batch inside the caller's transaction: its earlier rows deleted, its staged CSV copied in,
 * its quarantined rows recorded, the ledger marked. The bronze table is locked for writing first, so two loads of
 * the same batch (the load job and the stream service, or two replicas) run one after the other instead of both
 * deleting nothing and both inserting. The stream service calls this inside the transaction that also applies
 * the batch to silver.
 */
export async function loadBatchInTransaction(
  context: JobContext,
  tx: SqlDatabase,
  batch: BatchRow,
): Promise<LoadedBatch> {
  const contract = contractFor(batch.source);
  const table = `bronze.${contract.table}`;
  if (!batch.staged_key) throw new Error(`batch ${batch.batch_id} has no staged object`);
  const stagedKey = batch.staged_key;
  const quarantineRows = batch.quarantine_key ? await readQuarantine(context, batch.quarantine_key) : [];
  await tx.exec(lockForWriteSql(table, tx.dialect));
  await tx.query(`delete from ${table} where _batch_id = $1`, [batch.batch_id]);
  const copied = await tx.copyFromCsv(table, stagingColumns(contract), {
    store: context.lake(),
    key: stagedKey,
  });
  if (copied !== batch.rows_staged) {
    throw new Error(
      `batch ${batch.batch_id}: loaded ${copied} rows into ${table}, staging holds ${batch.rows_staged}`,
    );
  }
  await tx.query('delete from ops.quarantine_rows where batch_id = $1', [batch.batch_id]);
  await insertQuarantineRows(tx, quarantineRows);
  await markLoaded(tx, batch.batch_id, copied, context.now());
  return {
    batchId: batch.batch_id,
    table: contract.table,
    rows: copied,
    quarantineRows: quarantineRows.length,
  };
}

interface QuarantineLine {
  batch_id: string;
  source: string;
  row_number: number;
  reasons: string[];
  record: unknown;
}

async function readQuarantine(context: JobContext, key: string): Promise<QuarantineLine[]> {
  const lines: QuarantineLine[] = [];
  const body = await context.lake().get(key);
  for await (const line of createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line !== '') lines.push(JSON.parse(line) as QuarantineLine);
  }
  return lines;
}

async function insertQuarantineRows(db: SqlDatabase, rows: QuarantineLine[]): Promise<void> {
  for (let start = 0; start < rows.length; start += QUARANTINE_INSERT_CHUNK) {
    const chunk = rows.slice(start, start + QUARANTINE_INSERT_CHUNK);
    const params: SqlParam[] = [];
    const tuples = chunk.map((row, index) => {
      const identity = quarantinedIdentity(row.source, row.record);
      params.push(
        row.batch_id,
        row.source,
        row.row_number,
        row.reasons.join('; ').slice(0, 4000),
        JSON.stringify(row.record).slice(0, 60000),
        identity.key,
        identity.updatedAt,
      );
      const base = index * 7;
      return `(${Array.from({ length: 7 }, (_, column) => `$${base + column + 1}`).join(', ')})`;
    });
    await db.query(
      `insert into ops.quarantine_rows (batch_id, source, row_number, reasons, record, source_key, source_updated_at)
       values ${tuples.join(', ')}`,
      params,
    );
  }
}
