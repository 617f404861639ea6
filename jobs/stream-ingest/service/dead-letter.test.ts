import { describe, expect, it } from 'vitest';
import type { EventStream, OutgoingMessage } from '../../../adapters/stream/event-stream.ts';
import { openMemoryStream } from '../../../adapters/stream/memory.ts';
import { envelopeOf } from '../../lake/raw-batch.ts';
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_TOPIC,
  deadLetterMessage,
  publishDeadLetters,
} from './dead-letter.ts';

const poison = Buffer.from([0x7b, 0xff, 0x22]);
const envelope = envelopeOf({
  topic: 'clickstream',
  partition: 1,
  offset: 42,
  key: 'k',
  value: poison,
  timestamp: 7,
});

/** A broker that refuses records above `limit` bytes as Kafka does (MESSAGE_TOO_LARGE, wrapped by the adapter). */
function brokerWithLimit(limit: number): { stream: EventStream; published: OutgoingMessage[] } {
  const published: OutgoingMessage[] = [];
  const memory = openMemoryStream('memory://');
  return {
    published,
    stream: {
      ...memory,
      async publish(topic, messages) {
        if (messages.some((message) => Buffer.byteLength(message.value) > limit)) {
          const refusal = Object.assign(
            new Error('The request included a message larger than the max message size'),
            {
              type: 'MESSAGE_TOO_LARGE',
            },
          );
          throw new Error('STREAM_URL kafka://broker: too large', { cause: refusal });
        }
        expect(topic).toBe(DEAD_LETTER_TOPIC);
        published.push(...messages);
      },
    },
  };
}

describe('dead letters', () => {
  it('carry the original bytes, every reason and where the message came from', () => {
    const letter = deadLetterMessage(envelope, ['event is not valid UTF-8', 'second'], {
      batchId: 'clickstream_p1_o000000000040',
      rawKey: 'raw/x.ndjson.gz',
    });
    expect(Buffer.isBuffer(letter.value) && letter.value.equals(poison)).toBe(true);
    expect(letter.key).toBe('k');
    expect(letter.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.reason]: 'event is not valid UTF-8; second',
      [DEAD_LETTER_HEADERS.sourceTopic]: 'clickstream',
      [DEAD_LETTER_HEADERS.sourcePartition]: '1',
      [DEAD_LETTER_HEADERS.sourceOffset]: '42',
      [DEAD_LETTER_HEADERS.batchId]: 'clickstream_p1_o000000000040',
      [DEAD_LETTER_HEADERS.rawKey]: 'raw/x.ndjson.gz',
      [DEAD_LETTER_HEADERS.originalBytes]: '3',
    });
  });

  it('sends a message the broker refuses as too large again, cut and marked, so it never stalls the service', async () => {
    const { stream, published } = brokerWithLimit(100_000);
    const big = envelopeOf({
      topic: 'clickstream',
      partition: 0,
      offset: 1,
      key: null,
      value: Buffer.alloc(300_000, 0x61),
      timestamp: 1,
    });
    const letters = [
      deadLetterMessage(envelope, ['bad'], { batchId: 'b', rawKey: 'r' }),
      deadLetterMessage(big, ['too big'], { batchId: 'b', rawKey: 'r' }),
    ];
    await publishDeadLetters(stream, letters);
    expect(published).toHaveLength(2);
    expect(published[0]?.headers?.[DEAD_LETTER_HEADERS.truncated]).toBeUndefined();
    expect(published[1]?.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.truncated]: 'true',
      [DEAD_LETTER_HEADERS.originalBytes]: '300000',
    });
    expect(Buffer.byteLength(published[1]?.value ?? '')).toBe(64 * 1024);
  });

  it('throws other failures, for the caller to retry', async () => {
    const memory = openMemoryStream('memory://');
    const failing: EventStream = { ...memory, publish: async () => Promise.reject(new Error('broker down')) };
    await expect(
      publishDeadLetters(failing, [deadLetterMessage(envelope, ['x'], { batchId: 'b', rawKey: 'r' })]),
    ).rejects.toThrow('broker down');
  });
});
