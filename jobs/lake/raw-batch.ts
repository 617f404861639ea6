/**
 * Raw stream micro-batches: one Zstandard-compressed NDJSON object per batch, one envelope per message, named by
 * topic, partition and first offset. Shared by `ecomm stream-ingest` (drain) and the stream service (follow).
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { constants, createGunzip, createZstdDecompress, zstdCompressSync } from 'node:zlib';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { MessageColumns, StreamMessage } from '../../adapters/stream/event-stream.ts';
import { type JsonQuoter, startJsonQuoter } from './json-escape.ts';
import { lakeKey } from './layout.ts';

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

/**
 * Raw stream objects are Zstandard NDJSON; `validate` also reads the gzip (`.ndjson.gz`) and plain (`.ndjson`)
 * objects of earlier releases.
 */
export const RAW_STREAM_EXTENSION = 'ndjson.zst';

/**
 * Zstandard level 1: about 0.23 µs per realistic event of ~400 bytes of NDJSON, 3x smaller than gzip level 1,
 * which takes 0.55 µs (measured on the 2-core bench machine, where compression competes with decoding fetches
 * for CPU). node:zlib's zstd is marked experimental; the project pins Node 24, and the tests read every object back.
 */
const ZSTD_OPTIONS = { params: { [constants.ZSTD_c_compressionLevel]: 1 } };

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

/** The raw object's bytes: zstd NDJSON, one envelope per message (the raw encoder's thread runs this). */
export function encodeRawBatch(topic: string, partition: number, columns: MessageColumns): Buffer {
  return zstdCompressSync(envelopeLines(topic, partition, columns), ZSTD_OPTIONS);
}

/**
 * The NDJSON lines of envelopeOf, byte for byte what JSON.stringify(envelopeOf(message)) gives. Values and keys
 * are never decoded: valid UTF-8 is quoted straight from its bytes (json-escape.ts). The lines are built in the
 * quoter's memory, which the thread keeps from batch to batch (fresh memory per batch costs page faults); the view
 * returned is good until the next call.
 */
function envelopeLines(topic: string, partition: number, columns: MessageColumns): Uint8Array {
  const { offsets, timestamps, valueEnds, keyEnds, keyIsNull } = columns;
  const values = asBuffer(columns.values);
  const keys = asBuffer(columns.keys);
  const valuesValid = isUtf8(values);
  const keysValid = isUtf8(keys);
  const head = Buffer.concat([
    ENVELOPE_FIELDS.topic,
    Buffer.from(JSON.stringify(topic)),
    ENVELOPE_FIELDS.partition,
    Buffer.from(String(partition)),
    ENVELOPE_FIELDS.offset,
  ]);
  quoter ??= startJsonQuoter();
  // Memory: the values, the keys, then the lines.
  const valuesAt = quoter.base;
  const keysAt = valuesAt + values.length;
  const linesAt = keysAt + keys.length;
  let memory = quoter.memory(linesAt + values.length + offsets.length * (head.length + 128));
  memory.set(values, valuesAt);
  memory.set(keys, keysAt);
  let at = linesAt;
  // Messages produced together share a timestamp: its text is made once.
  let lastTimestamp = Number.NaN;
  let timestampText = 'null';
  for (let index = 0; index < offsets.length; index += 1) {
    const valueFrom = index === 0 ? 0 : (valueEnds[index - 1] as number);
    const valueTo = valueEnds[index] as number;
    const keyFrom = index === 0 ? 0 : (keyEnds[index - 1] as number);
    const keyTo = keyEnds[index] as number;
    const valueValid = isUtf8Slice(values, valueFrom, valueTo, valuesValid);
    // Quoting at most sextuples a byte (a control character becomes \u00XX); base64 adds a third.
    const valueRoom = (valueValid ? 6 : 2) * (valueTo - valueFrom);
    const room = head.length + 128 + valueRoom + 6 * (keyTo - keyFrom);
    if (at + room > memory.length) memory = quoter.memory(at + room);
    at += head.copy(memory, at);
    at = writeNumber(memory, at, offsets[index] as number);
    at = writeAscii(memory, at, ENVELOPE_FIELDS.key);
    if (keyIsNull[index]) at = writeAscii(memory, at, NULL);
    else if (isUtf8Slice(keys, keyFrom, keyTo, keysValid))
      at = quoter.quote(keysAt + keyFrom, keysAt + keyTo, at);
    else at += memory.write(JSON.stringify(keys.toString('utf8', keyFrom, keyTo)), at, 'utf8');
    at = writeAscii(memory, at, ENVELOPE_FIELDS.timestamp);
    const timestamp = timestamps[index] as number;
    if (timestamp !== lastTimestamp) {
      lastTimestamp = timestamp;
      timestampText = Number.isFinite(timestamp) ? String(timestamp) : 'null';
    }
    at += memory.write(timestampText, at, 'latin1');
    if (valueValid) {
      at = writeAscii(memory, at, ENVELOPE_FIELDS.value);
      at = quoter.quote(valuesAt + valueFrom, valuesAt + valueTo, at);
    } else {
      at = writeAscii(memory, at, ENVELOPE_FIELDS.valueBase64);
      at = writeAscii(memory, at, QUOTE);
      at += memory.write(values.toString('base64', valueFrom, valueTo), at, 'latin1');
      at = writeAscii(memory, at, QUOTE);
    }
    at = writeAscii(memory, at, LINE_END);
  }
  return memory.subarray(linesAt, at);
}

