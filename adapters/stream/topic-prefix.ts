import type { EventStream, PartitionBatch, StreamConsumer, TopicPartitionOffset } from './event-stream.ts';
import { renamedBatch } from './partition-batch.ts';

/**
 * Namespaces every topic of a stream with a prefix (`STREAM_TOPIC_PREFIX`, e.g. `staging.`), so several
 * environments or test runs can share one broker. Jobs keep using the logical names (`clickstream`).
 */
export function withTopicPrefix(stream: EventStream, prefix: string): EventStream {
  if (prefix === '') return stream;
  const physical = (topic: string) => `${prefix}${topic}`;
  const logical = (topic: string) => (topic.startsWith(prefix) ? topic.slice(prefix.length) : topic);
  const toLogical = <T extends { topic: string }>(entry: T): T => ({ ...entry, topic: logical(entry.topic) });
  const toPhysical = (offsets: TopicPartitionOffset[]) =>
    offsets.map((entry) => ({ ...entry, topic: physical(entry.topic) }));
  return {
    url: stream.url,
    ensureTopics: (topics) =>
      stream.ensureTopics(topics.map((topic) => ({ ...topic, name: physical(topic.name) }))),
    publish: (topic, messages) => stream.publish(physical(topic), messages),
    endOffsets: async (topic) => (await stream.endOffsets(physical(topic))).map(toLogical),
    startOffsets: async (topic) => (await stream.startOffsets(physical(topic))).map(toLogical),
    retentionMs: (topic) => stream.retentionMs(physical(topic)),
    offsetsAt: async (topic, at) => (await stream.offsetsAt(physical(topic), at)).map(toLogical),
    groupOffsets: async (groupId, topics) =>
      (await stream.groupOffsets(groupId, topics.map(physical))).map(toLogical),
    setGroupOffsets: (groupId, offsets) => stream.setGroupOffsets(groupId, toPhysical(offsets)),
    async consumer(groupId, topics, fetch): Promise<StreamConsumer> {
      const inner = await stream.consumer(groupId, topics.map(physical), fetch);
      return {
        consume: (handle, options) =>
          inner.consume(
            (batch: PartitionBatch) => handle(renamedBatch(batch, logical(batch.topic))),
            options,
          ),
        commit: (offsets) => inner.commit(toPhysical(offsets)),
        committed: async () => (await inner.committed()).map(toLogical),
        membership() {
          const state = inner.membership();
          return { ...state, assigned: state.assigned?.map(toLogical) ?? null };
        },
        stop: () => inner.stop(),
        close: () => inner.close(),
      };
    },
    close: () => stream.close(),
  };
}
