/** validate's lineage: one step per raw batch, its raw/ folder into staging/ and quarantine/ (`validate.<source>`). */
import type { JobContext } from '../context.ts';
import { lakeZoneDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import type { BatchRow } from '../ops/batches.ts';

/** validate: one raw batch into staging/ and quarantine/. */
export async function validateLineage(
  context: JobContext,
  batch: BatchRow,
  startedAt: Date,
  result: { staged: number; quarantined: number } | null,
  error?: unknown,
): Promise<void> {
  await lineageOf(context).step({
    job: `validate.${batch.source}`,
    startedAt,
    finishedAt: context.now(),
    inputs: [lakeZoneDataset(context, 'raw', batch.source)],
    outputs: [
      written(lakeZoneDataset(context, 'staging', batch.source), result?.staged ?? 0),
      written(lakeZoneDataset(context, 'quarantine', batch.source), result?.quarantined ?? 0),
    ],
    error,
  });
}
