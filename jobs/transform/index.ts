import type { JobContext, PrintLine } from '../context.ts';
import { modelTableOwner } from '../grants/index.ts';
import {
  type BlockedModel,
  type BuildOptions,
  buildLayer,
  type HeldBackTable,
  type LayerBuild,
  ModelBuildError,
  type ModelBuildResult,
} from '../models/build.ts';
import { downstreamOf, loadModels, type Model, type ModelLayer, upstreamOf } from '../models/models.ts';
import { type ModelSelection, SelectionError, selectModels } from '../models/selection.ts';
import { recordBatchDecision } from '../ops/batch-decisions.ts';
import { classifyBatchError } from '../ops/batch-errors.ts';
import { failedDecision, reportBatchFailures } from '../ops/batch-failures.ts';
import { markBatchFailed } from '../ops/batches.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { runQualityWithLineage } from '../quality/index.ts';
import { transformLineage } from './lineage.ts';
import { describeTracedFailure, traceModelFailure } from './trace-failure.ts';

export interface TransformResult {
  /** The models published. */
  built: ModelBuildResult[];
  /** Models held back (their last published tables kept), each with the failing blocking checks that hold it. */
  blocked: BlockedModel[];
  /** The failing blocking checks: those of the models built, and those upstream that held a selected model back. */
  blockedBy: string[];
}

export interface TransformScope {
  /** The models to build (`silver.orders`), in the layers asked for; default: every model of those layers. */
  only?: string[];
  /** Tables held back before the transform (`ecomm run`'s bronze checks): the models downstream are not built. */
  heldBack?: HeldBackTable[];
  /** Build the incremental models whole (`--full-refresh`) instead of applying what changed since their last build. */
  fullRefresh?: boolean;
}

/**
 * `ecomm transform`: each layer through its gate (build.ts buildLayer): its models built into `__next`, its declared
 * checks run there and recorded as findings, and every model that passed published; a model whose blocking check
 * failed is held back with what is downstream of it, in its layer and the next (they keep their last good build
 * instead of reading bad data), while the rest of both layers is published.
 */
