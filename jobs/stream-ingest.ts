import type { PartitionBatch, StreamMessage } from '../adapters/stream/event-stream.ts';
import type { JobContext } from './context.ts';
import { EVENT_TOPICS } from './contracts/event-topics.ts';
import { isoDate, lakeKey } from './lake/layout.ts';
import { registerBatch } from './ops/batches.ts';
import { recordRun } from './ops/pipeline-runs.ts';

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

/**
 * Drains the event topics into raw/ NDJSON micro-batches. Per batch: write the object, record it in the ledger,
 * then commit the offsets (invariant 3: an offset never moves past data that is not durably written).
 */
export async function runStreamIngest(context: JobContext): Promise<IngestedBatch[]> {
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
  const ingested: IngestedBatch[] = [];
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
      },
      { stopWhenCaughtUp: true, maxBatchSize: context.config.STREAM_BATCH_MAX_EVENTS },
    );
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
    throw error;
  } finally {
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
  return ingested;
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
