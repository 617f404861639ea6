import type { JobContext } from '../context.ts';
import { runQualityWithLineage, transformLineage } from '../lineage/steps.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { blockingFailures } from '../quality/findings.ts';
import { buildModels, type ModelBuildResult } from './build.ts';
import { loadModels, type ModelLayer } from './models.ts';

export interface TransformResult {
  built: ModelBuildResult[];
  /** Blocking checks that failed; the layers after the failing one were not built. */
  blockedBy: string[];
}

/**
 * `ecomm transform`: builds each layer's models in dependency order, then runs that layer's checks; a failing
 * blocking check stops promotion, so the next layer keeps its last good build instead of reading bad data.
 */
export async function runTransform(context: JobContext, layers: ModelLayer[]): Promise<TransformResult> {
  const db = await context.warehouse();
  const models = loadModels();
  const vars = { piiHashKey: await context.piiHashKey() };
  const built: ModelBuildResult[] = [];
  for (const layer of layers) {
    context.throwIfStopping();
    const startedAt = context.now();
    try {
      const results = await buildModels(db, models, { vars, layers: [layer] });
      built.push(...results);
      for (const result of results) {
        await recordRun(db, {
          runId: context.runId,
          job: 'transform',
          step: result.name,
          status: 'succeeded',
          startedAt,
          finishedAt: context.now(),
          rowsOut: result.rows,
        });
        await transformLineage(context, models, { result });
      }
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
    const blocked = blockingFailures(await runQualityWithLineage(context, layer)).map(
      (finding) => finding.checkId,
    );
    if (blocked.length > 0) return { built, blockedBy: blocked };
  }
  return { built, blockedBy: [] };
}
