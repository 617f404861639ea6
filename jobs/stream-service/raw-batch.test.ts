import { createGunzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { StreamMessage } from '../../adapters/stream/event-stream.ts';
import { envelopeOf, gzipNdjson, originalBytes, type RawEnvelope } from './raw-batch.ts';

const message = (offset: number, value: Buffer, key: string | null = 'k"1'): StreamMessage => ({
  topic: 'clickstream',
  partition: 2,
  offset,
  key,
  value,
  timestamp: 1_790_000_000_123,
});

describe('raw stream batches', () => {
  it('writes gzip NDJSON whose lines are exactly the envelopes, every message byte for byte', async () => {
    const messages = [
      message(7, Buffer.from('{"event_id":"a","text":"ünïcode \\"quoted\\"\\n"}')),
      message(11, Buffer.from('raw\u0001\u001f\b\t\n\f\r"\\ \u2028 😀 end')),
      message(8, Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), null), // a byte-order mark, kept
      message(9, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), // not UTF-8: base64
      message(10, Buffer.alloc(0)),
    ];
    let text = '';
    for await (const chunk of gzipNdjson(messages).pipe(createGunzip())) text += chunk.toString();
    const lines = text.trimEnd().split('\n');
    // Byte for byte what JSON.stringify writes, control characters and quotes escaped the same way.
    expect(lines).toEqual(messages.map((m) => JSON.stringify(envelopeOf(m))));
    const envelopes = lines.map((line) => JSON.parse(line) as RawEnvelope);
    envelopes.forEach((envelope, index) => {
      expect(originalBytes(envelope).equals(messages[index]?.value as Buffer)).toBe(true);
    });
    expect(envelopes[3]?.value_base64).toBe(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'));
  });
});
