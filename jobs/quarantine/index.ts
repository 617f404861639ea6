/**
 * `ecomm quarantine <tool>`: tools for rows the data contracts quarantined. `replay --batch <id>` re-validates a
 * batch's quarantined rows with the current contracts and stages those that now pass (replay.ts).
 */
import type { JobContext, PrintLine } from '../context.ts';
import { formatReplayReport, ReplayError, replayQuarantine } from './replay.ts';

export { type ReplayOptions, type ReplayReport, replayQuarantine } from './replay.ts';

export interface QuarantineOptions {
  /** The batch whose quarantined rows are replayed (ops.batches.batch_id). */
  batch?: string;
}

const printToStderr: PrintLine = (line) => process.stderr.write(`${line}\n`);

/**
 * `ecomm quarantine replay --batch <id>`: replays, loads what passed, prints the report. Exit 2 for a batch that
 * cannot be replayed (unknown, not validated yet), with one clear message on `errors`.
 */
export async function run(
  context: JobContext,
  options: QuarantineOptions,
  output: PrintLine,
  errors: PrintLine = printToStderr,
): Promise<number> {
  try {
    const report = await replayQuarantine(context, { batchId: options.batch ?? '', load: true });
    for (const line of formatReplayReport(report)) output(line);
    return 0;
  } catch (error) {
    if (!(error instanceof ReplayError)) throw error;
    errors(`ecomm: quarantine replay: ${error.message}`);
    return 2;
  }
}