export async function runTransform(
  context: JobContext,
  layers: ModelLayer[],
  scope: TransformScope = {},
): Promise<TransformResult> {
  const db = await context.warehouse();
  const models = loadModels();
  const build: BuildOptions = {
    vars: {},
    now: () => context.now(),
    fullRefresh: scope.fullRefresh ?? false,
    concurrency: context.config.TRANSFORM_CONCURRENCY,
    ...(scope.only ? { only: scope.only } : {}),
  };
  const tableOwner = await modelTableOwner(db);
  if (tableOwner) build.tableOwner = tableOwner;
  const inScope = models.filter(
    (model) => layers.includes(model.layer) && (!scope.only || scope.only.includes(model.name)),
  );
  const built: ModelBuildResult[] = [];
  const blocked: BlockedModel[] = [];
  const blockedBy = new Set<string>();
  for (const layer of layers) {
    context.throwIfStopping();
    const startedAt = context.now();
    const heldBack = [...(scope.heldBack ?? []), ...blocked];
    let gated: LayerBuild;
    try {
      gated = await buildSettingAsideBadBatches(context, models, layer, { ...build, heldBack });
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
    await recordModelRuns(context, models, gated);
    // A failing blocking check's finding names what it held back: its model and what is downstream in this run.
    await runQualityWithLineage(context, layer, gated.checks, (table) => [
      table,
      ...downstreamOf(inScope, [table], upstreamOf),
    ]);
    built.push(...gated.built);
    blocked.push(...gated.blocked);
    for (const id of [...gated.blockedBy, ...gated.blocked.flatMap((model) => model.blockedBy)])
      blockedBy.add(id);
  }
  return { built, blocked, blockedBy: [...blockedBy].sort() };
}

export interface TransformOptions extends ModelSelection {
  /** One model layer, or both in order (`all`, the default). */
  layer?: ModelLayer | 'all';
  /** Build the incremental models whole instead of applying what changed since their last build. */
  fullRefresh?: boolean;
}

/**
 * `ecomm transform`: the models published and those held back; exit 1 when a blocking check held any back.
 * `--select`/`--exclude` narrow the models built within the layers asked for; the others are read as published.
 */
export async function run(
  context: JobContext,
  options: TransformOptions,
  output: PrintLine,
): Promise<number> {
  const layers: ModelLayer[] =
    options.layer === undefined || options.layer === 'all' ? ['silver', 'gold'] : [options.layer];
  const result = await runTransform(context, layers, {
    only: selectedModels(options, layers),
    fullRefresh: options.fullRefresh ?? false,
  });
  for (const model of result.built)
    output(`built ${model.name.padEnd(32)} ${model.rows} rows${howBuilt(model)}`);
  for (const model of result.blocked) output(describeBlocked(model));
  if (result.blocked.length > 0 || result.blockedBy.length > 0) {
    output(
      `blocked: ${result.blocked.length} model(s) held back, last published tables kept; failing blocking checks: ${result.blockedBy.join(', ')}`,
    );
    return 1;
  }
  return 0;
}

/** One line per held-back model: built and failed its gate, or not built because something upstream was held. */
export function describeBlocked(model: BlockedModel): string {
  return model.build
    ? `held back ${model.name.padEnd(28)} built, not published: blocked by ${model.blockedBy.join(', ')}`
    : `held back ${model.name.padEnd(28)} not built: upstream blocked by ${model.blockedBy.join(', ')}`;
}

/** The names `--select`/`--exclude` pick in the layers asked for; undefined when neither flag was given. */
function selectedModels(options: ModelSelection, layers: ModelLayer[]): string[] | undefined {
  if ((options.select ?? []).length === 0 && (options.exclude ?? []).length === 0) return undefined;
  const models = loadModels();
  const names = selectModels(models, options).filter((name) =>
    layers.includes(name.split('.')[0] as ModelLayer),
  );
  if (names.length === 0) throw new SelectionError(`the selection has no model in ${layers.join(' or ')}`);
  return names;
}

/**
 * `(incremental: 12 keys)` or `(full: first build)` for an incremental model, `(unchanged inputs: kept)` for a
 * model not rebuilt, '' for the others.
 */
function howBuilt(model: ModelBuildResult): string {
  if (model.unchanged) return ' (unchanged inputs: kept)';
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
  options: BuildOptions,
): Promise<LayerBuild> {
  const db = await context.warehouse();
  for (let round = 1; ; round += 1) {
    try {
      return await buildLayer(db, models, layer, options);
    } catch (error) {
      if (round > SET_ASIDE_ROUNDS || !(error instanceof ModelBuildError)) throw error;
      if (classifyBatchError(error) !== 'data') throw error;
      const model = models.find((candidate) => candidate.name === error.model);
      const traced = model ? await traceModelFailure(db, model, options.vars) : null;
      if (!traced || traced.length === 0) throw error;
      const now = context.now();
      for (const failure of traced) {
        const reason = describeTracedFailure(failure);
        const batchFailure = {
          batchId: failure.batchId,
          step: 'transform' as const,
          reason,
          at: now,
          runId: context.runId,
        };
        await markBatchFailed(db, batchFailure);
        await recordBatchDecision(context.lake(), failedDecision(batchFailure));
        context.log.warn({ job: 'transform', batchId: failure.batchId, reason }, 'batch set aside');
      }
      await reportBatchFailures(db, { runId: context.runId, now });
    }
  }
}

/** A model built and checked in `__next` that its gate held back: its run and lineage say it failed. */
class ModelNotPublishedError extends Error {
  readonly model: string;
  constructor(model: string, message: string) {
    super(message);
    this.name = 'ModelNotPublishedError';
    this.model = model;
  }
}

/**
 * One pipeline_runs row per model, timed by its own build (build.ts buildNext: the CTAS and the row count; its
 * checks and the swap are not in it), and one lineage event per model built. A model held back is `failed` when
 * it was built and not published, `skipped` when something upstream kept it from being built: the monitor's
 * "gold built at" and the watchdog's freshness read only succeeded builds, and its last table is still the one
 * published.
 */
async function recordModelRuns(context: JobContext, models: Model[], gated: LayerBuild): Promise<void> {
  const db = await context.warehouse();
  const base = { runId: context.runId, job: 'transform' };
  for (const result of gated.built) {
    await recordRun(db, {
      ...base,
      step: result.name,
      status: 'succeeded',
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      rowsOut: result.rows,
    });
    await transformLineage(context, models, { result });
  }
  for (const model of gated.blocked) {
    const why = `blocked by ${model.blockedBy.join(', ')}`;
    if (model.build) {
      const notPublished = `built, not published: ${why}`;
      await recordRun(db, {
        ...base,
        step: model.name,
        status: 'failed',
        startedAt: model.build.startedAt,
        finishedAt: model.build.finishedAt,
        rowsOut: model.build.rows,
        message: notPublished,
      });
      const error = new ModelNotPublishedError(model.name, notPublished);
      await transformLineage(context, models, { error, startedAt: model.build.startedAt });
    } else {
      const now = context.now();
      await recordRun(db, {
        ...base,
        step: model.name,
        status: 'skipped',
        startedAt: now,
        finishedAt: now,
        message: `not built: upstream ${why}`,
      });
    }
  }
}
