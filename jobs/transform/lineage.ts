/**
 * transform's lineage: one step per model built (`transform.<layer>.<model>`), from the tables it reads to its own,
 * with its SQL as written and its schema.
 */
import type { JobContext } from '../context.ts';
import { warehouseDataset, withSchema, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import { sqlFacet } from '../lineage/openlineage.ts';
import type { ModelBuildResult } from '../models/build.ts';
import type { Model } from '../models/models.ts';

/**
 * transform: one model built (its SQL as written, macros not expanded), or
 * the model a ModelBuildError names when the build failed.
 */
export async function transformLineage(
  context: JobContext,
  models: Model[],
  outcome: { result: ModelBuildResult } | { error: unknown; startedAt: Date },
): Promise<void> {
  const name =
    'result' in outcome ? outcome.result.name : (outcome.error as { model?: unknown } | null)?.model;
  const model = models.find((candidate) => candidate.name === name);
  if (!model) return;
  const db = await context.warehouse();
  // A model built: the span of its own build; a failure: from the caller's start to now.
  const finishedAt = 'result' in outcome ? outcome.result.finishedAt : context.now();
  const startedAt = 'result' in outcome ? outcome.result.startedAt : outcome.startedAt;
  const output = await withSchema(db, warehouseDataset(context, model.name), model.name);
  await lineageOf(context).step({
    job: `transform.${model.name}`,
    startedAt,
    finishedAt,
    inputs: model.dependsOn.map((table) => warehouseDataset(context, table)),
    outputs: ['result' in outcome ? written(output, outcome.result.rows) : output],
    jobFacets: { sql: sqlFacet(model.sql) },
    error: 'error' in outcome ? outcome.error : undefined,
  });
}
