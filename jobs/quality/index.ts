import type { JobContext, PrintLine } from '../context.ts';
import { type ModelTestResult, runModelTests } from '../models/model-tests.ts';
import { loadModels } from '../models/models.ts';
import { type Finding, type Layer, recordFindings } from '../ops/dq-findings.ts';
import { ledgerChecks } from './ledger-checks.ts';
import { qualityLineage } from './lineage.ts';

export type QualityLayer = Layer;

export interface QualityOptions {
  layer?: QualityLayer | 'all';
}

export { FRESHNESS_SLA_MINUTES } from './ledger-checks.ts';
export { qualityLineage } from './lineage.ts';

/**
 * The checks of one layer, recorded in ops.dq_findings under the run id: bronze checks read the batch ledger
 * (reconciliation, drift, freshness); silver and gold run the tests declared in their model files. `gated` records
 * results the transform's gate already ran on a layer's `__next` tables instead of checking the published tables.
 */
export async function runQuality(
  context: JobContext,
  layer: QualityLayer,
  gated?: ModelTestResult[],
  holdsBack?: HoldsBack,
): Promise<Finding[]> {
  const db = await context.warehouse();
  const checked =
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
  const findings = holdsBack ? checked.map((finding) => nameWhatItHoldsBack(finding, holdsBack)) : checked;
  await recordFindings(db, context.runId, findings, context.now());
  const failed = findings.filter((finding) => !finding.passed);
  context.log.info(
    { job: 'quality', layer, checks: findings.length, failed: failed.length },
    'quality checked',
  );
  return findings;
}

/**
 * The models a failing blocking check on `table` keeps from being published in this run (the transform's gate
 * holds them back), for its finding to name.
 */
export type HoldsBack = (table: string) => string[];

/** A failing blocking finding names what it held back, so the finding alone says what the failure cost. */
function nameWhatItHoldsBack(finding: Finding, holdsBack: HoldsBack): Finding {
  if (finding.passed || finding.severity !== 'blocking') return finding;
  const held = holdsBack(finding.tableName);
  if (held.length === 0) return finding;
  return {
    ...finding,
    details: `${finding.details ?? 'failed'}; held back (not published): ${held.join(', ')}`,
  };
}

/** runQuality plus its lineage event (`quality.<layer>`): use it wherever runQuality ran. */
export async function runQualityWithLineage(
  context: JobContext,
  layer: Layer,
  gated?: ModelTestResult[],
  holdsBack?: HoldsBack,
): Promise<Finding[]> {
  const startedAt = context.now();
  try {
    const findings = await runQuality(context, layer, gated, holdsBack);
    await qualityLineage(context, `quality.${layer}`, findings, startedAt);
    return findings;
  } catch (error) {
    await qualityLineage(context, `quality.${layer}`, [], startedAt, error);
    throw error;
  }
}

/** `ecomm quality`: the failing checks of each layer asked for and how many passed; exit 1 when a blocking one failed. */
export async function run(context: JobContext, options: QualityOptions, output: PrintLine): Promise<number> {
  const layers: QualityLayer[] =
    options.layer === undefined || options.layer === 'all' ? ['bronze', 'silver', 'gold'] : [options.layer];
  let failed = 0;
  for (const layer of layers) {
    const findings = await runQualityWithLineage(context, layer);
    for (const finding of findings.filter((f) => !f.passed)) {
      output(
        `${finding.severity === 'blocking' ? 'FAIL' : 'WARN'} ${finding.checkId}: ${finding.failingRows} rows ${finding.details ?? ''}`,
      );
      if (finding.severity === 'blocking') failed += 1;
    }
    output(`quality ${layer}: ${findings.filter((f) => f.passed).length}/${findings.length} checks passed`);
  }
  return failed > 0 ? 1 : 0;
}
