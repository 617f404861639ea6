/** `ecomm run`'s entry: the whole batch DAG once (pipeline.ts), then the end-of-run summary (summary.ts). */
import type { JobContext, PrintLine } from '../context.ts';
import { type GenerateCommandOptions, todayUtc } from '../generate/index.ts';
import { syncGrantsIfAllowed } from '../grants/index.ts';
import { runPipeline } from './pipeline.ts';
import { printPipelineSummary } from './summary.ts';

export { type PipelineOptions, type PipelineResult, runPipeline, type StepTiming } from './pipeline.ts';

export interface RunOptions extends Omit<GenerateCommandOptions, 'replace'> {
  /** Generate the store first when the source is empty (`npm start`). */
  demo?: boolean;
  /** Resume the latest run, which must have failed or been abandoned, after its last completed step. */
  resume?: boolean;
  /** Build the incremental models whole. */
  fullRefresh?: boolean;
}

/**
 * `ecomm run`: exit 1 when a blocking check failed (the models downstream of it were held back, the rest
 * published); batches held back still exit 0 (the summary names them).
 */
export async function run(context: JobContext, options: RunOptions, output: PrintLine): Promise<number> {
  // The access policy first, when this login may manage roles (a first run as the admin, a local PostgreSQL): the
  // roles are then in step before any job login needs them. Under its own login (ecomm_run) the run cannot, and
  // says so in one log line; the admin's `ecomm grants` keeps them (docs/access.md).
  await syncGrantsIfAllowed(context);
  const result = await runPipeline(context, {
    generateIfEmpty: options.demo
      ? {
          seed: options.seed ?? 42,
          scale: options.scale ?? 1,
          asOf: options.asOf ?? todayUtc(context.now()),
        }
      : undefined,
    resumeLastFailed: options.resume === true,
    fullRefresh: options.fullRefresh ?? false,
  });
  await printPipelineSummary(context, result, output);
  return result.ok ? 0 : 1;
}
