import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';

/**
 * `running` and `abandoned` are for a run's own row only (runRowStart): written at start, finished by the run, or
 * marked abandoned once its heartbeat is older than the lease (the process died).
 */
export type RunStatus = 'succeeded' | 'failed' | 'skipped' | 'running' | 'abandoned';

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

/** The job and step of `ecomm run`'s own row in ops.pipeline_runs. */
export const RUN_ROW = { job: 'run', step: 'pipeline' } as const;

/** A run's own row (`ecomm run`: job run, step pipeline), written before any work so a run that dies leaves a trace. */
export interface RunRow {
  runId: string;
  job: string;
  step: string;
  startedAt: Date;
  executionId: string | null;
  /** The failed or abandoned attempt this run resumes after. */
  resumedFromRunId: string | null;
}

export async function startRunRow(db: SqlDatabase, row: RunRow): Promise<void> {
  await db.query(
    `insert into ops.pipeline_runs (run_id, job, step, status, started_at, heartbeat_at, execution_id,
       resumed_from_run_id)
     values ($1, $2, $3, 'running', $4, $4, $5, $6)`,
    [row.runId, row.job, row.step, row.startedAt, row.executionId, row.resumedFromRunId],
  );
}

/**
 * Finishes a run row. A row marked abandoned meanwhile (its heartbeat went stale: a run outside the CLI holds no
 * lease and sends none, or the process was paused past the lease) is finished too: the row says what the run did.
 */
export async function finishRunRow(
  db: SqlDatabase,
  row: Pick<RunRow, 'runId' | 'job' | 'step' | 'startedAt'>,
  outcome: { status: 'succeeded' | 'failed'; finishedAt: Date; message: string | null },
): Promise<void> {
  await db.query(
    `update ops.pipeline_runs set status = $4, finished_at = $5, duration_ms = $6, heartbeat_at = $5, message = $7
     where run_id = $1 and job = $2 and step = $3 and status in ('running', 'abandoned')`,
    [
      row.runId,
      row.job,
      row.step,
      outcome.status,
      outcome.finishedAt,
      outcome.finishedAt.getTime() - row.startedAt.getTime(),
      outcome.message === null ? null : outcome.message.slice(0, 4000),
    ],
  );
}

/** Renews the heartbeat of every row of the run still running (the lease's timer calls it). */
export async function heartbeatRunRows(db: SqlDatabase, runId: string, at: Date): Promise<void> {
  await db.query("update ops.pipeline_runs set heartbeat_at = $2 where run_id = $1 and status = 'running'", [
    runId,
    at,
  ]);
}

export interface AbandonedRun {
  runId: string;
  job: string;
  step: string;
  startedAt: Date;
  heartbeatAt: Date | null;
}

/**
 * Marks abandoned every run row still `running` whose heartbeat is older than `expirySeconds` (its process died
 * without finishing it), or that `holderRunId` names (the holder of a lease just taken over). Returns them. Read,
 * then update by key: Redshift has no RETURNING.
 */
export async function markAbandonedRuns(
  db: SqlDatabase,
  now: Date,
  expirySeconds: number,
  holderRunId: string | null = null,
): Promise<AbandonedRun[]> {
  const stale = await db.query<{
    run_id: string;
    job: string;
    step: string;
    started_at: unknown;
    heartbeat_at: unknown;
  }>(
    `select run_id, job, step, started_at, heartbeat_at from ops.pipeline_runs
     where status = 'running' and (coalesce(heartbeat_at, started_at) < $1 or run_id = $2)
     order by started_at`,
    [new Date(now.getTime() - expirySeconds * 1000), holderRunId ?? ''],
  );
  const abandoned = stale.map(
    (row): AbandonedRun => ({
      runId: row.run_id,
      job: row.job,
      step: row.step,
      startedAt: new Date(row.started_at as string),
      heartbeatAt: row.heartbeat_at === null ? null : new Date(row.heartbeat_at as string),
    }),
  );
  for (const run of abandoned) {
    const last = (run.heartbeatAt ?? run.startedAt).toISOString();
    await db.query(
      `update ops.pipeline_runs set status = 'abandoned', finished_at = $4, message = $5
       where run_id = $1 and job = $2 and step = $3 and status = 'running'`,
      [
        run.runId,
        run.job,
        run.step,
        now,
        `abandoned: no heartbeat since ${last} (the process died or lost its lease)`,
      ],
    );
  }
  return abandoned;
}
