/**
 * What `ecomm batches list|retry|skip|reload` (the entry is index.ts) does to batches held back because their own data
 * failed a step (jobs/ops/batch-failures.ts). Every retry and skip is audited in ops.batch_actions (run id, action,
 * batch, the state before, the operator's reason, who) and recorded in ops.pipeline_runs, like `quarantine replay`.
 *
 * - retry puts a failed batch back at the step that failed and, for a batch of the batch jobs, runs that step and
 *   the load for it at once (validate reads the raw object again; load reloads the staged one). A stream-service
 *   batch goes back to the service's applier, which validates, loads and applies it in its next round.
 * - skip takes a failed or pending batch out of every queue for good: its rows never reach bronze.
 * - reload loads a loaded batch again from its staged object (from raw when that is gone): its bronze rows are
 *   replaced, never doubled. For rows lost from bronze (a backfill's repair, a hand-made delete): the runbooks'
 *   remedy when `bronze.<table>:row_count_reconciliation` fails for a batch.
 * Either way its incident resolves once the batch is loaded or skipped.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import type { JobContext } from '../context.ts';
import { runLoad } from '../load/index.ts';
import { clearBatchDecision, recordBatchDecision } from '../ops/batch-decisions.ts';
import { reportBatchFailures } from '../ops/batch-failures.ts';
import {
  type BatchState,
  type BatchStatus,
  batchState,
  clearBatchFailure,
  markBatchForReload,
  markBatchSkipped,
} from '../ops/batches.ts';
import { operatorName } from '../ops/operations.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { runValidate } from '../validate/index.ts';

export type BatchAction = 'retry' | 'skip' | 'reload';

/** A bad batch id or a batch in the wrong state for the action: the CLI exits 2 with this message. */
export class BatchActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchActionError';
  }
}

export interface BatchActionReport {
  action: BatchAction;
  before: BatchState;
  after: BatchState;
  /** retry of a stream-service batch: requeued for the service's applier, not processed here. */
  requeuedForStream: boolean;
}

async function existingBatch(db: SqlDatabase, batchId: string): Promise<BatchState> {
  const batch = await batchState(db, batchId);
  if (!batch) throw new BatchActionError(`no batch ${batchId} in the ledger (ops.batches)`);
  return batch;
}

/** Puts a failed batch back at its failed step and, unless the stream service owns it, processes it now. */
export async function retryBatch(context: JobContext, batchId: string): Promise<BatchActionReport> {
  const db = await context.warehouse();
  const before = await existingBatch(db, batchId);
  if (before.status !== 'failed') {
    throw new BatchActionError(
      `batch ${batchId} is ${before.status}, not failed: only a failed batch can be retried`,
    );
  }
  const revalidate = await stagedObjectLost(context, before);
  const startedAt = context.now();
  // The lake's copy first: a retry that fails after it is run again, and a rebuild then takes the batch in.
  await clearBatchDecision(context.lake(), batchId, { at: context.now(), runId: context.runId });
  await db.transaction(async (tx) => {
    await clearBatchFailure(tx, batchId, { revalidate });
    await recordAction(tx, context, { action: 'retry', before, reason: null });
  });
  const requeuedForStream = before.source_kind === 'stream';
  if (!requeuedForStream) {
    await runValidate(context, { batchIds: [batchId] });
    await runLoad(context, { batchIds: [batchId] });
  }
  const after = await existingBatch(db, batchId);
  await recordRun(db, {
    runId: context.runId,
    job: 'batches',
    step: 'retry',
    batchId,
    status: after.status === 'failed' ? 'failed' : 'succeeded',
    startedAt,
    finishedAt: context.now(),
    message: `retry of a batch failed at ${before.failed_step}: now ${after.status}`,
  });
  return { action: 'retry', before, after, requeuedForStream };
}

/** Loads a loaded batch again (rows replaced by `_batch_id`), with the operator's reason; a stream batch is requeued. */
export async function reloadBatch(
  context: JobContext,
  batchId: string,
  reason: string,
): Promise<BatchActionReport> {
  const db = await context.warehouse();
  const before = await existingBatch(db, batchId);
  if (reason.trim() === '') throw new BatchActionError('reload needs a --reason: the audit keeps why');
  if (before.status !== 'loaded') {
    throw new BatchActionError(
      `batch ${batchId} is ${before.status}, not loaded: reload is for a loaded batch (a failed one: batches retry)`,
    );
  }
  const revalidate = await stagedObjectLost(context, before);
  const startedAt = context.now();
  await db.transaction(async (tx) => {
    await markBatchForReload(tx, batchId, { revalidate });
    await recordAction(tx, context, { action: 'reload', before, reason: reason.trim() });
  });
  const requeuedForStream = before.source_kind === 'stream';
  if (!requeuedForStream) {
    if (revalidate) await runValidate(context, { batchIds: [batchId] });
    await runLoad(context, { batchIds: [batchId] });
  }
  const after = await existingBatch(db, batchId);
  await recordRun(db, {
    runId: context.runId,
    job: 'batches',
    step: 'reload',
    batchId,
    status: after.status === 'failed' ? 'failed' : 'succeeded',
    startedAt,
    finishedAt: context.now(),
    message: `reload of a loaded batch (${before.rows_loaded ?? 0} rows): now ${after.status}: ${reason.trim()}`,
  });
  return { action: 'reload', before, after, requeuedForStream };
}

/**
 * A load can only be retried from its staged object; when that is gone, the batch is staged again from raw. Only
 * a batch with a raw object of its own can be: a quarantine replay batch shares the original batch's raw object.
 */
