import { describe, expect, it } from 'vitest';
import { openMemoryStream } from './memory.ts';
import { withTopicPrefix } from './topic-prefix.ts';

describe('topic prefix', () => {
  it('keeps two prefixed environments on one broker apart, under their logical topic names', async () => {
    const broker = openMemoryStream('memory://');
    const staging = withTopicPrefix(broker, 'staging.');
    const prod = withTopicPrefix(broker, 'prod.');
    await staging.ensureTopics([{ name: 'clickstream', partitions: 1 }]);
    await staging.publish('clickstream', [{ key: 'a', value: 'from staging' }]);
    await prod.publish('clickstream', [{ key: 'a', value: 'from prod' }]);
    expect((await broker.endOffsets('staging.clickstream'))[0]?.offset).toBe(1);

    const consumer = await staging.consumer('g', ['clickstream']);
    const seen: string[] = [];
    await consumer.consume(
      async (batch) => {
        expect(batch.topic).toBe('clickstream');
        for (const message of batch.messages) {
          expect(message.topic).toBe('clickstream');
          seen.push(message.value.toString());
        }
        await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: 1 }]);
      },
      { stopWhenCaughtUp: true },
    );
    expect(seen).toEqual(['from staging']);
    expect(await consumer.committed()).toEqual([{ topic: 'clickstream', partition: 0, offset: 1 }]);
    expect(await staging.endOffsets('clickstream')).toEqual([
      { topic: 'clickstream', partition: 0, offset: 1 },
    ]);
  });
});
