import type { JobContext } from '../context.ts';
import { type ModelTestResult, runModelTests } from '../models/model-tests.ts';
import { loadModels } from '../models/models.ts';
import { type Finding, type Layer, recordFindings } from '../ops/dq-findings.ts';
import { ledgerChecks } from './ledger-checks.ts';

export type QualityLayer = Layer;

/**
 * The checks of one layer, recorded in ops.dq_findings under the run id: bronze checks read the batch ledger
 * (reconciliation, drift, freshness); silver and gold run the tests declared in their model files. `gated` records
 * results the transform's gate already ran on a layer's `__next` tables instead of checking the published tables.
 */
export async function runQuality(
  context: JobContext,
  layer: QualityLayer,
  gated?: ModelTestResult[],
): Promise<Finding[]> {
  const db = await context.warehouse();
  const findings =
    layer === 'bronze'
      ? await ledgerChecks(db, context.now())
      : (
          gated ??
          (await runModelTests(
            db,
            loadModels().filter((model) => model.layer === layer),
          ))
        ).map(
          (result): Finding => ({
            checkId: result.id,
            layer,
            tableName: result.model,
            checkType: result.kind,
            severity: result.severity,
            passed: result.passed,
            failingRows: result.failingRows,
            details: result.details,
          }),
        );
  await recordFindings(db, context.runId, findings, context.now());
  const failed = findings.filter((finding) => !finding.passed);
  context.log.info(
    { job: 'quality', layer, checks: findings.length, failed: failed.length },
    'quality checked',
  );
  return findings;
}
