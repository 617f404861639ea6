import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { lockForWriteSql } from '../../sql/dialects/macros.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import type { BatchStep } from './batch-errors.ts';

/**
 * Where a batch came from: an extract window (`table`), a drained topic micro-batch (`topic`, validated and loaded
 * by the batch jobs), or a micro-batch of the stream service (`stream`: the service validates, loads and applies
 * it to silver itself, so the batch jobs leave it alone).
 */
export type BatchKind = 'table' | 'topic' | 'stream';

/** One raw batch and how far it has travelled: the ledger validate and load work from. */
export interface BatchRow {
  batch_id: string;
  source: string;
  source_kind: BatchKind;
  ingestion_date: string;
  raw_key: string;
  rows_raw: number;
  staged_key: string | null;
  quarantine_key: string | null;
  rows_staged: number | null;
  rows_quarantined: number | null;
}

/** Queues hold only batches still in the flow: a failed batch waits for an operator, a skipped one is out for good. */
const IN_FLOW = 'failed_at is null and skipped_at is null';

const BATCH_COLUMNS = `batch_id, source, source_kind, cast(ingestion_date as varchar(10)) as ingestion_date, raw_key,
  cast(rows_raw as integer) as rows_raw, staged_key, quarantine_key, cast(rows_staged as integer) as rows_staged,
  cast(rows_quarantined as integer) as rows_quarantined`;

/** Records a raw batch; a replay of the same batch id replaces its row and starts its journey again. */
export async function registerBatch(
  db: SqlDatabase,
  batch: {
    batchId: string;
    source: string;
    kind: BatchKind;
    ingestionDate: string;
    rawKey: string;
    rows: number;
    at: Date;
  },
): Promise<void> {
  await db.query('delete from ops.batches where batch_id = $1', [batch.batchId]);
  await db.query(
    `insert into ops.batches (batch_id, source, source_kind, ingestion_date, raw_key, rows_raw, extracted_at)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [batch.batchId, batch.source, batch.kind, batch.ingestionDate, batch.rawKey, batch.rows, batch.at],
  );
}

/** Batches the `validate` job works on: every new batch except the stream service's own. */
export async function batchesAwaitingValidation(db: SqlDatabase): Promise<BatchRow[]> {
  return db.query<BatchRow & Record<string, unknown>>(
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is null and source_kind <> 'stream' and ${IN_FLOW}
     order by extracted_at, batch_id`,
  );
}

/** Batches the `load` job works on: every validated batch not loaded yet, except the stream service's own. */
export async function batchesAwaitingLoad(db: SqlDatabase): Promise<BatchRow[]> {
  return db.query<BatchRow & Record<string, unknown>>(
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is not null and loaded_at is null
       and source_kind <> 'stream' and ${IN_FLOW}
     order by extracted_at, batch_id`,
  );
}

/** A stream-service batch still to validate, load and apply, with the registration time that versions it. */
export interface PendingStreamBatch extends BatchRow {
  extracted_at: Date;
}

/**
 * The stream service's batches not applied yet (loaded_at is set in the same transaction as the silver update),
 * oldest first. A batch registered again (a replay) gets a new extracted_at: work done on the older version is
 * refused when it commits (see stillRegistered).
 */
export async function pendingStreamBatches(db: SqlDatabase, limit: number): Promise<PendingStreamBatch[]> {
  return db.query<PendingStreamBatch & Record<string, unknown>>(
    `select ${BATCH_COLUMNS}, extracted_at from ops.batches where source_kind = 'stream' and loaded_at is null
       and ${IN_FLOW}
     order by extracted_at, batch_id limit ${Math.max(1, Math.floor(limit))}`,
  );
}

/** Stream-service batches not applied yet, and their events: the service's backlog. */
export async function streamBacklog(db: SqlDatabase): Promise<{ batches: number; events: number }> {
  const [row] = await db.query<{ batches: number; events: number }>(
    `select cast(count(*) as integer) as batches, cast(coalesce(sum(rows_raw), 0) as bigint) as events
     from ops.batches where source_kind = 'stream' and loaded_at is null and ${IN_FLOW}`,
  );
  return { batches: Number(row?.batches ?? 0), events: Number(row?.events ?? 0) };
}

/**
 * True while the ledger still holds this registration of the batch in the flow: no replay re-registered it, and no
 * operator skipped it, meanwhile.
 */
export async function stillRegistered(db: SqlDatabase, batchId: string, extractedAt: Date): Promise<boolean> {
  const [row] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ops.batches where batch_id = $1 and extracted_at = $2 and ${IN_FLOW}`,
    [batchId, extractedAt],
  );
  return Number(row?.n ?? 0) === 1;
}

