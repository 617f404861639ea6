import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

/** One raw batch and how far it has travelled: the ledger validate and load work from. */
export interface BatchRow {
  batch_id: string;
  source: string;
  source_kind: 'table' | 'topic';
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
    kind: 'table' | 'topic';
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

export async function batchesAwaitingValidation(db: SqlDatabase): Promise<BatchRow[]> {
  return db.query<BatchRow & Record<string, unknown>>(
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is null order by extracted_at, batch_id`,
  );
}

export async function batchesAwaitingLoad(db: SqlDatabase): Promise<BatchRow[]> {
  return db.query<BatchRow & Record<string, unknown>>(
    `select ${BATCH_COLUMNS} from ops.batches where validated_at is not null and loaded_at is null
     order by extracted_at, batch_id`,
  );
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
