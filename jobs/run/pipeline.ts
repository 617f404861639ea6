import type { JobContext } from '../context.ts';
import { runExtract } from '../extract/index.ts';
import {
  createSourceSchema,
  type GenerateResult,
  generate,
  nonEmptySourceTables,
} from '../generate/index.ts';
import { runLoad } from '../load/index.ts';
import type { BlockedModel, HeldBackTable } from '../models/build.ts';
import { downstreamOf, loadModels, upstreamOf } from '../models/models.ts';
import { type BatchState, failedBatches } from '../ops/batches.ts';
import { blockingFailures, type Finding } from '../ops/dq-findings.ts';
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
  /** Check ids of the failing blocking checks (bronze, silver, gold), if any: then the run is not ok. */
  blockedBy: string[];
  /** The models those checks held back: not published this run, their last published tables kept. */
  blocked: BlockedModel[];
  /** Batches this run marked failed and held back; the rest went on to silver and gold (`ecomm batches`). */
  failedBatches: BatchState[];
  wallMs: number;
}

export interface PipelineOptions {
  /** The demo: seed the source and the stream when the source holds no rows yet. */
  generateIfEmpty?: { seed: number; scale: number; asOf: Date } | undefined;
}

/**
 * `ecomm run`: the batch DAG once, in order: extract, stream-ingest, validate, load, reconcile (then validate and
 * load again when it re-extracted late rows), bronze checks, silver and gold with their checks (a failing blocking
 * check holds back the models downstream of its table, and the run is not ok; everything else is published). Each step is the
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
  const models = loadModels();
  const bronzeFindings = await timed(
    'quality bronze',
    () =>
      runQualityWithLineage(context, 'bronze', undefined, (table) => [
        ...downstreamOf(models, [table], upstreamOf),
      ]),
    (findings) => findings.length,
  );
  // A failing blocking bronze check holds back only the models downstream of its table; the rest is built.
  const bronzeBlocked = heldBackTables(blockingFailures(bronzeFindings));
  const transformed = await timed(
    'transform',
    () => runTransform(context, ['silver', 'gold'], { heldBack: bronzeBlocked }),
    (result) => result.built.reduce((sum, model) => sum + model.rows, 0),
  );
  const blockedBy = [
    ...new Set([...bronzeBlocked.flatMap((table) => table.blockedBy), ...transformed.blockedBy]),
  ].sort();
  const failed = await failedBatches(await context.warehouse(), context.runId);
  const result = {
    ok: blockedBy.length === 0,
    generated,
    steps,
    blockedBy,
    blocked: transformed.blocked,
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
      : [
          `blocked by ${blockedBy.join(', ')}`,
          `held back: ${result.blocked.map((model) => model.name).join(', ') || 'nothing downstream'}`,
          isolated,
        ]
          .filter(Boolean)
          .join('; '),
  });
  return result;
}

/** The bronze tables failing blocking checks, each with its check ids. */
function heldBackTables(failures: Finding[]): HeldBackTable[] {
  const byTable = new Map<string, string[]>();
  for (const finding of failures)
    byTable.set(finding.tableName, [...(byTable.get(finding.tableName) ?? []), finding.checkId]);
  return [...byTable].map(([name, blockedBy]) => ({ name, blockedBy }));
}