export async function markValidated(
  db: SqlDatabase,
  batchId: string,
  result: {
    stagedKey: string;
    quarantineKey: string | null;
    staged: number;
    quarantined: number;
    rescued: number;
    at: Date;
  },
): Promise<void> {
  await db.query(
    `update ops.batches set staged_key = $2, quarantine_key = $3, rows_staged = $4, rows_quarantined = $5,
       rows_rescued = $6, validated_at = $7, rows_loaded = null, loaded_at = null
     where batch_id = $1`,
    [
      batchId,
      result.stagedKey,
      result.quarantineKey,
      result.staged,
      result.quarantined,
      result.rescued,
      result.at,
    ],
  );
}

export async function markLoaded(
  db: SqlDatabase,
  batchId: string,
  rowsLoaded: number,
  at: Date,
): Promise<void> {
  await db.query('update ops.batches set rows_loaded = $2, loaded_at = $3 where batch_id = $1', [
    batchId,
    rowsLoaded,
    at,
  ]);
}

/** Where a batch stands: in the flow (pending, loaded) or out of it (failed until retried, skipped for good). */
export type BatchStatus = 'pending' | 'loaded' | 'failed' | 'skipped';
export const BATCH_STATUSES: readonly BatchStatus[] = ['pending', 'loaded', 'failed', 'skipped'];

const STATUS_SQL = `case when skipped_at is not null then 'skipped' when failed_at is not null then 'failed'
  when loaded_at is not null then 'loaded' else 'pending' end`;

/** A batch as the operator tool and the monitor show it. */
export interface BatchState {
  batch_id: string;
  source: string;
  source_kind: BatchKind;
  status: BatchStatus;
  rows_raw: number;
  /** Rows the last load put in bronze (null until loaded). */
  rows_loaded: number | null;
  raw_key: string;
  staged_key: string | null;
  extracted_at: Date;
  failed_at: Date | null;
  failed_step: BatchStep | null;
  failure_reason: string | null;
  failed_run_id: string | null;
  skipped_at: Date | null;
  skip_reason: string | null;
}

const STATE_COLUMNS = `batch_id, source, source_kind, ${STATUS_SQL} as status, cast(rows_raw as integer) as rows_raw,
  cast(rows_loaded as integer) as rows_loaded, raw_key, staged_key, extracted_at, failed_at, failed_step, failure_reason, failed_run_id, skipped_at, skip_reason`;

const STATUS_FILTER: Record<BatchStatus | 'all', string> = {
  pending: `loaded_at is null and ${IN_FLOW}`,
  loaded: `loaded_at is not null and ${IN_FLOW}`,
  failed: 'failed_at is not null and skipped_at is null',
  skipped: 'skipped_at is not null',
  all: '1 = 1',
};

export async function batchState(db: SqlDatabase, batchId: string): Promise<BatchState | undefined> {
  const [row] = await db.query<BatchState & Record<string, unknown>>(
    `select ${STATE_COLUMNS} from ops.batches where batch_id = $1`,
    [batchId],
  );
  return row;
}

