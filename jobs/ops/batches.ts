import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

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
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is null and source_kind <> 'stream'
     order by extracted_at, batch_id`,
  );
}

/** Batches the `load` job works on: every validated batch not loaded yet, except the stream service's own. */
export async function batchesAwaitingLoad(db: SqlDatabase): Promise<BatchRow[]> {
  return db.query<BatchRow & Record<string, unknown>>(
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is not null and loaded_at is null
       and source_kind <> 'stream'
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
     order by extracted_at, batch_id limit ${Math.max(1, Math.floor(limit))}`,
  );
}

/** Stream-service batches not applied yet, and their events: the service's backlog. */
export async function streamBacklog(db: SqlDatabase): Promise<{ batches: number; events: number }> {
  const [row] = await db.query<{ batches: number; events: number }>(
    `select cast(count(*) as integer) as batches, cast(coalesce(sum(rows_raw), 0) as bigint) as events
     from ops.batches where source_kind = 'stream' and loaded_at is null`,
  );
  return { batches: Number(row?.batches ?? 0), events: Number(row?.events ?? 0) };
}

/** True while the ledger still holds this registration of the batch (no replay re-registered it meanwhile). */
export async function stillRegistered(db: SqlDatabase, batchId: string, extractedAt: Date): Promise<boolean> {
  const [row] = await db.query<{ n: number }>(
    'select cast(count(*) as integer) as n from ops.batches where batch_id = $1 and extracted_at = $2',
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
