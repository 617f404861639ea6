/**
 * quality's lineage: the checked tables as inputs, each with a data-quality assertions facet, and ops.dq_findings as
 * the output (`quality.<layer>`; the watchdog reports its checks the same way, as `watchdog`).
 */
import type { JobContext } from '../context.ts';
import { warehouseDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import { assertionOf, dataQualityAssertionsFacet, type InputDataset } from '../lineage/openlineage.ts';
import type { Finding } from '../ops/dq-findings.ts';

/** quality: the checked tables as inputs, each with a data-quality assertions facet; findings as the output. */
export async function qualityLineage(
  context: JobContext,
  job: string,
  findings: (Pick<Finding, 'checkId' | 'checkType' | 'tableName' | 'passed'> & { column?: string | null })[],
  startedAt: Date,
  error?: unknown,
): Promise<void> {
  const byTable = new Map<string, InputDataset>();
  for (const finding of findings) {
    let input = byTable.get(finding.tableName);
    if (!input) {
      input = {
        ...warehouseDataset(context, finding.tableName),
        inputFacets: { dataQualityAssertions: dataQualityAssertionsFacet([]) },
      };
      byTable.set(finding.tableName, input);
    }
    const assertion = assertionOf(finding.checkType, finding.checkId, finding.passed);
    if (finding.column) assertion.column = finding.column;
    input.inputFacets?.dataQualityAssertions?.assertions.push(assertion);
  }
  await lineageOf(context).step({
    job,
    startedAt,
    finishedAt: context.now(),
    inputs: [...byTable.values()],
    outputs: [written(warehouseDataset(context, 'ops.dq_findings'), findings.length)],
    error,
  });
}