/** This thread's quoter, made on first use. */
let quoter: JsonQuoter | undefined;

const ascii = (text: string) => Uint8Array.from(text, (character) => character.charCodeAt(0));

/**
 * The names that open each field of an envelope line, in the order envelopeLines writes them (JSON.stringify's
 * order of envelopeOf) and EventLineReader (envelope-line.ts) reads them.
 */
export const ENVELOPE_FIELDS = {
  topic: ascii('{"topic":'),
  partition: ascii(',"partition":'),
  offset: ascii(',"offset":'),
  key: ascii(',"key":'),
  timestamp: ascii(',"timestamp":'),
  value: ascii(',"value":'),
  valueBase64: ascii(',"value_base64":'),
} as const;
const QUOTE = ascii('"');
const LINE_END = ascii('}\n');
const NULL = ascii('null');

/** Short fragments are copied in a loop: a native copy costs more to call than these few bytes take. */
function writeAscii(out: Buffer, at: number, fragment: Uint8Array): number {
  for (let index = 0; index < fragment.length; index += 1) out[at + index] = fragment[index] as number;
  return at + fragment.length;
}

/** A non-negative safe integer (an offset) as its decimal digits; any other number as String writes it. */
function writeNumber(out: Buffer, at: number, value: number): number {
  if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) {
    return at + out.write(String(value), at, 'latin1');
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  let rest = value;
  for (let index = at + digits - 1; index >= at; index -= 1) {
    out[index] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

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

/**
 * The decompressed chunk: each chunk is one round trip to libuv's thread pool, and zlib's 16 KiB default made
 * decompressing scale 200's raw events (3.3 GB) cost 10.7-11.9 CPU-s and 520,000 context switches, against 5.0 CPU-s
 * and 95,000 at 120 KiB. Under 128 KiB: larger chunks are mapped and unmapped by malloc at every chunk
 * (MALLOC_ENVIRONMENT) and land in V8's large-object space once decoded, and validate then took 3.5M page faults
 * instead of 1.2M (docs/performance.md, validate).
 */
export const DECOMPRESSED_CHUNK_BYTES = 120 * 1024;

/** How raw objects are decompressed, by the end of their key (anything else is read as it is). */
const DECOMPRESSORS = [
  {
    extension: '.zst',
    format: 'zstd',
    open: () => createZstdDecompress({ chunkSize: DECOMPRESSED_CHUNK_BYTES }),
  },
  { extension: '.gz', format: 'gzip', open: () => createGunzip({ chunkSize: DECOMPRESSED_CHUNK_BYTES }) },
];

/**
 * A raw object's bytes, decompressed by its key's extension. Bytes that are not what the extension says fail
 * naming the object and the format (zlib alone says only "Unknown frame descriptor" or "incorrect header check").
 */
export async function openRawObject(lake: ObjectStore, key: string): Promise<Readable> {
  const body = await lake.get(key);
  const decompressor = DECOMPRESSORS.find(({ extension }) => key.endsWith(extension));
  if (!decompressor) return body;
  const decompress = decompressor.open();
  body.on('error', (error) => decompress.destroy(error));
  decompress.on('error', (error: NodeJS.ErrnoException) => {
    // Errors of the decompressor itself (zlib codes start with Z); a failed read keeps its own message.
    if (error.code?.startsWith('Z'))
      error.message = `raw object ${key} is not valid ${decompressor.format}: ${error.message}`;
  });
  return body.pipe(decompress);
}
