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
  let valueBytes = 0;
  let keyBytes = 0;
  for (let index = 0; index < messages.length; index += 1) {
    valueBytes += (messages[index] as StreamMessage).value.length;
    keyBytes += keys[index]?.length ?? 0;
  }
  const columns = layoutColumns(messages.length, valueBytes, keyBytes, allocate);
  let valueAt = 0;
  let keyAt = 0;
  for (let index = 0; index < messages.length; index += 1) {
    const message = messages[index] as StreamMessage;
    columns.offsets[index] = message.offset;
    columns.timestamps[index] = message.timestamp;
    columns.values.set(message.value, valueAt);
    valueAt += message.value.length;
    columns.valueEnds[index] = valueAt;
    const key = keys[index] ?? null;
    columns.keyIsNull[index] = key === null ? 1 : 0;
    if (key !== null) {
      columns.keys.set(key, keyAt);
      keyAt += key.length;
    }
    columns.keyEnds[index] = keyAt;
  }
  return columns;
}

/** Where columns are laid out: a fresh buffer, or one a caller recycles (see the stream service's encoder). */
export type ColumnsAllocator = (bytes: number) => ArrayBuffer;

const freshBuffer: ColumnsAllocator = (bytes) => new ArrayBuffer(bytes);

/**
 * Empty columns for `count` messages, all laid out in one ArrayBuffer (so that they move between threads as one,
 * and can be reused: writing into memory that is not yet mapped costs more than the copy itself). Each source
 * fills them in a loop of its own: one loop shared through callbacks ran at half the speed.
 */
export function layoutColumns(
  count: number,
  valueBytes: number,
  keyBytes: number,
  allocate: ColumnsAllocator = freshBuffer,
): MessageColumns {
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
  return {
    offsets: carve((from) => new Float64Array(buffer, from, count), numbers),
    timestamps: carve((from) => new Float64Array(buffer, from, count), numbers),
    valueEnds: carve((from) => new Uint32Array(buffer, from, count), ends),
    keyEnds: carve((from) => new Uint32Array(buffer, from, count), ends),
    keyIsNull: carve((from) => new Uint8Array(buffer, from, count), count),
    values: carve((from) => new Uint8Array(buffer, from, valueBytes), valueBytes),
    keys: carve((from) => new Uint8Array(buffer, from, keyBytes), keyBytes),
  };
}
