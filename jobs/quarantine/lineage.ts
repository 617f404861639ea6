/**
 * The quarantine replay's lineage: one step per replay, the batch's raw/ and quarantine/ folders into staging/ with
 * the rows promoted (`quarantine-replay.<source>`).
 */
import type { JobContext } from '../context.ts';
import { lakeZoneDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';

export async function replayLineage(
  context: JobContext,
  source: string,
  startedAt: Date,
  promoted: number,
  error?: unknown,
): Promise<void> {
  await lineageOf(context).step({
    job: `quarantine-replay.${source}`,
    startedAt,
    finishedAt: context.now(),
    inputs: [lakeZoneDataset(context, 'raw', source), lakeZoneDataset(context, 'quarantine', source)],
    outputs: [written(lakeZoneDataset(context, 'staging', source), promoted)],
    error,
  });
}