async function stagedObjectLost(context: JobContext, batch: BatchState): Promise<boolean> {
  if (batch.source_kind === 'stream' || batch.failed_step === 'validate') return false;
  if (batch.staged_key && (await context.lake().head(batch.staged_key))) return false;
  if (!batch.raw_key.includes(`/${batch.batch_id}.`)) {
    throw new BatchActionError(
      `batch ${batch.batch_id}: its staged object ${batch.staged_key ?? '(none)'} is gone and it has no raw ` +
        'object of its own to stage it from again (a quarantine replay batch: replay the quarantine again, then skip this one)',
    );
  }
  return true;
}

/** Takes a failed or pending batch out of every queue for good, with the operator's reason. */
export async function skipBatch(
  context: JobContext,
  batchId: string,
  reason: string,
): Promise<BatchActionReport> {
  const db = await context.warehouse();
  const before = await existingBatch(db, batchId);
  if (reason.trim() === '') throw new BatchActionError('skip needs a --reason: the audit keeps why');
  if (before.status === 'skipped') throw new BatchActionError(`batch ${batchId} is skipped already`);
  if (before.status === 'loaded') {
    throw new BatchActionError(
      `batch ${batchId} is loaded: skip takes a failed or pending batch out of the queues, not a loaded one`,
    );
  }
  const startedAt = context.now();
  // The lake's copy first (a rebuild leaves the batch out too): a skip that fails after it is run again.
  await recordBatchDecision(context.lake(), {
    batch_id: batchId,
    decision: 'skipped',
    step: before.failed_step,
    reason: reason.trim(),
    at: context.now(),
    run_id: context.runId,
  });
  await db.transaction(async (tx) => {
    await markBatchSkipped(tx, { batchId, reason: reason.trim(), at: context.now() });
    await recordAction(tx, context, { action: 'skip', before, reason: reason.trim() });
  });
  await reportBatchFailures(db, { runId: context.runId, now: context.now() });
  await recordRun(db, {
    runId: context.runId,
    job: 'batches',
    step: 'skip',
    batchId,
    status: 'succeeded',
    startedAt,
    finishedAt: context.now(),
    message: `skipped (was ${before.status}): ${reason.trim()}`,
  });
  return { action: 'skip', before, after: await existingBatch(db, batchId), requeuedForStream: false };
}

async function recordAction(
  db: SqlDatabase,
  context: JobContext,
  action: { action: BatchAction; before: BatchState; reason: string | null },
): Promise<void> {
  await db.query(
    `insert into ops.batch_actions (batch_id, action, previous_status, previous_step, previous_reason, reason, actor,
       run_id, acted_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      action.before.batch_id,
      action.action,
      action.before.status,
      action.before.failed_step,
      action.before.failure_reason?.slice(0, 4000) ?? null,
      action.reason?.slice(0, 4000) ?? null,
      operatorName(),
      context.runId,
      context.now(),
    ],
  );
}

const at = (value: Date | null) => (value ? new Date(value).toISOString().replace('.000Z', 'Z') : '-');

/** One line per batch, and what to do next. */
export function formatBatchList(batches: BatchState[], total: number, status: BatchStatus | 'all'): string[] {
  if (batches.length === 0) return [`no ${status === 'all' ? '' : `${status} `}batches`];
  const lines = batches.map((batch) => {
    const when = batch.status === 'skipped' ? batch.skipped_at : (batch.failed_at ?? batch.extracted_at);
    const why =
      batch.status === 'skipped'
        ? `skipped: ${batch.skip_reason ?? ''}${batch.failure_reason ? ` (had failed at ${batch.failed_step}: ${batch.failure_reason})` : ''}`
        : batch.status === 'failed'
          ? `failed at ${batch.failed_step}: ${batch.failure_reason ?? ''}`
          : batch.status;
    return `${batch.batch_id}  ${batch.source} (${batch.source_kind})  ${batch.status}  ${at(when)}  ${batch.rows_raw} rows  ${why.slice(0, 500)}`;
  });
  if (total > batches.length) lines.push(`(${batches.length} of ${total} shown, most recent first)`);
  if (batches.some((batch) => batch.status === 'failed'))
    lines.push(
      'retry after a fix: ecomm batches retry --batch <id>; give up on one: ecomm batches skip --batch <id> --reason …',
    );
  return lines;
}

export function formatActionReport(report: BatchActionReport): string[] {
  const { before, after } = report;
  if (report.action === 'skip')
    return [
      `skipped ${before.batch_id} (was ${before.status}): ${after.skip_reason ?? ''}; audit in ops.batch_actions`,
    ];
  if (report.action === 'reload') return reloadReport(report);
  if (report.requeuedForStream)
    return [
      `retry ${before.batch_id}: back in the stream service's queue (failed at ${before.failed_step}); ` +
        'its applier validates, loads and applies it in its next round',
    ];
  if (after.status === 'failed')
    return [`retry ${before.batch_id}: failed again at ${after.failed_step}: ${after.failure_reason ?? ''}`];
  return [
    `retry ${before.batch_id}: ${after.status} (had failed at ${before.failed_step}); silver and gold take it in at the next transform`,
  ];
}

function reloadReport({ before, after, requeuedForStream }: BatchActionReport): string[] {
  if (requeuedForStream)
    return [`reload ${before.batch_id}: back in the stream service's queue; its applier loads it again`];
  if (after.status === 'failed')
    return [`reload ${before.batch_id}: failed at ${after.failed_step}: ${after.failure_reason ?? ''}`];
  return [
    `reload ${before.batch_id}: ${after.rows_loaded ?? 0} rows in bronze (had ${before.rows_loaded ?? 0}); ` +
      'silver and gold take it in at the next transform; audit in ops.batch_actions',
  ];
}
