import type { JobContext } from '../context.ts';
import { runQualityWithLineage, transformLineage } from '../lineage/steps.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { buildLayer, type LayerBuild, type ModelBuildResult } from './build.ts';
import { loadModels, type Model, type ModelLayer } from './models.ts';

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
export async function runTransform(context: JobContext, layers: ModelLayer[]): Promise<TransformResult> {
  const db = await context.warehouse();
  const models = loadModels();
  const vars = { piiHashKey: await context.piiHashKey() };
  const built: ModelBuildResult[] = [];
  for (const layer of layers) {
    context.throwIfStopping();
    const startedAt = context.now();
    let gated: LayerBuild;
    try {
      gated = await buildLayer(db, models, layer, { vars });
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
