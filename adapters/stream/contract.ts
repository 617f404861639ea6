import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStream, PartitionBatch } from './event-stream.ts';

async function drain(stream: EventStream, group: string, topics: string[]): Promise<PartitionBatch[]> {
  const consumer = await stream.consumer(group, topics);
  const batches: PartitionBatch[] = [];
  await consumer.consume(
    async (batch) => {
      batches.push(batch);
    },
    { stopWhenCaughtUp: true },
  );
  await consumer.close();
  return batches;
}

/** The behaviour every event-stream backend must show; `open` gives a fresh, empty broker view. */
export function eventStreamContract(
  name: string,
  open: () => Promise<EventStream>,
  reopen?: (first: EventStream) => Promise<EventStream>,
): void {
  describe(`EventStream contract: ${name}`, () => {
    let stream: EventStream;
    beforeAll(async () => {
      stream = await open();
      await stream.ensureTopics([{ name: 'c-orders', partitions: 3 }]);
    });
    afterAll(async () => {
      await stream.close();
    });

    it('keeps per-key order within a partition and offsets contiguous from 0', async () => {
      await stream.publish(
        'c-orders',
        Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}` })),
      );
      const batches = await drain(stream, 'order-check', ['c-orders']);
      const messages = batches.flatMap((batch) => batch.messages);
      expect(messages).toHaveLength(30);
      for (const partition of [0, 1, 2]) {
        const offsets = messages.filter((m) => m.partition === partition).map((m) => m.offset);
        expect(offsets).toEqual(offsets.map((_, i) => i));
      }
      const forKey = messages.filter((m) => m.key === 'k1').map((m) => Number(m.value.toString().slice(1)));
      expect(forKey).toEqual([...forKey].sort((a, b) => a - b));
      expect(new Set(messages.filter((m) => m.key === 'k1').map((m) => m.partition)).size).toBe(1);
    });

    it('moves a group only when it commits', async () => {
      await stream.ensureTopics([{ name: 'c-commit', partitions: 1 }]);
      await stream.publish('c-commit', [
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ]);
      expect((await drain(stream, 'no-commit', ['c-commit'])).flatMap((b) => b.messages)).toHaveLength(2);
      expect((await drain(stream, 'no-commit', ['c-commit'])).flatMap((b) => b.messages)).toHaveLength(2);

      const consumer = await stream.consumer('commits', ['c-commit']);
      await consumer.consume(
        async (batch) => {
          const last = batch.messages.at(-1);
          if (last)
            await consumer.commit([
              { topic: batch.topic, partition: batch.partition, offset: last.offset + 1 },
            ]);
        },
        { stopWhenCaughtUp: true },
      );
      expect(await consumer.committed()).toEqual([{ topic: 'c-commit', partition: 0, offset: 2 }]);
      await consumer.close();
      await stream.publish('c-commit', [{ key: 'a', value: '3' }]);
      const rest = (await drain(stream, 'commits', ['c-commit'])).flatMap((b) => b.messages);
      expect(rest.map((m) => m.value.toString())).toEqual(['3']);
    });

    it('reports end offsets per partition', async () => {
      await stream.ensureTopics([{ name: 'c-ends', partitions: 2 }]);
      await stream.publish('c-ends', [
        { key: 'x', value: '1' },
        { key: 'x', value: '2' },
      ]);
      const ends = await stream.endOffsets('c-ends');
      expect(ends.reduce((sum, end) => sum + end.offset, 0)).toBe(2);
      expect(ends).toHaveLength(2);
    });

    it('keeps bytes exactly, including invalid UTF-8', async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
      await stream.ensureTopics([{ name: 'c-bytes', partitions: 1 }]);
      await stream.publish('c-bytes', [{ key: null, value: bytes }]);
      const [message] = (await drain(stream, 'bytes', ['c-bytes'])).flatMap((b) => b.messages);
      expect(message?.value.equals(bytes)).toBe(true);
    });

    if (reopen) {
      it('resumes a consumer group from its committed offsets after a restart', async () => {
        await stream.ensureTopics([{ name: 'c-resume', partitions: 1 }]);
        await stream.publish(
          'c-resume',
          ['1', '2', '3'].map((value) => ({ key: 'r', value })),
        );
        const consumer = await stream.consumer('resume', ['c-resume']);
        await consumer.consume(
          async (batch) => {
            await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: 2 }]);
          },
          { stopWhenCaughtUp: true },
        );
        await consumer.close();
        const restarted = await reopen(stream);
        const rest = (await drain(restarted, 'resume', ['c-resume'])).flatMap((b) => b.messages);
        expect(rest.map((m) => m.value.toString())).toEqual(['3']);
        await restarted.close();
      });
    }
  });
}
