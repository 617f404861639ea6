import type { EventStream } from '../../adapters/stream/event-stream.ts';
import type { JobContext, PrintLine } from '../context.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { recordRun } from '../ops/pipeline-runs.ts';
import { persistOnce } from './backpressure.ts';
import { streamIngestLineage } from './lineage.ts';
import { consumeToRaw, fetchSettings, type IngestedBatch } from './micro-batcher.ts';
import { checkRetentionGaps, startNewGroupFromLedger } from './retention-gaps.ts';
import { runStreamService } from './service/service.ts';

export type { IngestedBatch } from './micro-batcher.ts';

/**
 * `ecomm stream-ingest` (drain): moves the event topics into raw/ Zstandard NDJSON micro-batches up to the end offsets
 * seen at start, then returns; the batch jobs validate and load them. Per batch: write the object, record it in the
 * ledger, then commit the offsets (invariant 3). On a stop request the batch in hand is written and committed
 * first. `ecomm stream-ingest --follow` is the long-running service (service/service.ts), which shares
 * this stage and also validates, dead-letters, loads and applies each batch to silver itself.
 */
export async function runStreamIngest(context: JobContext): Promise<IngestedBatch[]> {
  const stream = context.stream();
  const warehouse = await context.warehouse();
  const startedAt = context.now();
  await stream.ensureTopics(
    EVENT_TOPICS.map((topic) => ({ name: topic.topic, partitions: topic.partitions })),
  );
  await startNewGroupFromLedger(
    context,
    EVENT_TOPICS.map((topic) => topic.topic),
  );
  const ingested: IngestedBatch[] = [];
  if (!(await readToTheEnd(stream, context.config.STREAM_GROUP_ID)))
    await drain(context, startedAt, ingested);
  const events = ingested.reduce((sum, batch) => sum + batch.events, 0);
  await recordRun(warehouse, {
    runId: context.runId,
    job: 'stream-ingest',
    step: 'drain',
    status: ingested.length > 0 ? 'succeeded' : 'skipped',
    startedAt,
    finishedAt: context.now(),
    rowsIn: events,
    rowsOut: events,
    message: `${ingested.length} micro-batches`,
  });
  await streamIngestLineage(context, startedAt, ingested);
  return ingested;
}

/**
 * Whether the group has committed every partition of the event topics up to its end offset: then there is nothing
 * to drain, and the consumer's group join (about half a second of an hourly run with no new event) is skipped.
 * A partition never committed, or behind its end, needs the drain (which also checks retention gaps).
 */
export async function readToTheEnd(stream: EventStream, groupId: string): Promise<boolean> {
  const topics = EVENT_TOPICS.map((topic) => topic.topic);
  const [committed, ends] = await Promise.all([
    stream.groupOffsets(groupId, topics),
    Promise.all(topics.map((topic) => stream.endOffsets(topic))),
  ]);
  const next = new Map(committed.map((entry) => [`${entry.topic}\u0000${entry.partition}`, entry.offset]));
  return ends
    .flat()
    .every((end) => end.offset === 0 || (next.get(`${end.topic}\u0000${end.partition}`) ?? -1) >= end.offset);
}

async function drain(context: JobContext, startedAt: Date, ingested: IngestedBatch[]): Promise<void> {
  const stream = context.stream();
  const warehouse = await context.warehouse();
  const consumer = await stream.consumer(
    context.config.STREAM_GROUP_ID,
    EVENT_TOPICS.map((topic) => topic.topic),
    fetchSettings(context.config, false),
  );
  await checkRetentionGaps(
    context,
    consumer,
    EVENT_TOPICS.map((topic) => topic.topic),
  ).catch(async (error: unknown) => {
    await consumer.close();
    throw error;
  });
  // On SIGTERM: let the batch in hand be written and committed, then stop fetching.
  const stopConsuming = () => void consumer.stop();
  context.signal.addEventListener('abort', stopConsuming, { once: true });
  try {
    context.throwIfStopping();
    await consumeToRaw(context, consumer, {
      kind: 'topic',
      stopWhenCaughtUp: true,
      persist: persistOnce,
      onCommitted: (batch) => ingested.push(batch),
    });
    context.throwIfStopping();
  } catch (error) {
    await recordRun(warehouse, {
      runId: context.runId,
      job: 'stream-ingest',
      step: 'drain',
      status: 'failed',
      startedAt,
      finishedAt: context.now(),
      message: (error as Error).message,
    });
    await streamIngestLineage(context, startedAt, ingested, error);
    throw error;
  } finally {
    context.signal.removeEventListener('abort', stopConsuming);
    await consumer.close();
  }
}

export interface StreamIngestOptions {
  /** Run as the long-running service instead of draining once. */
  follow?: boolean;
  /** The service's /healthz, /readyz and /status port (default ECOMM_HEALTH_PORT). */
  healthPort?: number;
}

/** `ecomm stream-ingest`: drain the topics once and say how much moved, or, with --follow, run the service. */
export async function run(
  context: JobContext,
  options: StreamIngestOptions,
  output: PrintLine,
): Promise<number> {
  if (options.follow) return follow(context, options.healthPort ?? context.config.ECOMM_HEALTH_PORT, output);
  const batches = await runStreamIngest(context);
  output(
    `stream-ingest ${batches.reduce((sum, b) => sum + b.events, 0)} events in ${batches.length} micro-batches`,
  );
  return 0;
}

/** The long-running stream service: consume until SIGTERM, then flush, commit and exit 0. */
async function follow(context: JobContext, healthPort: number, output: PrintLine): Promise<number> {
  const result = await runStreamService(context, { healthPort, out: output });
  const applied = result.health.apply?.();
  output(
    `stream-ingest stopped: ${result.events} events in ${result.batches} micro-batches` +
      (applied
        ? `; ${applied.eventsApplied} events applied to silver, ${applied.deadLettered} dead-lettered`
        : ''),
  );
  return 0;
}
