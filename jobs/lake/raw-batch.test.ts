import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openLocalStore } from '../../adapters/storage/local.ts';
import type { StreamMessage } from '../../adapters/stream/event-stream.ts';
import { columnsOf } from '../../adapters/stream/partition-batch.ts';
import { encodeRawBatch, envelopeOf, openRawObject, originalBytes, type RawEnvelope } from './raw-batch.ts';
import { startRawEncoder } from './raw-encoder.ts';

const message = (offset: number, value: Buffer, key: string | null = 'k"1'): StreamMessage => ({
  topic: 'clickstream',
  partition: 2,
  offset,
  key,
  value,
  timestamp: 1_790_000_000_123,
});

const messages = [
  message(7, Buffer.from('{"event_id":"a","text":"ünïcode \\"quoted\\"\\n"}')),
  message(11, Buffer.from('raw\u0001\u001f\b\t\n\f\r"\\ \u2028 😀 end')),
  message(8, Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), null), // a byte-order mark, kept
  message(9, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), // not UTF-8: base64
  message(10, Buffer.alloc(0)),
  { ...message(12, Buffer.from('{}')), timestamp: Number.NaN },
];

function expectEnvelopes(encoded: Buffer) {
  const lines = zstdDecompressSync(encoded).toString('utf8').trimEnd().split('\n');
  // Byte for byte what JSON.stringify writes, control characters and quotes escaped the same way.
  expect(lines).toEqual(messages.map((m) => JSON.stringify(envelopeOf(m))));
  const envelopes = lines.map((line) => JSON.parse(line) as RawEnvelope);
  envelopes.forEach((envelope, index) => {
    expect(originalBytes(envelope).equals(messages[index]?.value as Buffer)).toBe(true);
  });
  expect(envelopes[3]?.value_base64).toBe(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'));
  expect(envelopes[5]?.timestamp).toBeNull();
}

describe('raw stream batches', () => {
  it('writes zstd NDJSON whose lines are exactly the envelopes, every message byte for byte', () => {
    expectEnvelopes(encodeRawBatch('clickstream', 2, columnsOf(messages)));
  });

  it('judges UTF-8 per message, also when neighbours together would be valid, and keys as the adapter decodes them', () => {
    const split = [
      message(1, Buffer.from([0x61, 0xc3])), // ends with the lead byte of "é"...
      message(2, Buffer.from([0xa9, 0x62])), // ...whose continuation byte starts the next message
      message(3, Buffer.from('ok é 😀'), 'clé 😀'),
    ];
    const lines = zstdDecompressSync(encodeRawBatch('clickstream', 2, columnsOf(split)))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toEqual(split.map((m) => JSON.stringify(envelopeOf(m))));
    expect((JSON.parse(lines[0] as string) as RawEnvelope).value_base64).toBeDefined();
    expect((JSON.parse(lines[1] as string) as RawEnvelope).value_base64).toBeDefined();

    // Kafka keys are bytes: an invalid one reads as StreamMessage.key does (replacement characters).
    const columns = columnsOf([message(4, Buffer.from('{}'), 'x'), message(5, Buffer.from('{}'), null)]);
    columns.keys = new Uint8Array([0xff]);
    const [invalidKey, nullKey] = zstdDecompressSync(encodeRawBatch('clickstream', 2, columns))
      .toString()
      .trimEnd()
      .split('\n');
    expect((JSON.parse(invalidKey as string) as RawEnvelope).key).toBe(Buffer.from([0xff]).toString('utf8'));
    expect((JSON.parse(nullKey as string) as RawEnvelope).key).toBeNull();
  });

  it('writes what JSON.stringify writes for any bytes (random values: ASCII, controls, multi-byte, invalid)', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const pieces = [
      [0x22],
      [0x5c],
      [0x00],
      [0x1f],
      [0x7f],
      [0x0a],
      [0x41],
      [0xc3, 0xa9],
      [0xe2, 0x80, 0xa8],
      [0xf0, 0x9f, 0x98, 0x80],
      [0xff],
      [0xc3],
    ];
    const randomMessages = Array.from({ length: 500 }, (_, index) => {
      const bytes = Array.from(
        { length: Math.floor(random() * 12) },
        () => pieces[Math.floor(random() * pieces.length)] ?? [],
      ).flat();
      return message(index, Buffer.from(bytes), random() < 0.2 ? null : `k${index}\u0001"é`);
    });
    const lines = zstdDecompressSync(encodeRawBatch('clickstream', 2, columnsOf(randomMessages)))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toEqual(randomMessages.map((m) => JSON.stringify(envelopeOf(m))));
  });

  it('encodes the same bytes in the encoder thread, batches in flight at once each getting their own', async () => {
    const encoder = startRawEncoder();
    try {
      const many = Array.from({ length: 3_000 }, (_, index) => message(index, Buffer.from(`{"n":${index}}`)));
      const [first, second] = await Promise.all([
        encoder.encode('clickstream', 2, columnsOf(messages)),
        encoder.encode('clickstream', 2, columnsOf(many)),
      ]);
      expectEnvelopes(first as Buffer);
      expect(
        zstdDecompressSync(second as Buffer)
          .toString()
          .trimEnd()
          .split('\n'),
      ).toEqual(many.map((m) => JSON.stringify(envelopeOf(m))));
    } finally {
      await encoder.close();
    }
  });

  it('names a raw object whose bytes are not what its extension says', async () => {
    const lake = openLocalStore(`file://${mkdtempSync(join(tmpdir(), 'raw-batch-'))}`);
    for (const [key, format] of [
      ['raw/source=clickstream/ingestion_date=2026-10-01/bad.ndjson.zst', 'zstd'],
      ['raw/source=clickstream/ingestion_date=2026-10-01/bad.ndjson.gz', 'gzip'],
    ] as const) {
      await lake.put(key, Buffer.from('{"not":"compressed"}\n'));
      const read = async () => (await openRawObject(lake, key)).toArray();
      await expect(read()).rejects.toThrow(`raw object ${key} is not valid ${format}`);
    }
  });
});
