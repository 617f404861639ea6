/**
 * load's lineage: one step per staged batch, into its bronze table and its quarantined rows into
 * ops.quarantine_rows (`load.bronze.<table>`).
 */
import type { JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { lakeZoneDataset, warehouseDataset, withSchema, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import type { InputDataset, OutputDataset } from '../lineage/openlineage.ts';
import type { BatchRow } from '../ops/batches.ts';

/** load: one staged batch into bronze (and its quarantined rows into ops.quarantine_rows). */
export async function loadLineage(
  context: JobContext,
  batch: BatchRow,
  startedAt: Date,
  result: { rows: number; quarantineRows: number } | null,
  error?: unknown,
): Promise<void> {
  const table = `bronze.${contractFor(batch.source).table}`;
  const db = await context.warehouse();
  const inputs: InputDataset[] = [lakeZoneDataset(context, 'staging', batch.source)];
  const outputs: OutputDataset[] = [
    written(await withSchema(db, warehouseDataset(context, table), table), result?.rows ?? 0),
  ];
  if (batch.quarantine_key) {
    inputs.push(lakeZoneDataset(context, 'quarantine', batch.source));
    outputs.push(written(warehouseDataset(context, 'ops.quarantine_rows'), result?.quarantineRows ?? 0));
  }
  await lineageOf(context).step({
    job: `load.${table}`,
    startedAt,
    finishedAt: context.now(),
    inputs,
    outputs,
    error,
  });
}
