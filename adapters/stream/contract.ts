import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStream, PartitionBatch, StreamMessage } from './event-stream.ts';

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

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

const valuesOf = (messages: StreamMessage[]) => messages.map((m) => m.value.toString());

/**
 * The behaviour every event-stream backend must show; `open` gives a broker view. Topic and group names carry a
 * per-run suffix, so a shared broker (the real Kafka of the integration tests) starts every run empty.
 */
export function eventStreamContract(
  name: string,
  open: () => Promise<EventStream>,
  reopen?: (first: EventStream) => Promise<EventStream>,
): void {
  describe(`EventStream contract: ${name}`, () => {
    const run = randomUUID().slice(0, 8);
    const n = (base: string) => `${base}-${run}`;
    let stream: EventStream;
    beforeAll(async () => {
      stream = await open();
      await stream.ensureTopics([{ name: n('c-orders'), partitions: 3 }]);
    });
    afterAll(async () => {
      await stream.close();
    });

    it('keeps per-key order within a partition and offsets contiguous from 0', async () => {
      await stream.publish(
        n('c-orders'),
        Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}` })),
      );
      const batches = await drain(stream, n('order-check'), [n('c-orders')]);
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
      await stream.ensureTopics([{ name: n('c-commit'), partitions: 1 }]);
      await stream.publish(n('c-commit'), [
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ]);
      expect((await drain(stream, n('no-commit'), [n('c-commit')])).flatMap((b) => b.messages)).toHaveLength(
        2,
      );
      expect((await drain(stream, n('no-commit'), [n('c-commit')])).flatMap((b) => b.messages)).toHaveLength(
        2,
      );

      const consumer = await stream.consumer(n('commits'), [n('c-commit')]);
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
      expect(await consumer.committed()).toEqual([{ topic: n('c-commit'), partition: 0, offset: 2 }]);
      await consumer.close();
      await stream.publish(n('c-commit'), [{ key: 'a', value: '3' }]);
      const rest = (await drain(stream, n('commits'), [n('c-commit')])).flatMap((b) => b.messages);
      expect(rest.map((m) => m.value.toString())).toEqual(['3']);
    });

    it('starts a new group at the end of the log when asked, and reads only what comes after', async () => {
      await stream.ensureTopics([{ name: n('c-latest'), partitions: 1 }]);
      await stream.publish(n('c-latest'), [{ key: 'a', value: 'before' }]);
      const consumer = await stream.consumer(n('latest-group'), [n('c-latest')], { newGroupStart: 'latest' });
      const seen: string[] = [];
      const read = () =>
        consumer.consume(
          async (batch) => {
            for (const message of batch.messages) seen.push(message.value.toString());
          },
          { stopWhenCaughtUp: true },
        );
      await read();
      expect(seen).toEqual([]);
      await consumer.close();
      expect(
        (await drain(stream, n('earliest-group'), [n('c-latest')])).flatMap((b) => b.messages),
      ).toHaveLength(1);
    });

    it('reports end offsets per partition', async () => {
      await stream.ensureTopics([{ name: n('c-ends'), partitions: 2 }]);
      await stream.publish(n('c-ends'), [
        { key: 'x', value: '1' },
        { key: 'x', value: '2' },
      ]);
      const ends = await stream.endOffsets(n('c-ends'));
      expect(ends.reduce((sum, end) => sum + end.offset, 0)).toBe(2);
      expect(ends).toHaveLength(2);
      // Nothing trimmed yet: every partition still starts at its first offset.
      expect(await stream.startOffsets(n('c-ends'))).toEqual([
        { topic: n('c-ends'), partition: 0, offset: 0 },
        { topic: n('c-ends'), partition: 1, offset: 0 },
      ]);
    });

    it("finds offsets by message time, and reads and sets a group's offsets without joining it", async () => {
      const topic = n('c-time');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      const t0 = Date.now() - 60_000;
      await stream.publish(topic, [
        { key: 'k', value: 'a', timestamp: t0 },
        { key: 'k', value: 'b', timestamp: t0 + 10_000 },
        { key: 'k', value: 'c', timestamp: t0 + 20_000 },
      ]);
      expect(await stream.offsetsAt(topic, new Date(t0 + 5_000))).toEqual([
        { topic, partition: 0, offset: 1 },
      ]);
      expect(await stream.offsetsAt(topic, new Date(t0 + 30_000))).toEqual([
        { topic, partition: 0, offset: 3 },
      ]);
      expect(await stream.groupOffsets(n('g-time'), [topic])).toEqual([]);
      await stream.setGroupOffsets(n('g-time'), [{ topic, partition: 0, offset: 2 }]);
      expect(await stream.groupOffsets(n('g-time'), [topic])).toEqual([{ topic, partition: 0, offset: 2 }]);
      const read = await drain(stream, n('g-time'), [topic]);
      expect(valuesOf(read.flatMap((batch) => batch.messages))).toEqual(['c']);
    });

    it('keeps bytes exactly, including invalid UTF-8', async () => {
      const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
      await stream.ensureTopics([{ name: n('c-bytes'), partitions: 1 }]);
      await stream.publish(n('c-bytes'), [{ key: null, value: bytes }]);
      const [message] = (await drain(stream, n('bytes'), [n('c-bytes')])).flatMap((b) => b.messages);
      expect(message?.value.equals(bytes)).toBe(true);
    });

    it('gives the same messages as columns, laid out where the caller asks', async () => {
      const topic = n('c-columns');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      const values = [Buffer.from('{"a":"ü"}'), Buffer.from([0xff, 0x00]), Buffer.alloc(0)];
      await stream.publish(topic, [
        { key: 'clé 😀', value: values[0] as Buffer },
        { key: null, value: values[1] as Buffer },
        { key: '', value: values[2] as Buffer },
      ]);
      const batches = await drain(stream, n('columns'), [topic]);
      const messages = batches.flatMap((batch) => batch.messages);
      const layouts: ArrayBuffer[] = [];
      const columns = batches.map((batch) =>
        batch.columns((bytes) => {
          layouts.push(new ArrayBuffer(bytes + 64));
          return layouts.at(-1) as ArrayBuffer;
        }),
      );
      const rows = columns.flatMap((column) =>
        Array.from(column.offsets, (offset, index) => {
          const slice = (bytes: Uint8Array, ends: Uint32Array) =>
            Buffer.from(bytes.subarray(index === 0 ? 0 : (ends[index - 1] as number), ends[index] as number));
          return {
            offset,
            timestamp: column.timestamps[index],
            key: column.keyIsNull[index] ? null : slice(column.keys, column.keyEnds).toString('utf8'),
            value: slice(column.values, column.valueEnds),
          };
        }),
      );
      expect(rows).toEqual(
        messages.map((message) => ({
          offset: message.offset,
          timestamp: message.timestamp,
          key: message.key,
          value: message.value,
        })),
      );
      expect(rows.map((row) => row.key)).toEqual(['clé 😀', null, '']);
      expect(columns.every((column, index) => column.values.buffer === layouts[index])).toBe(true);
    });

    it('keeps record headers, and splits what it hands by count and by bytes', async () => {
      const topic = n('c-headers');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      await stream.publish(topic, [
        { key: 'h', value: 'a'.repeat(600), headers: { reason: 'bad: ünïcode', 'source-offset': '7' } },
        { key: 'h', value: 'b'.repeat(600) },
        { key: 'h', value: 'c'.repeat(600) },
      ]);
      const consumer = await stream.consumer(n('headers'), [topic]);
      const batches: PartitionBatch[] = [];
      await consumer.consume(
        async (batch) => {
          batches.push(batch);
        },
        { stopWhenCaughtUp: true, maxBatchBytes: 1000 },
      );
      await consumer.close();
      const messages = batches.flatMap((batch) => batch.messages);
      expect(messages[0]?.headers).toEqual({ reason: 'bad: ünïcode', 'source-offset': '7' });
      expect(messages[1]?.headers ?? {}).toEqual({});
      expect(batches.every((batch) => batch.messages.length === 1)).toBe(true);
      expect(valuesOf(messages).map((value) => value[0])).toEqual(['a', 'b', 'c']);
    });

    it('hands uncommitted messages to the next consumer of the group, and commits only what it is told', async () => {
      const topic = n('c-redeliver');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      await stream.publish(
        topic,
        ['1', '2', '3', '4'].map((value) => ({ key: 'k', value })),
      );
      const first = await stream.consumer(n('redeliver'), [topic]);
      const handled: StreamMessage[] = [];
      const sizes: number[] = [];
      await first.consume(
        async (batch) => {
          sizes.push(batch.messages.length);
          handled.push(...batch.messages);
        },
        { stopWhenCaughtUp: true, maxBatchSize: 1 },
      );
      expect(valuesOf(handled)).toEqual(['1', '2', '3', '4']);
      expect(sizes.every((size) => size === 1)).toBe(true);
      expect(await first.committed()).toEqual([]);
      // A commit after consume has returned still moves the group (stream-ingest commits per written batch).
      await first.commit([{ topic, partition: 0, offset: 1 }]);
      await first.close();
      const rest = (await drain(stream, n('redeliver'), [topic])).flatMap((b) => b.messages);
      expect(valuesOf(rest)).toEqual(['2', '3', '4']);
      const again = await stream.consumer(n('redeliver'), [topic]);
      expect(await again.committed()).toEqual([{ topic, partition: 0, offset: 1 }]);
      await again.close();
    });

    it('ends a caught-up consume promptly when there is nothing to read', async () => {
      await stream.ensureTopics([{ name: n('c-empty'), partitions: 2 }]);
      const started = Date.now();
      expect(await drain(stream, n('empty'), [n('c-empty')])).toEqual([]);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('stops a live consume promptly and keeps the consumer usable', async () => {
      const topic = n('c-live');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      await stream.publish(topic, [{ key: 'l', value: '1' }]);
      const consumer = await stream.consumer(n('live'), [topic]);
      const seen: StreamMessage[] = [];
      const consuming = consumer.consume(
        async (batch) => {
          seen.push(...batch.messages);
        },
        { stopWhenCaughtUp: false },
      );
      await waitUntil(() => seen.length >= 1, 'the first message');
      await stream.publish(topic, [{ key: 'l', value: '2' }]);
      await waitUntil(() => seen.length >= 2, 'a message published while consuming');
      const stopping = Date.now();
      await consumer.stop();
      await consuming;
      expect(Date.now() - stopping).toBeLessThan(5_000);
      expect(valuesOf(seen)).toEqual(['1', '2']);

      // The same consumer carries on after what it already handed, although nothing was committed.
      await stream.publish(topic, [{ key: 'l', value: '3' }]);
      const more: StreamMessage[] = [];
      await consumer.consume(
        async (batch) => {
          more.push(...batch.messages);
        },
        { stopWhenCaughtUp: true },
      );
      expect(valuesOf(more)).toEqual(['3']);
      await consumer.close();
    });

    it('reports its membership: no assignment outside a consume, its partitions and a fetch while consuming', async () => {
      const topic = n('c-member');
      await stream.ensureTopics([{ name: topic, partitions: 2 }]);
      const consumer = await stream.consumer(n('member'), [topic]);
      expect(consumer.membership()).toEqual({ assigned: null, fetchedSinceAssignment: false });
      const consuming = consumer.consume(async () => {}, { stopWhenCaughtUp: false });
      // Nothing to read: an empty fetch (long poll) is enough to be consuming.
      await waitUntil(() => consumer.membership().fetchedSinceAssignment, 'a fetch after the assignment');
      expect(consumer.membership().assigned).toEqual([
        { topic, partition: 0 },
        { topic, partition: 1 },
      ]);
      await consumer.stop();
      await consuming;
      expect(consumer.membership()).toEqual({ assigned: null, fetchedSinceAssignment: false });
      await consumer.close();
    });

    it('stops after the batch in hand when a handler asks', async () => {
      const topic = n('c-stop');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      await stream.publish(
        topic,
        ['1', '2', '3'].map((value) => ({ key: 's', value })),
      );
      const consumer = await stream.consumer(n('stop'), [topic]);
      const batches: PartitionBatch[] = [];
      await consumer.consume(
        async (batch) => {
          batches.push(batch);
          await consumer.commit([{ topic, partition: batch.partition, offset: 1 }]);
          await consumer.stop();
        },
        { stopWhenCaughtUp: false, maxBatchSize: 1 },
      );
      expect(batches.map((batch) => valuesOf(batch.messages))).toEqual([['1']]);
      expect(await consumer.committed()).toEqual([{ topic, partition: 0, offset: 1 }]);
      await consumer.close();
    });

    it('rejects consume with the handler error, without committing', async () => {
      const topic = n('c-fail');
      await stream.ensureTopics([{ name: topic, partitions: 1 }]);
      await stream.publish(topic, [{ key: 'f', value: '1' }]);
      const consumer = await stream.consumer(n('fail'), [topic]);
      await expect(
        consumer.consume(
          async () => {
            throw new Error('lake unavailable');
          },
          { stopWhenCaughtUp: true },
        ),
      ).rejects.toThrow('lake unavailable');
      expect(await consumer.committed()).toEqual([]);
      await consumer.close();
    });

    if (reopen) {
      it('resumes a consumer group from its committed offsets after a restart', async () => {
        await stream.ensureTopics([{ name: n('c-resume'), partitions: 1 }]);
        await stream.publish(
          n('c-resume'),
          ['1', '2', '3'].map((value) => ({ key: 'r', value })),
        );
        const consumer = await stream.consumer(n('resume'), [n('c-resume')]);
        await consumer.consume(
          async (batch) => {
            await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: 2 }]);
          },
          { stopWhenCaughtUp: true },
        );
        await consumer.close();
        const restarted = await reopen(stream);
        const resumed = await restarted.consumer(n('resume'), [n('c-resume')]);
        expect(await resumed.committed()).toEqual([{ topic: n('c-resume'), partition: 0, offset: 2 }]);
        await resumed.close();
        const rest = (await drain(restarted, n('resume'), [n('c-resume')])).flatMap((b) => b.messages);
        expect(rest.map((m) => m.value.toString())).toEqual(['3']);
        await restarted.close();
      });
    }
  });
}
