/**
 * Stage 1 of stream ingestion, shared by `ecomm stream-ingest` (drain) and the stream service (follow): consume the
 * event topics in a consumer group, write each micro-batch to raw/ as one Zstandard NDJSON object, record it in the
 * batch ledger, and only then commit its offsets (invariant 3).
 *
 * When a micro-batch closes: the consumer's fetch returns once STREAM_BATCH_MAX_BYTES of messages are ready across
 * its partitions, or STREAM_BATCH_MAX_AGE_MS after it began (Kafka's fetch.min.bytes / fetch.max.wait.ms: the
 * broker holds the request, no timer runs in the service); each partition's part of the fetch is then split into
 * micro-batches of at most STREAM_BATCH_MAX_EVENTS events and STREAM_BATCH_MAX_BYTES value bytes. So a message
 * waits at most about the age limit plus one write before its batch closes, and a partition never holds messages
 * across fetches: every write and commit happens inside the consumer's batch callback, while the group generation
 * that owns the partition is current (kafkajs does not rejoin a rebalance while a callback runs), so a commit can
 * never land for a partition this member has lost.
 */
import type {
  ConsumeOptions,
  FetchOptions,
  PartitionBatch,
  StreamConsumer,
} from '../../adapters/stream/event-stream.ts';
import type { Config } from '../config.ts';
import type { JobContext } from '../context.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { isoDate } from '../lake/layout.ts';
import { rawStreamKey, streamBatchId } from '../lake/raw-batch.ts';
import { type RawEncoder, startRawEncoder } from '../lake/raw-encoder.ts';
import { type BatchKind, registerBatch } from '../ops/batches.ts';
import type { Persist } from './backpressure.ts';

export interface IngestedBatch {
  batchId: string;
  topic: string;
  partition: number;
  firstOffset: number;
  events: number;
  /** Value bytes, uncompressed. */
  bytes: number;
  rawKey: string;
  ingestionDate: string;
}

/** Fetch settings that close micro-batches on size or age (follow), or end a drain promptly (drain). */
export function fetchSettings(config: Config, follow: boolean): FetchOptions {
  const partitions = EVENT_TOPICS.reduce((sum, topic) => sum + topic.partitions, 0);
  const perPartition = config.STREAM_BATCH_MAX_BYTES;
  const total = Math.min(perPartition * partitions, 64 * 1024 * 1024);
  // `ledger` has the group's offsets set from the ledger before it starts (startNewGroupFromLedger); a partition the
  // ledger never saw starts at the oldest event kept.
  const newGroupStart = config.STREAM_START_POSITION === 'latest' ? 'latest' : 'earliest';
  return follow
    ? {
        minBytes: perPartition,
        maxWaitMs: config.STREAM_BATCH_MAX_AGE_MS,
        maxBytesPerPartition: perPartition,
        maxBytes: Math.max(total, perPartition),
        newGroupStart,
      }
    : { maxBytesPerPartition: perPartition, maxBytes: DRAIN_FETCH_PARTITIONS * perPartition, newGroupStart };
}

/**
 * A drain's fetch holds at most this many partitions' worth of bytes: a fetch is decoded into message objects all at
 * once, and the drain runs inside `ecomm run`, whose peak it sets. At scale 20 (750k events), alternated: 16 MB
 * fetches peaked at 391-402 MB against 472-473 MB for 48 MB, in the same 5.1-5.2 s against 5.2-5.8 s.
 */
const DRAIN_FETCH_PARTITIONS = 2;

export function consumeSettings(config: Config, stopWhenCaughtUp: boolean): ConsumeOptions {
  return {
    stopWhenCaughtUp,
    maxBatchSize: config.STREAM_BATCH_MAX_EVENTS,
    maxBatchBytes: config.STREAM_BATCH_MAX_BYTES,
    // Each partition's batch is written on its own (raw puts overlap); one partition's batches stay in order.
    concurrentPartitions: EVENT_TOPICS.reduce((sum, topic) => sum + topic.partitions, 0),
  };
}

export interface ConsumeToRawOptions {
  /** `topic` for the drain job (the batch jobs validate and load it), `stream` for the service (it does). */
  kind: BatchKind;
  stopWhenCaughtUp: boolean;
  /** How lake and warehouse writes are retried: with backoff while the service runs, not at all when draining. */
  persist: Persist;
  /** After a batch is written, registered and committed. */
  onCommitted?: (batch: IngestedBatch) => void;
}

/** Consumes until caught up (drain) or until `consumer.stop()` (service); rejects with a handler's error. */
export async function consumeToRaw(
  context: JobContext,
  consumer: StreamConsumer,
  options: ConsumeToRawOptions,
): Promise<void> {
  const encoder = startRawEncoder();
  try {
    await consumer.consume(
      async (batch: PartitionBatch) => {
        const written = await writeMicroBatch(context, batch, { ...options, encoder });
        // Only now, with the object and its ledger row durable, may the group move past these messages.
        await consumer.commit([
          { topic: batch.topic, partition: batch.partition, offset: written.firstOffset + written.events },
        ]);
        options.onCommitted?.(written);
      },
      consumeSettings(context.config, options.stopWhenCaughtUp),
    );
  } finally {
    await encoder.close();
  }
}

/**
 * Writes one micro-batch: the raw object, then its ledger row. The key is a function of the messages alone
 * (topic, partition, first offset, and the day of the first message's broker timestamp), so a replay from the
 * same offset overwrites the same object, on any day.
 */
export async function writeMicroBatch(
  context: JobContext,
  batch: PartitionBatch,
  options: Pick<ConsumeToRawOptions, 'kind' | 'persist'> & { encoder: RawEncoder },
): Promise<IngestedBatch> {
  const columns = batch.columns((bytes) => options.encoder.allocate(bytes));
  const events = columns.offsets.length;
  const firstOffset = columns.offsets[0];
  if (firstOffset === undefined) throw new Error(`empty batch from ${batch.topic}/${batch.partition}`);
  const batchId = streamBatchId(batch.topic, batch.partition, firstOffset);
  const ingestionDate = batchDate(columns.timestamps[0] as number);
  const rawKey = rawStreamKey(batch.topic, ingestionDate, batchId);
  const bytes = columns.values.length;
  // The columns move to the encoder's thread: nothing here reads them after this.
  const body = await options.encoder.encode(batch.topic, batch.partition, columns);
  // The object is a zstd frame (RFC 8878's media type); its lines are NDJSON once decompressed.
  await options.persist('lake', () => context.lake().put(rawKey, body, { contentType: 'application/zstd' }));
  await options.persist('warehouse', async () =>
    registerBatch(await context.warehouse(), {
      batchId,
      source: batch.topic,
      kind: options.kind,
      ingestionDate,
      rawKey,
      rows: events,
      at: context.now(),
    }),
  );
  context.log.info({ job: 'stream-ingest', rawKey, events }, 'micro-batch written');
  return {
    batchId,
    topic: batch.topic,
    partition: batch.partition,
    firstOffset,
    events,
    bytes,
    rawKey,
    ingestionDate,
  };
}

/** The UTC day of a broker timestamp; a missing or absurd one maps to a fixed day, still deterministic. */
function batchDate(timestamp: number): string {
  const at = new Date(timestamp);
  return Number.isFinite(timestamp) && timestamp > 0 && at.getUTCFullYear() < 10_000
    ? isoDate(at)
    : '1970-01-01';
}
