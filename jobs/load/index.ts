import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import {
  type CsvObject,
  refusedRowIn,
  type SqlDatabase,
  type SqlParam,
} from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { contractFor, type DataContract } from '../contracts/data-contracts.ts';
import { quarantinedIdentity } from '../contracts/source-keys.ts';
import { inLanes } from '../lanes.ts';
import { BatchDataError, classifyBatchError } from '../ops/batch-errors.ts';
import { heldBackLines, isolateBatchFailure, reportBatchFailures } from '../ops/batch-failures.ts';
import { type BatchRow, batchesAwaitingLoad, markLoaded } from '../ops/batches.ts';
import { recordStep } from '../ops/pipeline-runs.ts';
import { stagingColumns } from '../validate/index.ts';
import { loadLineage } from './lineage.ts';

export interface LoadedBatch {
  batchId: string;
  table: string;
  rows: number;
  quarantineRows: number;
}

const QUARANTINE_INSERT_CHUNK = 500;

/**
 * Bulk-loads every validated batch into bronze with COPY. Idempotent by batch id: the batch's earlier rows are
 * deleted in the same transaction, so a rerun or a replayed batch never doubles a row (invariant 2). A batch the
 * warehouse refuses (a row it cannot take, a missing staged object) is marked failed, naming the row, and the job
 * goes on with the next one. Tables load side by side (LOAD_CONCURRENCY at once), each table's batches in ledger
 * order. `batchIds` limits the run to those batches (`ecomm batches retry`).
 */
export async function runLoad(
  context: JobContext,
  options: { batchIds?: string[] } = {},
): Promise<LoadedBatch[]> {
  const warehouse = await context.warehouse();
  const batches = (await batchesAwaitingLoad(warehouse)).filter(
    (batch) => !options.batchIds || options.batchIds.includes(batch.batch_id),
  );
  const lanes = loadLanes(warehouse, context.config.LOAD_CONCURRENCY);
  const outcomes = await inLanes(batches, { lanes, laneOf: (batch) => batch.source }, async (batch) => {
    context.throwIfStopping();
    try {
      return await loadAndRecord(context, warehouse, batch);
    } catch (error) {
      // A refused row or a missing staged object fails its batch only; an outage or a stop request ends the job.
      await isolateBatchFailure(context, batch.batch_id, 'load', error);
      return null;
    }
  });
  const loaded = outcomes.filter((outcome): outcome is LoadedBatch => outcome !== null);
  await reportBatchFailures(warehouse, { runId: context.runId, now: context.now() }, 'batch');
  await vacuumGrownTables(warehouse, loaded, lanes);
  return loaded;
}

/**
 * Bronze tables loaded at once: one lane per source (one table each), its batches in ledger order. Loads go in turn
 * where concurrent writers conflict (Redshift): every load transaction also writes the ops tables (the ledger, the
 * quarantined rows), and there two transactions that read and write the same table at once abort one another
 * (serializable isolation violation, error 1023); its COPY already runs across the cluster's slices.
 */
export function loadLanes(warehouse: SqlDatabase, configured: number): number {
  return warehouse.concurrency.writersConflict ? 1 : configured;
}

/**
 * Vacuums and analyzes each bronze table this load grew by a tenth or more (PostgreSQL's own autovacuum threshold,
 * but now, not a minute or more later): the transform reading it next plans by its statistics (without them a first
 * hourly increment after a large load scanned and sorted where it should have looked up), and its scans of rows per
 * batch and arrival read the `_batch_id, _ingested_at` index alone once vacuum has marked the new pages all-visible
 * (the clickstream's at 710k rows: 140 ms by the table, 52 ms by the index). The vacuum reads the new pages once:
 * 260 ms with the analyze against 150 ms for the analyze alone there. Redshift analyzes after COPY on its own. A
 * login that does not own the table gets a warning from the server and the table waits for autovacuum.
 */
async function vacuumGrownTables(
  warehouse: SqlDatabase,
  loaded: LoadedBatch[],
  lanes: number,
): Promise<void> {
  if (warehouse.dialect === 'redshift') return;
  const rowsByTable = new Map<string, number>();
  for (const batch of loaded) rowsByTable.set(batch.table, (rowsByTable.get(batch.table) ?? 0) + batch.rows);
  await inLanes([...rowsByTable], { lanes, laneOf: ([table]) => table }, async ([table, rows]) => {
    const [estimate] = await warehouse.query<{ rows: number | null }>(
      `select cast(c.reltuples as bigint) as rows from pg_class c
       inner join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'bronze' and c.relname = $1`,
      [table],
    );
    const known = Math.max(0, Number(estimate?.rows ?? 0));
    // Its size and the columns the transform plans by (a batch's rows, the increments' change stamp): the other
    // columns are read whole by the silver builds, and sampling them too doubled the time (0.5 s at 700k rows).
    if (rows >= Math.max(ANALYZE_MIN_ROWS, known / 10))
      await warehouse.exec(`vacuum (analyze) bronze.${table} (_batch_id, _ingested_at)`);
  });
}

/** Below this many new rows a table's statistics are left to autovacuum: a small batch changes no plan. */
const ANALYZE_MIN_ROWS = 1000;

/** `ecomm load`: one line per batch loaded into bronze, then one per batch held back (the job still exits 0). */
export async function run(context: JobContext, _options: object, output: PrintLine): Promise<number> {
  for (const batch of await runLoad(context))
    output(`load ${batch.batchId}: ${batch.rows} rows -> bronze.${batch.table}`);
  for (const line of await heldBackLines(context, 'load')) output(line);
  return 0;
}

function loadAndRecord(context: JobContext, warehouse: SqlDatabase, batch: BatchRow): Promise<LoadedBatch> {
  return recordStep(
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
      lineage: (startedAt, batchLoaded, error) => loadLineage(context, batch, startedAt, batchLoaded, error),
    },
  );
}

