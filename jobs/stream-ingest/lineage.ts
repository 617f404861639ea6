/**
 * stream-ingest's lineage: the topics into their raw/ folders (`stream-ingest`, the drain's one step and the
 * service's periodic one) and the service's stage 2 per topic, raw/ through validation, dead letters and bronze into
 * silver (`stream-ingest.apply.<topic>`).
 */
import type { JobContext } from '../context.ts';
import { contractFor } from '../contracts/data-contracts.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { lakeZoneDataset, topicDatasetOf, warehouseDataset, written } from '../lineage/datasets.ts';
import { lineageOf } from '../lineage/emitter.ts';
import type { Model } from '../models/models.ts';
import { DEAD_LETTER_TOPIC } from './service/dead-letter.ts';

/** stream-ingest: the event topics into raw/ micro-batches. */
export async function streamIngestLineage(
  context: JobContext,
  startedAt: Date,
  batches: { topic: string; events: number }[],
  error?: unknown,
): Promise<void> {
  const topics = EVENT_TOPICS.map((topic) => topic.topic);
  await lineageOf(context).step({
    job: 'stream-ingest',
    startedAt,
    finishedAt: context.now(),
    inputs: topics.map((topic) => topicDatasetOf(context, topic)),
    outputs: topics.map((topic) =>
      written(
        lakeZoneDataset(context, 'raw', topic),
        batches.filter((batch) => batch.topic === topic).reduce((sum, batch) => sum + batch.events, 0),
      ),
    ),
    error,
  });
}

/**
 * The stream service's stage 2 for one topic over a span of rounds: raw batches validated into staging/ and
 * quarantine/, invalid events to the dead-letter topic, loaded into bronze and applied to the silver models.
 */
export async function streamApplyLineage(
  context: JobContext,
  applied: {
    topic: string;
    startedAt: Date;
    staged: number;
    quarantined: number;
    deadLettered: number;
    /** The models the applier maintains: those that read this topic's bronze table are outputs. */
    models: Model[];
  },
): Promise<void> {
  const bronze = `bronze.${contractFor(applied.topic).table}`;
  const silver = applied.models.filter((model) => model.dependsOn[0] === bronze);
  await lineageOf(context).step({
    job: `stream-ingest.apply.${applied.topic}`,
    startedAt: applied.startedAt,
    finishedAt: context.now(),
    inputs: [lakeZoneDataset(context, 'raw', applied.topic)],
    outputs: [
      written(lakeZoneDataset(context, 'staging', applied.topic), applied.staged),
      written(lakeZoneDataset(context, 'quarantine', applied.topic), applied.quarantined),
      written(topicDatasetOf(context, DEAD_LETTER_TOPIC), applied.deadLettered),
      written(warehouseDataset(context, bronze), applied.staged),
      ...silver.map((model) => warehouseDataset(context, model.name)),
    ],
  });
}
