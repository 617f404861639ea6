import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventStreamContract } from './contract.ts';
import { openEventStream } from './index.ts';

eventStreamContract('memory (in process)', async () => openEventStream('memory://'));

eventStreamContract(
  'memory (persisted to a folder)',
  async () => openEventStream(`memory://${mkdtempSync(join(tmpdir(), 'stream-'))}`),
  async (first) => openEventStream(first.url),
);

describe('memory stream factory', () => {
  it('names STREAM_URL for an unknown scheme', () => {
    expect(() => openEventStream('amqp://broker')).toThrow(/STREAM_URL: unsupported URL/);
  });
});
