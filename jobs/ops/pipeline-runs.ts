import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';

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

/** What a finished unit of work reports to pipeline_runs; fields left out keep the unit's defaults. */
export type StepOutcome = Partial<
  Pick<RunRecord, 'step' | 'batchId' | 'status' | 'rowsIn' | 'rowsOut' | 'rowsQuarantined' | 'message'>
>;

/**
 * Runs one unit of a job (a table, a batch) and records it: a pipeline_runs row on success or failure, then the
 * unit's lineage event, so every job reports the same way and a failure is recorded before it propagates.
 */
export async function recordStep<T>(
  context: JobContext,
  unit: { job: string; step: string; batchId?: string | null },
  work: () => Promise<T>,
  report: {
    outcome: (result: T) => StepOutcome;
    lineage: (startedAt: Date, result: T | null, error?: unknown) => Promise<void>;
  },
): Promise<T> {
  const warehouse = await context.warehouse();
  const startedAt = context.now();
  const base = {
    runId: context.runId,
    job: unit.job,
    step: unit.step,
    batchId: unit.batchId ?? null,
    startedAt,
  };
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await recordRun(warehouse, {
      ...base,
      status: 'failed',
      finishedAt: context.now(),
      message: (error as Error).message,
    });
    await report.lineage(startedAt, null, error);
    throw error;
  }
  await recordRun(warehouse, {
    ...base,
    status: 'succeeded',
    finishedAt: context.now(),
    ...report.outcome(result),
  });
  await report.lineage(startedAt, result);
  return result;
}
