import { describe, expect, it } from 'vitest';
import { loadServiceEnv } from '../../scripts/services/env.ts';
import { eventStreamContract } from './contract.ts';
import { openEventStream } from './index.ts';
import { openKafkaStream } from './kafka.ts';

// The real broker of `npm run services:up`; loadServiceEnv throws (the suite fails, never skips) without it.
const brokers = loadServiceEnv().TEST_KAFKA_BROKERS;
const url = `kafka://${brokers}?clientId=ecomm-contract`;

eventStreamContract(
  'kafka (real broker)',
  async () => openEventStream(url),
  async (first) => openEventStream(first.url),
);

describe('kafka stream', () => {
  it('fails an unreachable broker after bounded retries, naming STREAM_URL and the broker', async () => {
    const stream = openKafkaStream('kafka://127.0.0.1:1?retries=2&initialRetryTime=50');
    const started = Date.now();
    await expect(stream.endOffsets('anything')).rejects.toThrow(
      'STREAM_URL kafka://127.0.0.1:1?retries=2&initialRetryTime=50: cannot connect to broker 127.0.0.1:1 after 3 attempts (ECONNREFUSED)',
    );
    await expect(stream.publish('anything', [{ value: 'x' }])).rejects.toThrow(/cannot connect to broker/);
    await expect(stream.consumer('group', ['anything'])).rejects.toThrow(/cannot connect to broker/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await stream.close();
  });

  it('shares partitions between two members of a group, each ending once its own are caught up', async () => {
    const stream = openKafkaStream(url);
    const topic = `k-members-${Date.now()}`;
    const group = `members-${Date.now()}`;
    await stream.ensureTopics([{ name: topic, partitions: 4 }]);
    const values = Array.from({ length: 200 }, (_, i) => `${i}`);
    await stream.publish(
      topic,
      values.map((value) => ({ key: `k${value}`, value })),
    );
    const members = await Promise.all([stream.consumer(group, [topic]), stream.consumer(group, [topic])]);
    const seen = new Set<string>();
    const started = Date.now();
    await Promise.all(
      members.map((member) =>
        member.consume(
          async (batch) => {
            for (const message of batch.messages) seen.add(message.value.toString());
            const last = batch.messages.at(-1);
            if (last) await member.commit([{ topic, partition: batch.partition, offset: last.offset + 1 }]);
          },
          { stopWhenCaughtUp: true },
        ),
      ),
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect([...seen].sort()).toEqual([...values].sort());
    const committed = await members[0]?.committed();
    expect(committed?.reduce((sum, entry) => sum + entry.offset, 0)).toBe(200);
    await stream.close();
  });

  it('places keys on partitions as the Java client does (murmur2)', async () => {
    const stream = openKafkaStream(url);
    const topic = `k-murmur-${Date.now()}`;
    await stream.ensureTopics([{ name: topic, partitions: 6 }]);
    await stream.publish(topic, [{ key: 'customer-42', value: '1' }]);
    // Java: Utils.toPositive(Utils.murmur2("customer-42".getBytes())) % 6
    const ends = await stream.endOffsets(topic);
    expect(ends.filter((end) => end.offset > 0).map((end) => end.partition)).toEqual([
      javaPartition('customer-42', 6),
    ]);
    await stream.close();
  });

  it('publishes more than one produce request worth of messages in order', async () => {
    const stream = openKafkaStream(url);
    const topic = `k-large-${Date.now()}`;
    await stream.ensureTopics([{ name: topic, partitions: 1 }]);
    const value = 'x'.repeat(2_000);
    await stream.publish(
      topic,
      Array.from({ length: 1_500 }, (_, i) => ({ key: 'big', value: `${i}:${value}` })),
    );
    expect(await stream.endOffsets(topic)).toEqual([{ topic, partition: 0, offset: 1_500 }]);
    await stream.close();
  });

  it('grows a topic to the partitions asked for', async () => {
    const stream = openKafkaStream(url);
    const topic = `k-grow-${Date.now()}`;
    await stream.ensureTopics([{ name: topic, partitions: 1 }]);
    await stream.ensureTopics([{ name: topic, partitions: 3 }]);
    expect(await stream.endOffsets(topic)).toHaveLength(3);
    await stream.close();
  });
});

/** Kafka's Java murmur2 (org.apache.kafka.common.utils.Utils.murmur2), for an independent check. */
function javaPartition(key: string, partitions: number): number {
  const data = Buffer.from(key);
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ data.length;
  const whole = data.length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data.readInt32LE(i);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length % 4;
  if (rest >= 3) h ^= (data[whole + 2] ?? 0) << 16;
  if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
  if (rest >= 1) {
    h ^= data[whole] ?? 0;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return (h & 0x7fffffff) % partitions;
}
