import type { JobContext } from '../context.ts';
import { runExtract } from '../extract/index.ts';
import {
  createSourceSchema,
  type GenerateResult,
  generate,
  nonEmptySourceTables,
} from '../generate/index.ts';
import { runLoad } from '../load/index.ts';
import { type BatchState, failedBatches } from '../ops/batches.ts';
import { blockingFailures } from '../ops/dq-findings.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { runQualityWithLineage } from '../quality/index.ts';
import { runReconcile } from '../reconcile/index.ts';
import { runStreamIngest } from '../stream-ingest/index.ts';
import { runTransform } from '../transform/index.ts';
import { runValidate } from '../validate/index.ts';

export interface StepTiming {
  step: string;
  ms: number;
  rows: number;
}

export interface PipelineResult {
  ok: boolean;
  generated: GenerateResult | null;
  steps: StepTiming[];
  /** Check ids of the blocking checks that stopped promotion, if any. */
  blockedBy: string[];
  /** Batches this run marked failed and held back; the rest went on to silver and gold (`ecomm batches`). */
  failedBatches: BatchState[];
  wallMs: number;
}

export interface PipelineOptions {
  /** The demo: seed the source and the stream when the source holds no rows yet. */
  generateIfEmpty?: { seed: number; scale: number; asOf: Date } | undefined;
  /** Build the incremental models whole (`ecomm run --full-refresh`). */
  fullRefresh?: boolean;
}

/**
 * `ecomm run`: the batch DAG once, in order: extract, stream-ingest, validate, load, reconcile (then validate and
 * load again when it re-extracted late rows), bronze checks, silver and gold with their checks. Each step is the
 * same code as its standalone job, and each is idempotent, so a failed run is simply run again. A batch that fails
 * on its own data is held back (failed in ops.batches, a finding, an alert) and the run goes on: the run is still
 * ok, and its summary names the batch.
 */
export async function runPipeline(
  context: JobContext,
  options: PipelineOptions = {},
): Promise<PipelineResult> {
  const started = performance.now();
  const startedAt = context.now();
  const steps: StepTiming[] = [];
  const timed = async <T>(step: string, work: () => Promise<T>, rowsOf: (value: T) => number): Promise<T> => {
    const begin = performance.now();
    const value = await work();
    steps.push({ step, ms: performance.now() - begin, rows: rowsOf(value) });
    return value;
  };

  // Both embedded databases initialise in about 3 s each: open them side by side.
  await Promise.all([context.source(), context.warehouse()]);
  let generated: GenerateResult | null = null;
  if (options.generateIfEmpty) {
    const seedWith = options.generateIfEmpty;
    const source = await context.source();
    await createSourceSchema(source);
    if ((await nonEmptySourceTables(source)).length === 0) {
      generated = await timed(
        'generate',
        async () => generate({ db: source, stream: context.stream(), ...seedWith }),
        (result) => Object.values(result.counts).reduce((sum, count) => sum + count, 0),
      );
    }
  }
  await timed(
    'extract',
    () => runExtract(context),
    (tables) => tables.reduce((sum, t) => sum + t.rows, 0),
  );
  await timed(
    'stream-ingest',
    () => runStreamIngest(context),
    (batches) => batches.reduce((sum, b) => sum + b.events, 0),
  );
  await timed(
    'validate',
    () => runValidate(context),
    (batches) => batches.reduce((sum, b) => sum + b.rowsIn, 0),
  );
  await timed(
    'load',
    () => runLoad(context),
    (batches) => batches.reduce((sum, b) => sum + b.rows, 0),
  );
  const reconciled = await timed(
    'reconcile',
    () => runReconcile(context),
    (tables) => tables.reduce((sum, t) => sum + t.keyEvents + (t.repair?.rows ?? 0), 0),
  );
  // Late rows the reconciliation re-extracted reach bronze in this run, before the checks and silver.
  if (reconciled.some((table) => table.repair)) {
    await timed(
      'validate repairs',
      () => runValidate(context),
      (batches) => batches.reduce((sum, b) => sum + b.rowsIn, 0),
    );
    await timed(
      'load repairs',
      () => runLoad(context),
      (batches) => batches.reduce((sum, b) => sum + b.rows, 0),
    );
  }
  const bronzeFindings = await timed(
    'quality bronze',
    () => runQualityWithLineage(context, 'bronze'),
    (findings) => findings.length,
  );
  let blockedBy = blockingFailures(bronzeFindings).map((finding) => finding.checkId);
  if (blockedBy.length === 0) {
    const transformed = await timed(
      'transform',
      () => runTransform(context, ['silver', 'gold'], { fullRefresh: options.fullRefresh ?? false }),
      (result) => result.built.reduce((sum, model) => sum + model.rows, 0),
    );
    blockedBy = transformed.blockedBy;
  }
  const failed = await failedBatches(await context.warehouse(), context.runId);
  const result = {
    ok: blockedBy.length === 0,
    generated,
    steps,
    blockedBy,
    failedBatches: failed,
    wallMs: performance.now() - started,
  };
  const isolated =
    failed.length > 0
      ? `${failed.length} failed batch(es) held back: ${failed.map((b) => b.batch_id).join(', ')}`
      : null;
  await recordRun(await context.warehouse(), {
    runId: context.runId,
    job: 'run',
    step: 'pipeline',
    status: result.ok ? 'succeeded' : 'failed',
    startedAt,
    finishedAt: context.now(),
    message: result.ok
      ? isolated
      : [`blocked by ${blockedBy.join(', ')}`, isolated].filter(Boolean).join('; '),
  });
  return result;
}