async function loadBatch(context: JobContext, warehouse: SqlDatabase, batch: BatchRow): Promise<LoadedBatch> {
  const result = await warehouse
    .transaction((tx) => loadBatchInTransaction(context, tx, batch))
    .catch(async (error: unknown) => {
      throw await nameRefusedRow(batch, error);
    });
  context.log.info(
    { job: 'load', batchId: batch.batch_id, table: `bronze.${result.table}`, rows: result.rows },
    'loaded',
  );
  return result;
}

/**
 * Loads one validated batch inside the caller's transaction: its earlier rows deleted (found by `_batch_id`, which
 * bronze is indexed or sorted by; none for a batch never loaded), its staged CSV copied in,
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
  if (!batch.staged_key)
    throw new BatchDataError(`batch ${batch.batch_id} has no staged object`, { batchId: batch.batch_id });
  const stagedKey = batch.staged_key;
  const quarantineRows = batch.quarantine_key
    ? await readQuarantine(context, batch.quarantine_key).catch(failsBatch(batch, table))
    : [];
  // A source with personal data lands whole in the restricted schema `pii`; bronze gets the row without its clear
  // PII columns (their keyed hashes and masks were derived during validation).
  const landing = contract.piiColumns.length > 0 ? `pii.${contract.table}` : table;
  await tx.exec(lockForWriteSql(table, tx.dialect));
  if (landing !== table) await tx.exec(lockForWriteSql(landing, tx.dialect));
  // Under the locks no other load of these tables runs, so what this finds stays true: a batch never loaded has no
  // rows to delete, and a lookup by the index (Redshift: the sort key's zone maps) is cheaper than a delete's write.
  for (const target of landing === table ? [table] : [table, landing]) {
    const [earlier] = await tx.query(`select 1 as found from ${target} where _batch_id = $1 limit 1`, [
      batch.batch_id,
    ]);
    if (earlier) await tx.query(`delete from ${target} where _batch_id = $1`, [batch.batch_id]);
  }
  const copied = await tx
    .copyFromCsv(landing, stagingColumns(contract), { store: context.lake(), key: stagedKey })
    .catch(failsBatch(batch, landing));
  if (landing !== table) await copyWithoutPii(tx, contract, landing, table, batch.batch_id);
  if (copied !== batch.rows_staged) {
    throw new BatchDataError(
      `batch ${batch.batch_id}: loaded ${copied} rows into ${table}, staging holds ${batch.rows_staged}`,
      { batchId: batch.batch_id },
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

/** The batch's rows from the `pii` landing table into bronze, every column but the clear PII ones. */
async function copyWithoutPii(
  tx: SqlDatabase,
  contract: DataContract,
  landing: string,
  table: string,
  batchId: string,
): Promise<void> {
  const clear = new Set(contract.piiColumns);
  const columns = [...stagingColumns(contract), '_ingested_at']
    .filter((column) => !clear.has(column))
    .join(', ');
  await tx.query(`insert into ${table} (${columns}) select ${columns} from ${landing} where _batch_id = $1`, [
    batchId,
  ]);
}

/** Ties an error of the batch's own data to the batch (a round of the stream applier loads several); rethrows. */
function failsBatch(batch: BatchRow, table: string) {
  return (error: unknown): never => {
    if (classifyBatchError(error) !== 'data') throw error;
    throw new BatchDataError(`batch ${batch.batch_id} into ${table}: ${(error as Error).message}`, {
      cause: error,
      batchId: batch.batch_id,
    });
  };
}

/**
 * A row the warehouse refused, named: the table, the column, the batch and the row's key (the contract's primary
 * key, event_id for events), read from the staged CSV at the line the engine gave (`bronze.customers refused
 * column street_address of batch customers_… at line 3 of staging/…, key customer_id=17: value too long …`).
 * Runs once the load's transaction has ended (Redshift says where only then). Other errors are returned unchanged.
 */
export async function nameRefusedRow(batch: Pick<BatchRow, 'batch_id' | 'source'>, error: unknown) {
  const refused = refusedRowIn(error);
  if (!refused) return error;
  const record =
    refused.line === null ? null : await recordAtLine(refused.object, refused.line).catch(() => null);
  const key = record ? rowKey(batch.source, record) : 'key unknown (the warehouse did not say which row)';
  const where = refused.line === null ? '' : ` at line ${refused.line} of ${refused.object.key}`;
  return new BatchDataError(
    `${refused.table} refused column ${refused.column ?? '(unknown)'} of batch ${batch.batch_id}${where}, ` +
      `${key}: ${refused.message}`,
    { cause: error, batchId: batch.batch_id },
  );
}

/** `order_id=17`, or `rate_date=2026-01-01, currency=EUR`: the row's key, each value cut short. */
function rowKey(source: string, record: Record<string, string | null>): string {
  const contract = contractFor(source);
  const columns = contract.keyColumns;
  return `key ${columns.map((column) => `${column}=${String(record[column] ?? 'null').slice(0, 64)}`).join(', ')}`;
}

/** The CSV record that ends on the given physical line (1 is the header), as PostgreSQL's COPY counts lines. */
async function recordAtLine(object: CsvObject, line: number): Promise<Record<string, string | null> | null> {
  const body = await object.store.get(object.key);
  const parser = body.pipe(
    parse({
      columns: true,
      info: true,
      relax_column_count: true,
      cast: (value, context) => (value === '' && !context.quoting ? null : value),
    }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string | null>;
      info: { lines: number };
    }>) {
      if (info.lines >= line) return record;
    }
    return null;
  } finally {
    body.destroy();
    parser.destroy();
  }
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
