/**
 * One bad batch never holds back the others: a job that fails on a batch's own data marks that batch failed and
 * goes on with the next one (isolateBatchFailure), and every failed batch becomes a finding in ops.dq_findings and
 * an incident that queues an alert (reportBatchFailures). The incident resolves once the batch is retried and
 * loaded, or skipped (`ecomm batches`). An outage or a stop request is not the batch's fault: it is rethrown.
 */
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { type IncidentFinding, openIncidents } from '../alerts/incident-rows.ts';
import { reconcileIncidents } from '../alerts/incidents.ts';
import { LAYER_OWNERS } from '../alerts/owners.ts';
import type { JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { type BatchDecision, recordBatchDecision } from './batch-decisions.ts';
import { type BatchStep, classifyBatchError } from './batch-errors.ts';
import { type BatchFailure, type BatchState, batchState, failedBatches, markBatchFailed } from './batches.ts';
import { type Finding, recordFindings } from './dq-findings.ts';

export const BATCH_FAILED_CHECK = 'batch_failed';

/** One incident per failed batch: its check id. */
export function batchCheckId(batchId: string): string {
  return `${BATCH_FAILED_CHECK}:${batchId}`;
}

/**
 * Marks the batch failed when the error is its own data's fault and returns the failure; rethrows an outage or a
 * stop request unchanged (the job fails, or stops, as it always did).
 */
export async function isolateBatchFailure(
  context: JobContext,
  batchId: string,
  step: BatchStep,
  error: unknown,
): Promise<BatchFailure> {
  if (classifyBatchError(error) !== 'data') throw error;
  const failure: BatchFailure = {
    batchId,
    step,
    reason: (error as Error)?.message ?? String(error),
    at: context.now(),
    runId: context.runId,
  };
  await markBatchFailed(await context.warehouse(), failure);
  await recordBatchDecision(context.lake(), failedDecision(failure));
  context.log.warn(
    { batchId, step, error: failure.reason },
    'batch failed on its own data: marked failed, the other batches go on',
  );
  return failure;
}

/** A failure as the lake's copy of the ledger's decisions keeps it (batch-decisions.ts). */
export function failedDecision(failure: BatchFailure): Omit<BatchDecision, 'at'> & { at: Date } {
  return {
    batch_id: failure.batchId,
    decision: 'failed',
    step: failure.step,
    reason: failure.reason,
    at: failure.at,
    run_id: failure.runId ?? null,
  };
}

export interface BatchFailureReport {
  /** Failed batches newly reported (no open incident yet). */
  raised: BatchState[];
  /** Batches whose incident resolved: loaded after a retry, skipped, or no longer in the ledger. */
  resolved: string[];
  /** Batches whose incident is still open after this report. */
  open: string[];
}

/**
 * Whose batches a reporter raises and resolves: the stream service its own, the batch jobs the others, so two
 * processes never open two incidents for one batch; the operator tool, all of them.
 */
export type BatchReportScope = 'stream' | 'batch' | 'all';

const inScope = (scope: BatchReportScope, kind: string) =>
  scope === 'all' || (scope === 'stream') === (kind === 'stream');

/**
 * Brings findings and incidents in line with the ledger: a failing finding for each failed batch with no open
 * incident yet, a passing one for each open batch incident whose batch has since loaded or been skipped (or left
 * the ledger). A batch retried but not processed yet keeps its incident open. Writes nothing when nothing changed,
 * so a batch left failed does not fill ops.dq_findings run after run.
 */
export async function reportBatchFailures(
  db: SqlDatabase,
  run: { runId: string; now: Date },
  scope: BatchReportScope = 'all',
): Promise<BatchFailureReport> {
  const open = new Map(
    (await openIncidents(db))
      .filter((incident) => incident.check_id.startsWith(`${BATCH_FAILED_CHECK}:`))
      .map((incident) => [incident.check_id, incident]),
  );
  const failed = (await failedBatches(db)).filter((batch) => inScope(scope, batch.source_kind));
  // A retry that fails again keeps the incident it already has open (the ledger holds the latest reason).
  const raised = failed.filter((batch) => !open.has(batchCheckId(batch.batch_id)));
  const stillFailing = new Set(failed.map((batch) => batchCheckId(batch.batch_id)));
  const resolved: { batchId: string; batch: BatchState | undefined }[] = [];
  for (const checkId of open.keys()) {
    if (stillFailing.has(checkId)) continue;
    const batchId = checkId.slice(BATCH_FAILED_CHECK.length + 1);
    const batch = await batchState(db, batchId);
    if (batch && !inScope(scope, batch.source_kind)) continue;
    if (!batch || batch.status === 'loaded' || batch.status === 'skipped') resolved.push({ batchId, batch });
  }
  const stillOpen = [...open.keys(), ...raised.map((batch) => batchCheckId(batch.batch_id))]
    .map((checkId) => checkId.slice(BATCH_FAILED_CHECK.length + 1))
    .filter((batchId) => !resolved.some((entry) => entry.batchId === batchId));
  if (raised.length === 0 && resolved.length === 0) return { raised: [], resolved: [], open: stillOpen };
  const findings = [
    ...raised.map((batch) => failingFinding(batch)),
    ...resolved.map(({ batchId, batch }) => resolvedFinding(batchId, batch)),
  ];
  await recordFindings(db, run.runId, findings, run.now);
  await reconcileIncidents(db, findings.map(incidentFinding), run);
  return { raised, resolved: resolved.map(({ batchId }) => batchId), open: stillOpen };
}

function tableOf(source: string | undefined): string {
  try {
    return source ? `bronze.${contractFor(source).table}` : 'ops.batches';
  } catch {
    return 'ops.batches';
  }
}

/** Warn, not blocking: a failed batch is isolated so that promotion goes on with everything else. */
function failingFinding(batch: BatchState): Finding {
  return {
    checkId: batchCheckId(batch.batch_id),
    layer: 'bronze',
    tableName: tableOf(batch.source),
    checkType: BATCH_FAILED_CHECK,
    severity: 'warn',
    passed: false,
    failingRows: Number(batch.rows_raw),
    details:
      `${batch.source} batch ${batch.batch_id} failed at ${batch.failed_step}: ${batch.failure_reason ?? ''}; ` +
      `its rows are held back: ecomm batches retry --batch ${batch.batch_id} (after a fix) or skip it`,
  };
}

function resolvedFinding(batchId: string, batch: BatchState | undefined): Finding {
  return {
    checkId: batchCheckId(batchId),
    layer: 'bronze',
    tableName: tableOf(batch?.source),
    checkType: BATCH_FAILED_CHECK,
    severity: 'warn',
    passed: true,
    failingRows: 0,
    details: !batch
      ? `batch ${batchId} is no longer in the ledger`
      : batch.status === 'skipped'
        ? `batch ${batchId} skipped: ${batch.skip_reason ?? ''}`
        : `batch ${batchId} loaded after a retry`,
  };
}

/** A failed batch pages: its rows are missing downstream until someone retries or skips it. */
function incidentFinding(finding: Finding): IncidentFinding {
  return {
    checkId: finding.checkId,
    checkType: finding.checkType,
    tableName: finding.tableName,
    severity: 'critical',
    owner: LAYER_OWNERS.bronze ?? 'data-platform',
    passed: finding.passed,
    failingRows: finding.failingRows,
    details: finding.details,
  };
}

/** What a job prints about the batches it held back in this run (it exits 0: they are in the ledger). */
export async function heldBackLines(context: JobContext, job: 'validate' | 'load'): Promise<string[]> {
  const held = await failedBatches(await context.warehouse(), context.runId);
  return held.map(
    (batch) =>
      `${job} ${batch.batch_id}: FAILED, held back (ecomm batches list): ${(batch.failure_reason ?? '').slice(0, 500)}`,
  );
}
