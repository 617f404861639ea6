/** PartitionBatch from message objects (the embedded log, wrappers, tests), and the columns of such messages. */
import type { MessageColumns, PartitionBatch, StreamMessage } from './event-stream.ts';

export function batchOf(topic: string, partition: number, messages: StreamMessage[]): PartitionBatch {
  return { topic, partition, messages, columns: (allocate) => columnsOf(messages, allocate) };
}

/** The same batch under another topic name (its messages renamed when they are built). */
export function renamedBatch(batch: PartitionBatch, topic: string): PartitionBatch {
  let messages: StreamMessage[] | undefined;
  return {
    topic,
    partition: batch.partition,
    get messages() {
      messages ??= batch.messages.map((message) => ({ ...message, topic }));
      return messages;
    },
    columns: (allocate) => batch.columns(allocate),
  };
}

export function columnsOf(messages: StreamMessage[], allocate?: ColumnsAllocator): MessageColumns {
  const keys = messages.map((message) => (message.key === null ? null : Buffer.from(message.key, 'utf8')));
  return packColumns(
    messages.length,
    (index) => messages[index] as StreamMessage,
    (message) => message.value,
    (_, index) => keys[index] ?? null,
    allocate,
  );
}

/** Where columns are laid out: a fresh buffer, or one a caller recycles (see the stream service's encoder). */
export type ColumnsAllocator = (bytes: number) => ArrayBuffer;

const freshBuffer: ColumnsAllocator = (bytes) => new ArrayBuffer(bytes);

/**
 * Columns from any message shape, all laid out in one ArrayBuffer (so that they move between threads as one, and
 * can be reused: writing into memory that is not yet mapped costs more than the copy itself).
 */
export function packColumns<M extends { offset: number | string; timestamp: number | string }>(
  count: number,
  at: (index: number) => M,
  valueOfMessage: (message: M) => Uint8Array,
  keyOfMessage: (message: M, index: number) => Uint8Array | null,
  allocate: ColumnsAllocator = freshBuffer,
): MessageColumns {
  let valueBytes = 0;
  let keyBytes = 0;
  for (let index = 0; index < count; index += 1) {
    const message = at(index);
    valueBytes += valueOfMessage(message).length;
    keyBytes += keyOfMessage(message, index)?.length ?? 0;
  }
  // Float64 columns first (8-byte aligned), then 4-byte, then bytes.
  const numbers = count * 8;
  const ends = count * 4;
  const buffer = allocate(2 * numbers + 2 * ends + count + valueBytes + keyBytes);
  let next = 0;
  const carve = <T>(make: (from: number) => T, bytes: number): T => {
    const view = make(next);
    next += bytes;
    return view;
  };
  const offsets = carve((from) => new Float64Array(buffer, from, count), numbers);
  const timestamps = carve((from) => new Float64Array(buffer, from, count), numbers);
  const valueEnds = carve((from) => new Uint32Array(buffer, from, count), ends);
  const keyEnds = carve((from) => new Uint32Array(buffer, from, count), ends);
  const keyIsNull = carve((from) => new Uint8Array(buffer, from, count), count);
  const values = carve((from) => new Uint8Array(buffer, from, valueBytes), valueBytes);
  const keys = carve((from) => new Uint8Array(buffer, from, keyBytes), keyBytes);
  let valueAt = 0;
  let keyAt = 0;
  for (let index = 0; index < count; index += 1) {
    const message = at(index);
    offsets[index] = Number(message.offset);
    timestamps[index] = Number(message.timestamp);
    const value = valueOfMessage(message);
    values.set(value, valueAt);
    valueAt += value.length;
    valueEnds[index] = valueAt;
    const key = keyOfMessage(message, index);
    keyIsNull[index] = key === null ? 1 : 0;
    if (key !== null) {
      keys.set(key, keyAt);
      keyAt += key.length;
    }
    keyEnds[index] = keyAt;
  }
  return { offsets, timestamps, values, valueEnds, keys, keyEnds, keyIsNull };
}
