/**
 * Raw stream micro-batches: one gzip-compressed NDJSON object per batch, one envelope per message, named by topic,
 * partition and first offset. Shared by `ecomm stream-ingest` (drain) and the stream service (follow).
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { MessageColumns, StreamMessage } from '../../adapters/stream/event-stream.ts';
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
 * zlib's fastest level: about 0.6 µs per realistic event in the encoder thread, 10x smaller (level 2: 0.67 µs, 11x).
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

/** The raw object's bytes: gzip NDJSON, one envelope per message (the raw encoder's thread runs this). */
export function encodeRawBatch(topic: string, partition: number, columns: MessageColumns): Buffer {
  return gzipSync(envelopeLines(topic, partition, columns), { level: GZIP_LEVEL });
}

/**
 * The NDJSON lines of envelopeOf, byte for byte what JSON.stringify(envelopeOf(message)) gives, as one buffer.
 * Values are never decoded: valid UTF-8 bytes are read as Latin-1 (one character per byte), which JSON.stringify
 * escapes exactly as it escapes the decoded text (only quotes, backslashes and control characters, all ASCII),
 * and written back as Latin-1, the same bytes. Decoding, stringifying and re-encoding as UTF-8 cost twice as
 * much, and escaping byte by byte in JavaScript more still.
 */
function envelopeLines(topic: string, partition: number, columns: MessageColumns): Buffer {
  const { offsets, timestamps, valueEnds, keyEnds, keyIsNull } = columns;
  const values = asBuffer(columns.values);
  const keys = asBuffer(columns.keys);
  const valuesValid = isUtf8(values);
  const keysValid = isUtf8(keys);
  const head = latin1OfUtf8(`{"topic":${JSON.stringify(topic)},"partition":${partition},"offset":`);
  let out = scratch(values.length * 2 + offsets.length * (head.length + 96) + 1024);
  let at = 0;
  let text = '';
  // Messages produced together share a timestamp: its text is made once.
  let lastTimestamp = Number.NaN;
  let lastTimestampText = 'null';
  const flush = () => {
    if (at + text.length > out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(out.length * 2, at + text.length));
      out.copy(grown, 0, 0, at);
      out = grown;
      lineBuffer = grown;
    }
    at += out.write(text, at, 'latin1');
    text = '';
  };
  for (let index = 0; index < offsets.length; index += 1) {
    const valueFrom = index === 0 ? 0 : (valueEnds[index - 1] as number);
    const valueTo = valueEnds[index] as number;
    const keyFrom = index === 0 ? 0 : (keyEnds[index - 1] as number);
    const keyTo = keyEnds[index] as number;
    const key = keyIsNull[index] ? 'null' : jsonText(keys, keyFrom, keyTo, keysValid);
    const value = isUtf8Slice(values, valueFrom, valueTo, valuesValid)
      ? `"value":${JSON.stringify(values.toString('latin1', valueFrom, valueTo))}`
      : `"value_base64":"${values.toString('base64', valueFrom, valueTo)}"`;
    const timestamp = timestamps[index] as number;
    if (timestamp !== lastTimestamp) {
      lastTimestamp = timestamp;
      lastTimestampText = jsonNumber(timestamp);
    }
    text += `${head}${integerText(offsets[index] as number)},"key":${key},"timestamp":${lastTimestampText},${value}}\n`;
    if (text.length > 1 << 16) flush();
  }
  flush();
  return out.subarray(0, at);
}

/**
 * The lines are built in one buffer kept from batch to batch (gzip has read it by the time the next batch comes):
 * a fresh 16 MiB per batch costs page faults and, as external memory, pushes V8 into extra full collections.
 */
let lineBuffer: Buffer | undefined;
function scratch(bytes: number): Buffer {
  if (!lineBuffer || lineBuffer.length < bytes) lineBuffer = Buffer.allocUnsafeSlow(bytes);
  return lineBuffer;
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A text as the Latin-1 string of its UTF-8 bytes (how every piece of a line is held until written). */
const latin1OfUtf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/**
 * Whether bytes[from, to) is valid UTF-8, given whether the whole buffer is: a slice of valid UTF-8 is valid when
 * it neither starts nor ends inside a character (the byte at each edge is not a continuation byte).
 */
function isUtf8Slice(bytes: Buffer, from: number, to: number, wholeValid: boolean): boolean {
  if (!wholeValid) return isUtf8(bytes.subarray(from, to));
  const startsInside = from < bytes.length && ((bytes[from] as number) & 0xc0) === 0x80;
  const endsInside = to < bytes.length && ((bytes[to] as number) & 0xc0) === 0x80;
  return from === to || (!startsInside && !endsInside);
}

/** A key as JSON text (Latin-1 of its UTF-8), as JSON.stringify writes the key decoded like StreamMessage.key. */
function jsonText(bytes: Buffer, from: number, to: number, wholeValid: boolean): string {
  return isUtf8Slice(bytes, from, to, wholeValid)
    ? JSON.stringify(bytes.toString('latin1', from, to))
    : latin1OfUtf8(JSON.stringify(bytes.toString('utf8', from, to)));
}

/** An offset as text; one that fits 31 bits goes through V8's small-integer path (a double's is 5x slower). */
const integerText = (value: number): string => String(value <= 0x3fffffff ? value | 0 : value);

/** As JSON.stringify writes a number: a missing (NaN) timestamp is null. */
const jsonNumber = (value: number): string => (Number.isFinite(value) ? String(value) : 'null');

/** A raw object's bytes, decompressed when its key ends in `.gz`. */
export async function openRawObject(lake: ObjectStore, key: string): Promise<Readable> {
  const body = await lake.get(key);
  if (!key.endsWith('.gz')) return body;
  const gunzip = createGunzip();
  body.on('error', (error) => gunzip.destroy(error));
  return body.pipe(gunzip);
}
