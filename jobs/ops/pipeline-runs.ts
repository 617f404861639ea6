import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';

export type RunStatus = 'succeeded' | 'failed' | 'skipped';

export interface RunRecord {
  runId: string;
  job: string;
  step: string;
  batchId?: string | null;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date;
  rowsIn?: number | null;
  rowsOut?: number | null;
  rowsQuarantined?: number | null;
  message?: string | null;
}

export async function recordRun(db: SqlDatabase, record: RunRecord): Promise<void> {
  await db.query(
    `insert into ops.pipeline_runs (run_id, job, step, batch_id, status, started_at, finished_at, duration_ms,
       rows_in, rows_out, rows_quarantined, message)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      record.runId,
      record.job,
      record.step,
      record.batchId ?? null,
      record.status,
      record.startedAt,
      record.finishedAt,
      record.finishedAt.getTime() - record.startedAt.getTime(),
      record.rowsIn ?? null,
      record.rowsOut ?? null,
      record.rowsQuarantined ?? null,
      record.message === undefined || record.message === null ? null : record.message.slice(0, 4000),
    ],
  );
}
