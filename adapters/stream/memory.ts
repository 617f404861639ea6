import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  ConsumeOptions,
  ConsumerMembership,
  EventStream,
  FetchOptions,
  OutgoingMessage,
  PartitionBatch,
  StreamConsumer,
  StreamMessage,
  TopicPartitionOffset,
} from './event-stream.ts';
import { batchOf } from './partition-batch.ts';

const DEFAULT_PARTITIONS = 1;

/** A group's offset key for one partition. */
const slot = (topic: string, partition: number) => `${topic}\u0000${partition}`;
const IDLE_POLL_MS = 50;

interface StoredMessage {
  key: string | null;
  value: string;
  timestamp: number;
  headers?: Record<string, string>;
}

/**
 * The embedded event log: Kafka's model (topics, partitions, offsets, consumer groups) in one process.
 * `memory://` lives only as long as the process; `memory://./data/stream` also appends every message and
 * commit to files there, so separate CLI runs (generate, then stream-ingest) share one log.
 * Every consumer of a group reads all partitions: there is one process, so there is nothing to balance.
 */
export function openMemoryStream(url: string): EventStream {
  const folder = persistenceFolder(url);
  const topics = new Map<string, StoredMessage[][]>();
  const groups = new Map<string, Map<string, number>>();
  if (folder) loadFolder(folder, topics, groups);

  const partitionsOf = (topic: string): StoredMessage[][] => {
    let partitions = topics.get(topic);
    if (!partitions) {
      partitions = Array.from({ length: DEFAULT_PARTITIONS }, () => []);
      topics.set(topic, partitions);
      if (folder) saveTopicMeta(folder, topic, partitions.length);
    }
    return partitions;
  };
  const groupOffsets = (groupId: string) => {
    let offsets = groups.get(groupId);
    if (!offsets) {
      offsets = new Map();
      groups.set(groupId, offsets);
    }
    return offsets;
  };

  return {
    url,
    async ensureTopics(wanted) {
      for (const { name, partitions } of wanted) {
        const existing = topics.get(name);
        if (existing && existing.length >= partitions) continue;
        const grown = existing ?? [];
        while (grown.length < partitions) grown.push([]);
        topics.set(name, grown);
        if (folder) saveTopicMeta(folder, name, grown.length);
      }
    },
    async publish(topic: string, messages: OutgoingMessage[]) {
      const partitions = partitionsOf(topic);
      const appended = new Map<number, string[]>();
      messages.forEach((message, index) => {
        const partition =
          message.key == null ? index % partitions.length : hashKey(message.key) % partitions.length;
        const stored: StoredMessage = {
          key: message.key ?? null,
          value: Buffer.from(message.value).toString('base64'),
          timestamp: message.timestamp ?? Date.now(),
          ...(message.headers && Object.keys(message.headers).length > 0
            ? { headers: { ...message.headers } }
            : {}),
        };
        partitions[partition]?.push(stored);
        if (folder) {
          const lines = appended.get(partition) ?? [];
          lines.push(JSON.stringify(stored));
          appended.set(partition, lines);
        }
      });
      if (folder) {
        for (const [partition, lines] of appended) {
          appendFileSync(join(folder, 'topics', topic, `${partition}.ndjson`), `${lines.join('\n')}\n`);
        }
      }
    },
    async endOffsets(topic: string) {
      return partitionsOf(topic).map((log, partition) => ({ topic, partition, offset: log.length }));
    },
    // The embedded log keeps every message: nothing is ever trimmed.
    async startOffsets(topic: string) {
      return partitionsOf(topic).map((_, partition) => ({ topic, partition, offset: 0 }));
    },
    async retentionMs() {
      return null;
    },
    async offsetsAt(topic: string, at: Date) {
      return partitionsOf(topic).map((log, partition) => {
        const index = log.findIndex((message) => message.timestamp >= at.getTime());
        return { topic, partition, offset: index < 0 ? log.length : index };
      });
    },
    async groupOffsets(groupId: string, wanted: string[]) {
      const offsets = groups.get(groupId);
      if (!offsets) return [];
      return wanted.flatMap((topic) =>
        partitionsOf(topic).flatMap((_, partition) => {
          const offset = offsets.get(slot(topic, partition));
          return offset === undefined ? [] : [{ topic, partition, offset }];
        }),
      );
    },
    async setGroupOffsets(groupId: string, committed: TopicPartitionOffset[]) {
      const offsets = groupOffsets(groupId);
      for (const { topic, partition, offset } of committed) offsets.set(slot(topic, partition), offset);
      if (folder) saveGroup(folder, groupId, offsets);
    },
    async consumer(groupId: string, subscribed: string[], fetch: FetchOptions = {}): Promise<StreamConsumer> {
      const idlePollMs = Math.min(fetch.maxWaitMs ?? IDLE_POLL_MS, IDLE_POLL_MS);
      const offsets = groupOffsets(groupId);
      const positions = new Map<string, number>();
      let stopRequested = false;
      // The embedded log has no group: a consume holds every partition, and has "fetched" after its first pass.
      const idle: ConsumerMembership = { assigned: null, fetchedSinceAssignment: false };
      let membership = idle;
      return {
        membership: () => membership,
        async consume(handle: (batch: PartitionBatch) => Promise<void>, options: ConsumeOptions) {
          stopRequested = false;
          const maxBatch = options.maxBatchSize ?? 10_000;
          const maxBytes = Math.max(1, options.maxBatchBytes ?? Number.POSITIVE_INFINITY);
          const targets = new Map<string, number>();
          for (const topic of subscribed) {
            partitionsOf(topic).forEach((log, partition) => {
              const key = slot(topic, partition);
              targets.set(key, log.length);
              const fromStart = fetch.newGroupStart === 'latest' ? log.length : 0;
              if (!positions.has(key)) positions.set(key, offsets.get(key) ?? fromStart);
            });
          }
          membership = {
            assigned: subscribed.flatMap((topic) =>
              partitionsOf(topic).map((_, partition) => ({ topic, partition })),
            ),
            fetchedSinceAssignment: false,
          };
          try {
            await pass();
          } finally {
            membership = idle;
          }
          async function pass(): Promise<void> {
            while (!stopRequested) {
              let delivered = false;
              for (const topic of subscribed) {
                const partitions = partitionsOf(topic);
                for (let partition = 0; partition < partitions.length && !stopRequested; partition += 1) {
                  const key = slot(topic, partition);
                  const position = positions.get(key) ?? offsets.get(key) ?? 0;
                  const log = partitions[partition] ?? [];
                  if (position >= log.length) continue;
                  const batch: StreamMessage[] = [];
                  let bytes = 0;
                  for (const stored of log.slice(position, position + maxBatch)) {
                    const value = Buffer.from(stored.value, 'base64');
                    if (batch.length > 0 && bytes + value.length > maxBytes) break;
                    bytes += value.length;
                    batch.push({
                      topic,
                      partition,
                      offset: position + batch.length,
                      key: stored.key,
                      value,
                      timestamp: stored.timestamp,
                      ...(stored.headers ? { headers: { ...stored.headers } } : {}),
                    });
                  }
                  await handle(batchOf(topic, partition, batch));
                  positions.set(key, position + batch.length);
                  delivered = true;
                }
              }
              membership.fetchedSinceAssignment = true;
              if (options.stopWhenCaughtUp) {
                const caughtUp = [...targets].every(([key, end]) => (positions.get(key) ?? 0) >= end);
                if (caughtUp) return;
              }
              if (!delivered) await new Promise((done) => setTimeout(done, idlePollMs));
            }
          }
        },
        async commit(committed: TopicPartitionOffset[]) {
          for (const { topic, partition, offset } of committed) offsets.set(slot(topic, partition), offset);
          if (folder) saveGroup(folder, groupId, offsets);
        },
        async committed() {
          return [...offsets].flatMap(([key, offset]) => {
            const [topic = '', partition = '0'] = key.split('\u0000');
            return subscribed.includes(topic) ? [{ topic, partition: Number(partition), offset }] : [];
          });
        },
        async stop() {
          stopRequested = true;
        },
        async close() {
          stopRequested = true;
        },
      };
    },
    async close() {},
  };
}

