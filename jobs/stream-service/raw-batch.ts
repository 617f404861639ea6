/**
 * Raw stream micro-batches: one gzip-compressed NDJSON object per batch, one envelope per message, named by topic,
 * partition and first offset. Shared by `ecomm stream-ingest` (drain) and the stream service (follow).
 */
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { StreamMessage } from '../../adapters/stream/event-stream.ts';
import { lakeKey } from '../lake/layout.ts';

/**
 * One raw line per message, exactly as consumed: the value as text when it is valid UTF-8 (a byte-order mark
 * kept), else base64, so malformed events reach validation (and quarantine, and the dead-letter topic) byte for
 * byte.
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

/** Raw stream objects are gzip NDJSON; `validate` also reads the plain `.ndjson` of earlier releases. */
export const RAW_STREAM_EXTENSION = 'ndjson.gz';

/**
 * zlib's fastest level: about 2 µs per realistic event on the libuv thread pool, 6x smaller (level 6: 4 µs, 7x).
 * Measured on the 2-core bench machine, where compression competes with decoding the fetch for CPU.
 */
const GZIP_LEVEL = 1;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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

/** The message's bytes as they arrived, from its envelope. */
export function originalBytes(envelope: RawEnvelope): Buffer {
  return envelope.value === undefined
    ? Buffer.from(envelope.value_base64 ?? '', 'base64')
    : Buffer.from(envelope.value, 'utf8');
}

/** The batch id names topic, partition and first offset: a replay from the same offset overwrites one object. */
export function streamBatchId(topic: string, partition: number, firstOffset: number): string {
  return `${topic}_p${partition}_o${String(firstOffset).padStart(12, '0')}`;
}

export function rawStreamKey(topic: string, ingestionDate: string, batchId: string): string {
  return lakeKey('raw', topic, ingestionDate, batchId, RAW_STREAM_EXTENSION);
}

/** The messages as gzip NDJSON envelopes, compressed as a stream (node:zlib) while the lake uploads it. */
export function gzipNdjson(messages: StreamMessage[]): Readable {
  return Readable.from(envelopeLines(messages)).pipe(createGzip({ level: GZIP_LEVEL }));
}

/**
 * The NDJSON lines of envelopeOf, byte for byte what JSON.stringify(envelopeOf(message)) gives, built as text with
 * no envelope object per message: this loop is most of the consumer thread's work per event besides decoding the
 * fetch. (Escaping the value's bytes in JavaScript instead of JSON.stringify was measured slower.)
 */
function* envelopeLines(messages: StreamMessage[]): Generator<Buffer> {
  const topics = new Map<string, string>();
  for (let start = 0; start < messages.length; start += LINES_PER_CHUNK) {
    let text = '';
    const end = Math.min(messages.length, start + LINES_PER_CHUNK);
    for (let index = start; index < end; index += 1) {
      const message = messages[index] as StreamMessage;
      let topic = topics.get(message.topic);
      if (topic === undefined) {
        topic = JSON.stringify(message.topic);
        topics.set(message.topic, topic);
      }
      const key = message.key === null ? 'null' : JSON.stringify(message.key);
      const value = isUtf8(message.value)
        ? `"value":${JSON.stringify(message.value.toString('utf8'))}`
        : `"value_base64":"${message.value.toString('base64')}"`;
      text += `{"topic":${topic},"partition":${message.partition},"offset":${message.offset},"key":${key},"timestamp":${JSON.stringify(message.timestamp)},${value}}\n`;
    }
    yield Buffer.from(text);
  }
}

const LINES_PER_CHUNK = 1_000;

/** A raw object's bytes, decompressed when its key ends in `.gz`. */
export async function openRawObject(lake: ObjectStore, key: string): Promise<Readable> {
  const body = await lake.get(key);
  if (!key.endsWith('.gz')) return body;
  const gunzip = createGunzip();
  body.on('error', (error) => gunzip.destroy(error));
  return body.pipe(gunzip);
}
