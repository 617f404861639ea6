import { readFileSync } from 'node:fs';
import { zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { columnsOf } from '../../adapters/stream/partition-batch.ts';
import { compileWat } from '../../scripts/wasm/build.ts';
import { startJsonQuoter } from './json-escape.ts';
import { encodeRawBatch, envelopeOf } from './raw-batch.ts';

/** What JSON.stringify writes for these UTF-8 bytes decoded, as UTF-8 bytes. */
const stringified = (bytes: Uint8Array) => Buffer.from(JSON.stringify(Buffer.from(bytes).toString('utf8')));

describe('JSON quoting in WebAssembly', () => {
  it('ships the build of its source (run `npm run build:wasm` after editing json-escape.wat)', async () => {
    const built = await compileWat('jobs/lake/json-escape.wat');
    const shipped = readFileSync(new URL('./json-escape.wasm', import.meta.url));
    expect(Buffer.from(built).equals(shipped)).toBe(true);
  });

  it('quotes every ASCII byte, and multi-byte characters, as JSON.stringify does', () => {
    const quoter = startJsonQuoter();
    const inputs = [
      ...Array.from({ length: 128 }, (_, byte) => Uint8Array.of(byte)),
      Buffer.from('plain text'),
      Buffer.from('é ü \u2028 \u2029 😀 \u007f'),
      Buffer.from('{"a":"b\\"c","d":"\\\\"}\n\t\r\b\f'),
      new Uint8Array(0),
    ];
    for (const input of inputs) {
      const memory = quoter.memory(quoter.base + input.length * 7 + 2);
      memory.set(input, quoter.base);
      const from = quoter.base;
      const end = quoter.quote(from, from + input.length, from + input.length);
      expect(Buffer.from(memory.subarray(from + input.length, end)).toString('latin1')).toBe(
        stringified(input).toString('latin1'),
      );
    }
  });

  it('grows its memory for a batch of values that expand sixfold (control characters)', () => {
    const controls = Buffer.alloc(300_000, 0x01);
    const messages = [0, 1].map((offset) => ({
      topic: 'clickstream',
      partition: 0,
      offset,
      key: 'k',
      value: controls,
      timestamp: 1,
    }));
    const lines = zstdDecompressSync(encodeRawBatch('clickstream', 0, columnsOf(messages)))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect(lines).toEqual(messages.map((message) => JSON.stringify(envelopeOf(message))));
  });
});