function persistenceFolder(url: string): string | undefined {
  const rest = url.replace(/^memory:\/\//, '');
  return rest === '' ? undefined : resolve(rest);
}

/** Java's String.hashCode, made non-negative: stable across runs, so a key always lands in one partition. */
function hashKey(key: string): number {
  let hash = 0;
  for (let index = 0; index < key.length; index += 1)
    hash = (Math.imul(31, hash) + key.charCodeAt(index)) | 0;
  return hash & 0x7fffffff;
}

function saveTopicMeta(folder: string, topic: string, partitions: number): void {
  const topicFolder = join(folder, 'topics', topic);
  mkdirSync(topicFolder, { recursive: true });
  writeFileSync(join(topicFolder, 'partitions'), String(partitions));
}

function saveGroup(folder: string, groupId: string, offsets: Map<string, number>): void {
  mkdirSync(join(folder, 'groups'), { recursive: true });
  const path = join(folder, 'groups', `${encodeURIComponent(groupId)}.json`);
  writeFileSync(`${path}.partial`, JSON.stringify(Object.fromEntries(offsets)));
  renameSync(`${path}.partial`, path);
}

function loadFolder(
  folder: string,
  topics: Map<string, StoredMessage[][]>,
  groups: Map<string, Map<string, number>>,
): void {
  const topicsFolder = join(folder, 'topics');
  if (existsSync(topicsFolder)) {
    for (const topic of readdirSync(topicsFolder)) {
      const count = Number(readFileSync(join(topicsFolder, topic, 'partitions'), 'utf8'));
      const partitions = Array.from({ length: count }, (_, partition) => {
        const path = join(topicsFolder, topic, `${partition}.ndjson`);
        if (!existsSync(path)) return [];
        return readFileSync(path, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as StoredMessage);
      });
      topics.set(topic, partitions);
    }
  }
  const groupsFolder = join(folder, 'groups');
  if (existsSync(groupsFolder)) {
    for (const file of readdirSync(groupsFolder).filter((name) => name.endsWith('.json'))) {
      const saved = JSON.parse(readFileSync(join(groupsFolder, file), 'utf8')) as Record<string, number>;
      groups.set(decodeURIComponent(file.slice(0, -'.json'.length)), new Map(Object.entries(saved)));
    }
  }
}
