/**
 * The dead-letter topic: every event that is not valid UTF-8, not JSON, too large or fails its contract is
 * published here with its original bytes as the value and why in the headers, besides its quarantine row. Delivery
 * is at least once (a batch applied again after a crash publishes its poison again); the source topic, partition
 * and offset headers identify a message, so readers can drop repeats.
 */
import type { EventStream, OutgoingMessage } from '../../../adapters/stream/event-stream.ts';
import { originalBytes, type RawEnvelope } from '../../lake/raw-batch.ts';

export const DEAD_LETTER_TOPIC = 'dead-letter';
/** As the infrastructure creates it: as many partitions as the widest event topic. */
export const DEAD_LETTER_PARTITIONS = 3;

export const DEAD_LETTER_HEADERS = {
  reason: 'ecomm-reason',
  sourceTopic: 'ecomm-source-topic',
  sourcePartition: 'ecomm-source-partition',
  sourceOffset: 'ecomm-source-offset',
  sourceTimestamp: 'ecomm-source-timestamp',
  batchId: 'ecomm-batch-id',
  rawKey: 'ecomm-raw-key',
  /** Set when the broker refused the whole value (Event Hubs takes 1 MB at most): the value is its first bytes. */
  truncated: 'ecomm-truncated',
  originalBytes: 'ecomm-original-bytes',
} as const;

const MAX_REASON_CHARS = 4_000;
/** What a refused oversized message keeps of its value; raw/ and quarantine/ keep all of it. */
const TRUNCATED_VALUE_BYTES = 64 * 1024;

export function deadLetterMessage(
  envelope: RawEnvelope,
  reasons: string[],
  batch: { batchId: string; rawKey: string },
): OutgoingMessage {
  const value = originalBytes(envelope);
  return {
    key: envelope.key,
    value,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: reasons.join('; ').slice(0, MAX_REASON_CHARS),
      [DEAD_LETTER_HEADERS.sourceTopic]: envelope.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(envelope.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: String(envelope.offset),
      [DEAD_LETTER_HEADERS.sourceTimestamp]: String(envelope.timestamp),
      [DEAD_LETTER_HEADERS.batchId]: batch.batchId,
      [DEAD_LETTER_HEADERS.rawKey]: batch.rawKey,
      [DEAD_LETTER_HEADERS.originalBytes]: String(value.length),
    },
  };
}

/**
 * Publishes dead letters. A message the broker refuses as too large (MESSAGE_TOO_LARGE: Event Hubs caps records
 * at 1 MB, MSK and Kafka at message.max.bytes) is sent again with its value cut to its first 64 KiB and
 * `ecomm-truncated: true`, so an oversized poison event can never stall the service; the full bytes stay in raw/
 * and quarantine/. Other failures are thrown (the caller retries them with backoff).
 */
export async function publishDeadLetters(stream: EventStream, messages: OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  try {
    await stream.publish(DEAD_LETTER_TOPIC, messages);
    return;
  } catch (error) {
    if (!isTooLarge(error)) throw error;
  }
  for (const message of messages) {
    try {
      await stream.publish(DEAD_LETTER_TOPIC, [message]);
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      const value = Buffer.isBuffer(message.value) ? message.value : Buffer.from(message.value);
      await stream.publish(DEAD_LETTER_TOPIC, [
        {
          ...message,
          value: value.subarray(0, TRUNCATED_VALUE_BYTES),
          headers: { ...message.headers, [DEAD_LETTER_HEADERS.truncated]: 'true' },
        },
      ]);
    }
  }
}

/** kafkajs' MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE anywhere in the cause chain. */
export function isTooLarge(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 8; depth += 1) {
    const type = (cause as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
    cause = (cause as { cause?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError;
  }
  return false;
}
