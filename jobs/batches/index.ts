/** `ecomm batches list|retry|skip`: the operator's tool for batches held back by their own bad data. */
import type { JobContext, PrintLine } from '../context.ts';
import { type BatchStatus, listBatches } from '../ops/batches.ts';
import {
  type BatchAction,
  BatchActionError,
  formatActionReport,
  formatBatchList,
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
    const report =
      action === 'retry'
        ? await retryBatch(context, options.batch ?? '')
        : await skipBatch(context, options.batch ?? '', options.reason ?? '');
    for (const line of formatActionReport(report)) output(line);
    return report.after.status === 'failed' ? 1 : 0;
  } catch (error) {
    if (!(error instanceof BatchActionError)) throw error;
    errors(`ecomm: batches ${action}: ${error.message}`);
    return 2;
  }
}
