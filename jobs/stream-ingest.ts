import type { PartitionBatch, StreamConsumer, StreamMessage } from '../adapters/stream/event-stream.ts';
import type { JobContext } from './context.ts';
import { EVENT_TOPICS } from './contracts/event-topics.ts';
import { isoDate, lakeKey } from './lake/layout.ts';
import { streamIngestLineage } from './lineage/steps.ts';
import { registerBatch } from './ops/batches.ts';
import { recordRun } from './ops/pipeline-runs.ts';
import type { PartitionLag, ServiceHealth } from './stream-service/health.ts';

export interface IngestedBatch {
  batchId: string;
  topic: string;
  partition: number;
  firstOffset: number;
  events: number;
  rawKey: string;
}

/**
 * One raw line per message, exactly as consumed: the value as text when it is valid UTF-8, else base64, so
 * malformed events reach validation (and quarantine) byte for byte.
 */
export interface RawEnvelope {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  timestamp: number;
  value?: string;
  value_base64?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function envelopeOf(message: StreamMessage): RawEnvelope {
  const envelope: RawEnvelope = {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key,
    timestamp: message.timestamp,
  };
  try {
    envelope.value = utf8.decode(message.value);
  } catch {
    envelope.value_base64 = message.value.toString('base64');
  }
  return envelope;
}

/** The batch id names topic, partition and first offset: a replay from the same offset overwrites one object. */
export function streamBatchId(topic: string, partition: number, firstOffset: number): string {
  return `${topic}_p${partition}_o${String(firstOffset).padStart(12, '0')}`;
}

export interface StreamIngestOptions {
  /** Keep consuming until asked to stop (the long-running service); otherwise drain to the current end and return. */
  follow?: boolean;
  /** Live counters and lag, for the service's health endpoint. */
  health?: ServiceHealth;
}

/**
 * Moves the event topics into raw/ NDJSON micro-batches. Per batch: write the object, record it in the ledger,
 * then commit the offsets (invariant 3: an offset never moves past data that is not durably written).
 * On a stop request the batch in hand is written and committed first; a following service then returns normally.
 */
export async function runStreamIngest(
  context: JobContext,
  options: StreamIngestOptions = {},
): Promise<IngestedBatch[]> {
  const stream = context.stream();
  const warehouse = await context.warehouse();
  const startedAt = context.now();
  await stream.ensureTopics(
    EVENT_TOPICS.map((topic) => ({ name: topic.topic, partitions: topic.partitions })),
  );
  const consumer = await stream.consumer(
    context.config.STREAM_GROUP_ID,
    EVENT_TOPICS.map((topic) => topic.topic),
  );
  if (options.health) options.health.ready = true;
  const ingested: IngestedBatch[] = [];
  const health = options.health;
  if (health) {
    health.lag = () => partitionLag(context, consumer);
    health.alive = true;
  }
  // On SIGTERM: let the batch in hand be written and committed, then stop fetching.
  const stopConsuming = () => void consumer.stop();
  context.signal.addEventListener('abort', stopConsuming, { once: true });
  try {
    context.throwIfStopping();
    await consumer.consume(
      async (batch: PartitionBatch) => {
        const written = await writeMicroBatch(context, batch);
        await consumer.commit([
          { topic: batch.topic, partition: batch.partition, offset: written.firstOffset + written.events },
        ]);
        ingested.push(written);
        if (health) {
          health.lastFlushAt = context.now();
          health.batchesWritten += 1;
          health.eventsWritten += written.events;
        }
      },
      { stopWhenCaughtUp: !options.follow, maxBatchSize: context.config.STREAM_BATCH_MAX_EVENTS },
    );
    if (!options.follow) context.throwIfStopping();
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
    if (health) health.alive = false;
    context.signal.removeEventListener('abort', stopConsuming);
    await consumer.close();
  }
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

async function partitionLag(context: JobContext, consumer: StreamConsumer): Promise<PartitionLag[]> {
  const committed = await consumer.committed();
  const lag: PartitionLag[] = [];
  for (const topic of EVENT_TOPICS) {
    for (const end of await context.stream().endOffsets(topic.topic)) {
      const done =
        committed.find((entry) => entry.topic === end.topic && entry.partition === end.partition)?.offset ??
        0;
      lag.push({
        topic: end.topic,
        partition: end.partition,
        endOffset: end.offset,
        committedOffset: done,
        lag: Math.max(0, end.offset - done),
      });
    }
  }
  return lag;
}

async function writeMicroBatch(context: JobContext, batch: PartitionBatch): Promise<IngestedBatch> {
  const first = batch.messages[0];
  if (!first) throw new Error(`empty batch from ${batch.topic}/${batch.partition}`);
  const batchId = streamBatchId(batch.topic, batch.partition, first.offset);
  const ingestionDate = isoDate(context.now());
  const rawKey = lakeKey('raw', batch.topic, ingestionDate, batchId, 'ndjson');
  await context.lake().put(rawKey, ndjsonLines(batch.messages), { contentType: 'application/x-ndjson' });
  const warehouse = await context.warehouse();
  await registerBatch(warehouse, {
    batchId,
    source: batch.topic,
    kind: 'topic',
    ingestionDate,
    rawKey,
    rows: batch.messages.length,
    at: context.now(),
  });
  context.log.info({ job: 'stream-ingest', rawKey, events: batch.messages.length }, 'micro-batch written');
  return {
    batchId,
    topic: batch.topic,
    partition: batch.partition,
    firstOffset: first.offset,
    events: batch.messages.length,
    rawKey,
  };
}

async function* ndjsonLines(messages: StreamMessage[]): AsyncGenerator<Uint8Array> {
  const linesPerChunk = 2_000;
  for (let start = 0; start < messages.length; start += linesPerChunk) {
    let text = '';
    for (const message of messages.slice(start, start + linesPerChunk))
      text += `${JSON.stringify(envelopeOf(message))}\n`;
    yield Buffer.from(text);
  }
}