/** Batches in one status (or all), the most recent first, at most `limit`, with how many there are in all. */
export async function listBatches(
  db: SqlDatabase,
  options: { status: BatchStatus | 'all'; limit: number; runId?: string },
): Promise<{ batches: BatchState[]; total: number }> {
  const where = `${STATUS_FILTER[options.status]}${options.runId ? ' and failed_run_id = $1' : ''}`;
  const params = options.runId ? [options.runId] : [];
  const batches = await db.query<BatchState & Record<string, unknown>>(
    `select ${STATE_COLUMNS} from ops.batches where ${where}
     order by coalesce(skipped_at, failed_at, extracted_at) desc, batch_id
     limit ${Math.max(1, Math.floor(options.limit))}`,
    params,
  );
  const [count] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from ops.batches where ${where}`,
    params,
  );
  return { batches, total: Number(count?.n ?? 0) };
}

/** Batches that failed and wait for an operator, oldest failure first; `runId`: only those this run failed. */
export async function failedBatches(db: SqlDatabase, runId?: string): Promise<BatchState[]> {
  const { batches } = await listBatches(db, { status: 'failed', limit: 1000, runId });
  return batches.reverse();
}

/** Why and where a batch failed; `runId` is the run that failed it (null when no run is at hand). */
export interface BatchFailure {
  batchId: string;
  step: BatchStep;
  reason: string;
  at: Date;
  runId?: string | null;
}

/**
 * Takes a batch out of the flow because its own data failed a step: every queue leaves it alone until an operator
 * retries it (clearBatchFailure) or skips it. In the same transaction its rows leave bronze and
 * ops.quarantine_rows and it stops counting as loaded, so a batch that fails after loading (a silver cast error
 * traced back to it) no longer feeds silver: the next silver build (transform rebuilds every silver table from
 * bronze) leaves its rows out. Takes the bronze table's write lock: call it before taking silver locks, as the
 * stream applier orders them. Nested in a caller's transaction it joins it.
 */
export async function markBatchFailed(db: SqlDatabase, failure: BatchFailure): Promise<void> {
  await db.transaction(async (tx) => {
    await removeFromWarehouse(tx, failure.batchId);
    await tx.query(
      `update ops.batches set failed_at = $2, failed_step = $3, failure_reason = $4, failed_run_id = $5,
         rows_loaded = null, loaded_at = null
       where batch_id = $1`,
      [failure.batchId, failure.at, failure.step, failure.reason.slice(0, 4000), failure.runId ?? null],
    );
  });
}

/**
 * Puts a failed batch back at the step that failed: validate reads it from raw again (its staged and quarantined
 * objects are rewritten), load and transform failures load it again (`revalidate`: from raw again too, when its
 * staged object is gone), and a stream-service batch goes back to the service's applier (which validates, loads
 * and applies in one go).
 */
export async function clearBatchFailure(
  db: SqlDatabase,
  batchId: string,
  options: { revalidate?: boolean } = {},
): Promise<void> {
  const batch = await batchState(db, batchId);
  if (batch?.status !== 'failed') throw new Error(`batch ${batchId} has not failed`);
  const revalidate =
    batch.failed_step === 'validate' || options.revalidate
      ? `, validated_at = null, staged_key = null, quarantine_key = null, rows_staged = null,
         rows_quarantined = null, rows_rescued = null`
      : '';
  await db.query(
    `update ops.batches set failed_at = null, failed_step = null, failure_reason = null, failed_run_id = null,
       rows_loaded = null, loaded_at = null${revalidate}
     where batch_id = $1`,
    [batchId],
  );
}

/**
 * Puts a loaded batch back in the load queue (the stream service's applier for a stream batch): its next load replaces
 * its bronze rows (load deletes by `_batch_id` first), so rows lost from bronze come back and none doubles.
 * `revalidate` stages it from raw again when its staged object is gone.
 */
export async function markBatchForReload(
  db: SqlDatabase,
  batchId: string,
  options: { revalidate?: boolean } = {},
): Promise<void> {
  const batch = await batchState(db, batchId);
  if (batch?.status !== 'loaded') throw new Error(`batch ${batchId} is not loaded`);
  const revalidate = options.revalidate
    ? `, validated_at = null, staged_key = null, quarantine_key = null, rows_staged = null,
         rows_quarantined = null, rows_rescued = null`
    : '';
  await db.query(
    `update ops.batches set rows_loaded = null, loaded_at = null${revalidate} where batch_id = $1`,
    [batchId],
  );
}

/** Takes a batch out of every queue for good; its rows never reach bronze (any there are removed). */
export async function markBatchSkipped(
  db: SqlDatabase,
  skip: { batchId: string; reason: string; at: Date },
): Promise<void> {
  await db.transaction(async (tx) => {
    await removeFromWarehouse(tx, skip.batchId);
    await tx.query(
      'update ops.batches set skipped_at = $2, skip_reason = $3, rows_loaded = null, loaded_at = null where batch_id = $1',
      [skip.batchId, skip.at, skip.reason.slice(0, 4000)],
    );
  });
}

async function removeFromWarehouse(tx: SqlDatabase, batchId: string): Promise<void> {
  const [batch] = await tx.query<{ source: string }>('select source from ops.batches where batch_id = $1', [
    batchId,
  ]);
  if (!batch) throw new Error(`no batch ${batchId} in the ledger (ops.batches)`);
  const table = `bronze.${contractFor(batch.source).table}`;
  await tx.exec(lockForWriteSql(table, tx.dialect));
  await tx.query(`delete from ${table} where _batch_id = $1`, [batchId]);
  await tx.query('delete from ops.quarantine_rows where batch_id = $1', [batchId]);
}
