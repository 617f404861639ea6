/**
 * `ecomm batches list|retry|skip|reload`: the operator's tool for batches held back by their own bad data; and
 * `gaps|acknowledge-gap` for the events a topic's retention deleted before they were read (jobs/ops/stream-gaps.ts).
 */
import type { JobContext, PrintLine } from '../context.ts';
import { type BatchStatus, listBatches } from '../ops/batches.ts';
import { operatorName } from '../ops/operations.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import {
  acknowledgeStreamGap,
  GapAcknowledgementError,
  gapId,
  listStreamGaps,
  type StreamGapRow,
} from '../ops/stream-gaps.ts';
import {
  type BatchAction,
  BatchActionError,
  formatActionReport,
  formatBatchList,
  reloadBatch,
  retryBatch,
  skipBatch,
} from './batch-actions.ts';

export interface BatchesOptions {
  /** Which tool ran (default list). */
  action?: 'list' | BatchAction | 'gaps' | 'acknowledge-gap';
  batch?: string;
  /** acknowledge-gap: the gap, as `gaps` names it (`clickstream:p3:o1200`). */
  gap?: string;
  status?: BatchStatus | 'all';
  reason?: string;
}

/** Batches `list` shows at most, the most recent first. */
const LIST_LIMIT = 100;

const printToStderr: PrintLine = (line) => process.stderr.write(`${line}\n`);

/**
 * `ecomm batches`. Exit 0 when the action did what was asked, 1 when a retried batch failed again, 2 for an unknown
 * batch or one in the wrong state for the action (its message on `errors`).
 */
export async function run(
  context: JobContext,
  options: BatchesOptions,
  output: PrintLine,
  errors: PrintLine = printToStderr,
): Promise<number> {
  const action = options.action ?? 'list';
  try {
    if (action === 'list') {
      const status = options.status ?? 'failed';
      const { batches, total } = await listBatches(await context.warehouse(), { status, limit: LIST_LIMIT });
      for (const line of formatBatchList(batches, total, status)) output(line);
      return 0;
    }
    if (action === 'gaps') {
      for (const line of formatGapList(await listStreamGaps(await context.warehouse()))) output(line);
      return 0;
    }
    if (action === 'acknowledge-gap') {
      for (const line of await acknowledgeGap(context, options.gap ?? '', options.reason ?? '')) output(line);
      return 0;
    }
    const report = await act(context, action, options);
    for (const line of formatActionReport(report)) output(line);
    return report.after.status === 'failed' ? 1 : 0;
  } catch (error) {
    if (!(error instanceof BatchActionError || error instanceof GapAcknowledgementError)) throw error;
    errors(`ecomm: batches ${action}: ${error.message}`);
    return 2;
  }
}

function act(context: JobContext, action: BatchAction, options: BatchesOptions) {
  const batch = options.batch ?? '';
  if (action === 'retry') return retryBatch(context, batch);
  if (action === 'reload') return reloadBatch(context, batch, options.reason ?? '');
  return skipBatch(context, batch, options.reason ?? '');
}

function formatGapList(gaps: StreamGapRow[]): string[] {
  if (gaps.length === 0) return ['no retention gaps'];
  const lines = gaps.map((gap) => {
    const id = gapId({ topic: gap.topic, partition: gap.partition_id, expectedOffset: gap.expected_offset });
    const state =
      gap.acknowledged_at === null
        ? 'OPEN'
        : `acknowledged ${gap.acknowledged_at.toISOString()} by ${gap.acknowledged_by ?? 'unknown'}: ${gap.acknowledge_reason ?? ''}`;
    return `${id}  group ${gap.group_id}  ${gap.events_lost} events lost (offsets ${gap.expected_offset}-${gap.log_start_offset - 1})  found ${gap.detected_at.toISOString()}  ${state}`;
  });
  if (gaps.some((gap) => gap.acknowledged_at === null))
    lines.push(
      'once the events are resent or the loss is accepted: ecomm batches acknowledge-gap --gap <id> --reason …',
    );
  return lines;
}

/** Acknowledges one gap (audited in its row and in ops.pipeline_runs) and says what that released. */
async function acknowledgeGap(context: JobContext, gap: string, reason: string): Promise<string[]> {
  const db = await context.warehouse();
  const startedAt = context.now();
  const rows = await acknowledgeStreamGap(db, {
    gap,
    reason,
    actor: operatorName(),
    runId: context.runId,
    now: startedAt,
  });
  const lost = rows[0]?.events_lost ?? 0;
  await recordRun(db, {
    runId: context.runId,
    job: 'batches',
    step: 'acknowledge-gap',
    status: 'succeeded',
    startedAt,
    finishedAt: context.now(),
    message: `retention gap ${gap} (${lost} events lost) acknowledged: ${reason.trim()}`,
  });
  return [
    `acknowledged ${gap}: ${lost} events lost, ${reason.trim()}; its incident is resolved and the next quality ` +
      'gate no longer holds back the models built from the topic (audit in ops.stream_gaps)',
  ];
}
