/** Run history and data-quality trend: what ops.pipeline_runs and ops.dq_findings say about recent runs. */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { type RunState, runStateOf, toDate, toInt, toNumber } from './queries.ts';

export interface RunStep {
  job: string;
  step: string;
  batchId: string | null;
  status: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  rowsIn: number | null;
  rowsOut: number | null;
  rowsQuarantined: number | null;
  message: string | null;
}

export interface RunSummary {
  runId: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  jobs: string[];
  state: RunState;
  steps: RunStep[];
  /** Validate steps: rows passing their contract / rows checked. */
  validation: { rowsIn: number; rowsOut: number; rowsQuarantined: number } | null;
  checks: { passed: number; failedWarn: number; failedBlocking: number } | null;
}

export const RUN_HISTORY_LIMIT = 20;
const MAX_STEPS = 3000;

export async function loadRunHistory(db: SqlDatabase, limit = RUN_HISTORY_LIMIT): Promise<RunSummary[]> {
  const bounded = Math.max(1, Math.min(100, Math.floor(limit)));
  const recent = await db.query<{ run_id: string; started_at: unknown; finished_at: unknown }>(
    `select run_id, min(started_at) as started_at, max(finished_at) as finished_at
     from ops.pipeline_runs group by run_id order by 2 desc, 1 desc limit ${bounded}`,
  );
  if (recent.length === 0) return [];
  const ids = recent.map((row) => row.run_id);
  const placeholders = ids.map((_, index) => `$${index + 1}`).join(', ');
  const steps = await db.query<Record<string, unknown>>(
    `select run_id, job, step, batch_id, status, started_at, finished_at, cast(duration_ms as bigint) as duration_ms,
       cast(rows_in as bigint) as rows_in, cast(rows_out as bigint) as rows_out,
       cast(rows_quarantined as bigint) as rows_quarantined, substring(message, 1, 300) as message
     from ops.pipeline_runs where run_id in (${placeholders})
     order by started_at, job, step
     limit ${MAX_STEPS}`,
    ids,
  );
  const checks = await db.query<Record<string, unknown>>(
    `select run_id,
       cast(sum(case when status = 'pass' then 1 else 0 end) as integer) as passed,
       cast(sum(case when status = 'fail' and severity <> 'blocking' then 1 else 0 end) as integer) as failed_warn,
       cast(sum(case when status = 'fail' and severity = 'blocking' then 1 else 0 end) as integer) as failed_blocking
     from ops.dq_findings where run_id in (${placeholders}) group by run_id`,
    ids,
  );
  const checksOf = new Map(checks.map((row) => [String(row.run_id), row]));
  return recent.map((run): RunSummary => {
    const own = steps
      .filter((row) => row.run_id === run.run_id)
      .map(
        (row): RunStep => ({
          job: String(row.job),
          step: String(row.step),
          batchId: row.batch_id === null ? null : String(row.batch_id),
          status: String(row.status),
          startedAt: toDate(row.started_at),
          finishedAt: toDate(row.finished_at),
          durationMs: toNumber(row.duration_ms),
          rowsIn: toNumber(row.rows_in),
          rowsOut: toNumber(row.rows_out),
          rowsQuarantined: toNumber(row.rows_quarantined),
          message: row.message === null || row.message === undefined ? null : String(row.message),
        }),
      );
    const count = (status: string) => own.filter((step) => step.status === status).length;
    const validates = own.filter((step) => step.job === 'validate');
    const sum = (values: (number | null)[]) =>
      values.reduce<number>((total, value) => total + (value ?? 0), 0);
    const check = checksOf.get(run.run_id);
    return {
      runId: run.run_id,
      startedAt: toDate(run.started_at),
      finishedAt: toDate(run.finished_at),
      jobs: [...new Set(own.map((step) => step.job))],
      state: runStateOf({
        failed: count('failed'),
        running: count('running'),
        abandoned: count('abandoned'),
        total: own.length,
      }),
      steps: own,
      validation:
        validates.length === 0
          ? null
          : {
              rowsIn: sum(validates.map((step) => step.rowsIn)),
              rowsOut: sum(validates.map((step) => step.rowsOut)),
              rowsQuarantined: sum(validates.map((step) => step.rowsQuarantined)),
            },
      checks: check
        ? {
            passed: toInt(check.passed),
            failedWarn: toInt(check.failed_warn),
            failedBlocking: toInt(check.failed_blocking),
          }
        : null,
    };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Data quality.

export interface QualityPoint {
  runId: string;
  checkedAt: Date | null;
  passed: number;
  failedWarn: number;
  failedBlocking: number;
}

export interface Finding {
  checkId: string;
  layer: string;
  tableName: string;
  checkType: string;
  severity: string;
  status: string;
  failingRows: number;
  details: string | null;
  checkedAt: Date | null;
}

export interface RecurringFailure {
  checkId: string;
  severity: string;
  failedRuns: number;
  lastFailedAt: Date | null;
}

export interface Quality {
  /** Oldest first, up to the last QUALITY_TREND_RUNS runs that recorded checks. */
  trend: QualityPoint[];
  latestRunId: string | null;
  /** Every check of the latest run (failing first). */
  latest: Finding[];
  recurring: RecurringFailure[];
}

export const QUALITY_TREND_RUNS = 30;

export async function loadQuality(db: SqlDatabase): Promise<Quality> {
  const trend = (
    await db.query<Record<string, unknown>>(
      `select run_id, min(checked_at) as checked_at,
         cast(sum(case when status = 'pass' then 1 else 0 end) as integer) as passed,
         cast(sum(case when status = 'fail' and severity <> 'blocking' then 1 else 0 end) as integer) as failed_warn,
         cast(sum(case when status = 'fail' and severity = 'blocking' then 1 else 0 end) as integer) as failed_blocking
       from ops.dq_findings
       group by run_id
       order by 2 desc, 1 desc
       limit ${QUALITY_TREND_RUNS}`,
    )
  )
    .map(
      (row): QualityPoint => ({
        runId: String(row.run_id),
        checkedAt: toDate(row.checked_at),
        passed: toInt(row.passed),
        failedWarn: toInt(row.failed_warn),
        failedBlocking: toInt(row.failed_blocking),
      }),
    )
    .reverse();
  const latestRunId = trend.at(-1)?.runId ?? null;
  if (latestRunId === null) return { trend, latestRunId, latest: [], recurring: [] };
  const latest = (
    await db.query<Record<string, unknown>>(
      `select check_id, layer, table_name, check_type, severity, status, cast(failing_rows as bigint) as failing_rows,
         substring(details, 1, 500) as details, checked_at
       from ops.dq_findings where run_id = $1
       order by case when status = 'fail' then 0 else 1 end, case when severity = 'blocking' then 0 else 1 end,
         layer, check_id
       limit 1000`,
      [latestRunId],
    )
  ).map(
    (row): Finding => ({
      checkId: String(row.check_id),
      layer: String(row.layer),
      tableName: String(row.table_name),
      checkType: String(row.check_type),
      severity: String(row.severity),
      status: String(row.status),
      failingRows: toInt(row.failing_rows),
      details: row.details === null || row.details === undefined ? null : String(row.details),
      checkedAt: toDate(row.checked_at),
    }),
  );
  const ids = trend.map((point) => point.runId);
  const recurring = (
    await db.query<Record<string, unknown>>(
      `select check_id, max(severity) as severity, cast(count(distinct run_id) as integer) as failed_runs,
         max(checked_at) as last_failed_at
       from ops.dq_findings
       where status = 'fail' and run_id in (${ids.map((_, index) => `$${index + 1}`).join(', ')})
       group by check_id
       order by 3 desc, 4 desc, 1
       limit 20`,
      ids,
    )
  ).map(
    (row): RecurringFailure => ({
      checkId: String(row.check_id),
      severity: String(row.severity),
      failedRuns: toInt(row.failed_runs),
      lastFailedAt: toDate(row.last_failed_at),
    }),
  );
  return { trend, latestRunId, latest, recurring };
}

/** One thing an operator did by hand: a recovery operation (ops.operations) or a batch action (ops.batch_actions). */
export interface OperatorAction {
  at: Date | null;
  /** backfill, rebuild; retry, skip, reload. */
  action: string;
  actor: string | null;
  /** running, succeeded, failed for an operation; the batch's state before, for a batch action. */
  status: string;
  /** What it acted on: the operation's parameters, or the batch id. */
  target: string;
  /** The operation's outcome message, or the operator's reason. */
  note: string | null;
  runId: string;
}

export const OPERATOR_ACTION_LIMIT = 20;

/** The latest operator actions of both audits, newest first: who did what by hand, and how it ended. */
export async function loadOperatorActions(
  db: SqlDatabase,
  limit = OPERATOR_ACTION_LIMIT,
): Promise<OperatorAction[]> {
  const bounded = Math.max(1, Math.min(100, Math.floor(limit)));
  const operations = await db.query<Record<string, unknown>>(
    `select started_at, operation, actor, status, substring(parameters, 1, 300) as parameters,
       substring(message, 1, 300) as message, run_id
     from ops.operations order by started_at desc limit ${bounded}`,
  );
  const batchActions = await db.query<Record<string, unknown>>(
    `select acted_at, action, actor, previous_status, batch_id, substring(reason, 1, 300) as reason, run_id
     from ops.batch_actions order by acted_at desc limit ${bounded}`,
  );
  const text = (value: unknown) => (value === null || value === undefined ? null : String(value));
  const actions: OperatorAction[] = [
    ...operations.map((row) => ({
      at: toDate(row.started_at),
      action: String(row.operation),
      actor: text(row.actor),
      status: String(row.status),
      target: String(row.parameters),
      note: text(row.message),
      runId: String(row.run_id),
    })),
    ...batchActions.map((row) => ({
      at: toDate(row.acted_at),
      action: String(row.action),
      actor: text(row.actor),
      status: `was ${String(row.previous_status)}`,
      target: String(row.batch_id),
      note: text(row.reason),
      runId: String(row.run_id),
    })),
  ];
  return actions.sort((a, b) => (b.at?.getTime() ?? 0) - (a.at?.getTime() ?? 0)).slice(0, bounded);
}
