import type { MacroVars } from '../../sql/dialects/macros.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { buildLayer, type LayerBuild, ModelBuildError, type ModelBuildResult } from '../models/build.ts';
import { loadModels, type Model, type ModelLayer } from '../models/models.ts';
import { classifyBatchError } from '../ops/batch-errors.ts';
import { reportBatchFailures } from '../ops/batch-failures.ts';
import { markBatchFailed } from '../ops/batches.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { runQualityWithLineage } from '../quality/index.ts';
import { transformLineage } from './lineage.ts';
import { describeTracedFailure, traceModelFailure } from './trace-failure.ts';

export interface TransformResult {
  /** The models published. */
  built: ModelBuildResult[];
  /** Blocking checks that failed: their layer was not published, and the layers after it were not built. */
  blockedBy: string[];
}

/**
 * `ecomm transform`: each layer through its gate (build.ts buildLayer): its models built into `__next`, its declared
 * checks run there and recorded as findings, and the layer published only when no blocking check failed. A closed
 * gate leaves the layer as it was and stops promotion, so the next layer keeps its last good build instead of
 * reading bad data.
 */
export async function runTransform(
  context: JobContext,
  layers: ModelLayer[],
  options: { fullRefresh?: boolean } = {},
): Promise<TransformResult> {
  const db = await context.warehouse();
  const models = loadModels();
  const vars = { piiHashKey: await context.piiHashKey() };
  const built: ModelBuildResult[] = [];
  for (const layer of layers) {
    context.throwIfStopping();
    const startedAt = context.now();
    let gated: LayerBuild;
    try {
      gated = await buildSettingAsideBadBatches(context, models, layer, { vars, ...options });
    } catch (error) {
      await recordRun(db, {
        runId: context.runId,
        job: 'transform',
        step: layer,
        status: 'failed',
        startedAt,
        finishedAt: context.now(),
        message: (error as Error).message,
      });
      await transformLineage(context, models, { error, startedAt });
      throw error;
    }
    await recordModelRuns(context, models, gated, startedAt);
    await runQualityWithLineage(context, layer, gated.checks);
    if (gated.blockedBy.length > 0) return { built, blockedBy: gated.blockedBy };
    built.push(...gated.built);
  }
  return { built, blockedBy: [] };
}

export interface TransformOptions {
  /** One model layer, or both in order (`all`, the default). */
  layer?: ModelLayer | 'all';
  /** Build the incremental models whole instead of applying what changed since their last build. */
  fullRefresh?: boolean;
}

/** `ecomm transform`: the models published; exit 1 when a blocking check kept a layer from being published. */
export async function run(
  context: JobContext,
  options: TransformOptions,
  output: PrintLine,
): Promise<number> {
  const layers: ModelLayer[] =
    options.layer === undefined || options.layer === 'all' ? ['silver', 'gold'] : [options.layer];
  const result = await runTransform(context, layers, { fullRefresh: options.fullRefresh ?? false });
  for (const model of result.built)
    output(`built ${model.name.padEnd(32)} ${model.rows} rows${howBuilt(model)}`);
  if (result.blockedBy.length > 0) {
    output(`stopped: blocking checks failed: ${result.blockedBy.join(', ')}`);
    return 1;
  }
  return 0;
}

/** `(incremental: 12 keys)` or `(full: first build)` for an incremental model, '' for the others. */
function howBuilt(model: ModelBuildResult): string {
  const build = model.incremental;
  if (!build) return '';
  return build.mode === 'incremental'
    ? ` (incremental: ${build.keys ?? 0} keys)`
    : ` (full: ${build.reason})`;
}

/** How often a layer is built again after setting aside the batches its last build failed on. */
const SET_ASIDE_ROUNDS = 3;

/**
 * Builds the layer; when a model fails on its data (a cast, an overflow: SQLSTATE class 22 or 23), traces the
 * failure to the bronze batches and rows that cause it, marks those batches failed (their bronze rows leave with
 * them, a finding and an alert follow) and builds the layer again from everything else (invariant 8). The error
 * that reaches the caller, when the build still fails, is the database's.
 */
async function buildSettingAsideBadBatches(
  context: JobContext,
  models: Model[],
  layer: ModelLayer,
  options: { vars: MacroVars; fullRefresh?: boolean },
): Promise<LayerBuild> {
  const db = await context.warehouse();
  const vars = options.vars;
  for (let round = 1; ; round += 1) {
    try {
      return await buildLayer(db, models, layer, options);
    } catch (error) {
      if (round > SET_ASIDE_ROUNDS || !(error instanceof ModelBuildError)) throw error;
      if (classifyBatchError(error) !== 'data') throw error;
      const model = models.find((candidate) => candidate.name === error.model);
      const traced = model ? await traceModelFailure(db, model, vars) : null;
      if (!traced || traced.length === 0) throw error;
      const now = context.now();
      for (const failure of traced) {
        const reason = describeTracedFailure(failure);
        await markBatchFailed(db, {
          batchId: failure.batchId,
          step: 'transform',
          reason,
          at: now,
          runId: context.runId,
        });
        context.log.warn({ job: 'transform', batchId: failure.batchId, reason }, 'batch set aside');
      }
      await reportBatchFailures(db, { runId: context.runId, now });
    }
  }
}

/** A model built and checked in `__next` whose layer's gate stayed shut: its run and lineage say it failed. */
class ModelNotPublishedError extends Error {
  readonly model: string;
  constructor(model: string, message: string) {
    super(message);
    this.name = 'ModelNotPublishedError';
    this.model = model;
  }
}

/**
 * One pipeline_runs row and one lineage event per model. A model of a blocked layer is `failed`: the monitor's
 * "gold built at" and the watchdog's freshness read only succeeded builds, and yesterday's table is still the one
 * published.
 */
async function recordModelRuns(
  context: JobContext,
  models: Model[],
  gated: LayerBuild,
  startedAt: Date,
): Promise<void> {
  const db = await context.warehouse();
  const blocked = gated.blockedBy.length > 0;
  const notPublished = `built, not published: ${gated.layer} blocked by ${gated.blockedBy.join(', ')}`;
  for (const result of gated.built) {
    await recordRun(db, {
      runId: context.runId,
      job: 'transform',
      step: result.name,
      status: blocked ? 'failed' : 'succeeded',
      startedAt,
      finishedAt: context.now(),
      rowsOut: result.rows,
      message: blocked ? notPublished : null,
    });
    await transformLineage(
      context,
      models,
      blocked ? { error: new ModelNotPublishedError(result.name, notPublished), startedAt } : { result },
    );
  }
}
