/**
 * reconcile's lineage: one step per source table, its keys and bronze's into tombstones in bronze.source_deletes
 * and late rows re-extracted into raw/ (`reconcile.<table>`).
 */
import type { JobContext } from '../context.ts';
import type { SourceTableSpec } from '../contracts/source-tables.ts';
import { lakeZoneDataset, sourceDataset, warehouseDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';

/**
 * reconcile: one source table's keys against bronze (and its quarantined versions) into tombstones in
 * bronze.source_deletes, and late rows re-extracted into raw/.
 */
export async function reconcileLineage(
  context: JobContext,
  table: SourceTableSpec,
  startedAt: Date,
  result: { keyEvents: number; repair: { rows: number } | null } | null,
  error?: unknown,
): Promise<void> {
  await lineageOf(context).step({
    job: `reconcile.${table.name}`,
    startedAt,
    finishedAt: context.now(),
    inputs: [
      sourceDataset(context, table.name),
      warehouseDataset(context, `bronze.${table.name}`),
      warehouseDataset(context, 'ops.quarantine_rows'),
    ],
    outputs: [
      written(warehouseDataset(context, 'bronze.source_deletes'), result?.keyEvents ?? 0),
      written(lakeZoneDataset(context, 'raw', table.name), result?.repair?.rows ?? 0),
    ],
    error,
  });
}
