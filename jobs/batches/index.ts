/** `ecomm batches list|retry|skip|reload`: the operator's tool for batches held back by their own bad data. */
import type { JobContext, PrintLine } from '../context.ts';
import { type BatchStatus, listBatches } from '../ops/batches.ts';
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
  action?: 'list' | BatchAction;
  batch?: string;
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
    const report = await act(context, action, options);
    for (const line of formatActionReport(report)) output(line);
    return report.after.status === 'failed' ? 1 : 0;
  } catch (error) {
    if (!(error instanceof BatchActionError)) throw error;
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
