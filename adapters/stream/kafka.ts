import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, Kafka, type Message, Partitioners, type Producer } from 'kafkajs';
import { redactSecrets } from '../redact.ts';
import { withRetry } from '../retry.ts';
import type {
  EventStream,
  FetchOptions,
  OutgoingMessage,
  StreamConsumer,
  TopicPartitionOffset,
} from './event-stream.ts';
import {
  type EntraCredential,
  type KafkaStreamConfig,
  kafkaClientConfig,
  type MskSigner,
  safeKafkaUrl,
} from './kafka-config.ts';
import { openKafkaConsumer } from './kafka-consumer.ts';
import { silenceKafkajsTimeoutWarning } from './kafka-warnings.ts';

export type { EntraCredential, KafkaAuthProfile, KafkaStreamConfig, MskSigner } from './kafka-config.ts';
export { KafkaConfigError, kafkaClientConfig } from './kafka-config.ts';

/** kafkajs' ConfigResourceTypes.TOPIC: its CommonJS build does not offer that enum to a native ES module import. */
const TOPIC_CONFIG_RESOURCE = 2;

/**
 * Bytes per produce request, well under the 1,046,528-byte request limit of Event Hubs and the 1 MiB default
 * record-batch limit of Kafka brokers (message.max.bytes), so a large publish never fails as MESSAGE_TOO_LARGE.
 */
const MAX_REQUEST_BYTES = 512 * 1024;
const RECORD_OVERHEAD_BYTES = 70;

export interface KafkaStreamOptions {
  env?: Record<string, string | undefined>;
  signer?: MskSigner;
  /** auth=entra's token source; DefaultAzureCredential when unset. */
  credential?: EntraCredential;
}

/**
 * The Kafka event stream (self-hosted Kafka, Amazon MSK, Azure Event Hubs' Kafka endpoint; see kafka-config.ts
 * for the URL). Returns at once and connects on first use, so a bad URL fails here and an unreachable broker
 * fails the first call, after the URL's bounded retries, with a message naming STREAM_URL and the broker.
 */
export function openKafkaStream(url: string, options: KafkaStreamOptions = {}): EventStream {
  const config = kafkaClientConfig(url, options.env ?? process.env, options.signer, options.credential);
  silenceKafkajsTimeoutWarning();
  const kafka = new Kafka(config.client);
  const explain = (error: unknown) => explainKafkaError(url, config, error);
  const consumers = new Set<StreamConsumer>();
  let admin: Promise<Admin> | undefined;
  let producer: Promise<Producer> | undefined;

  const connectedAdmin = (): Promise<Admin> => {
    admin ??= connect(kafka.admin(), explain).catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  };
  const connectedProducer = (): Promise<Producer> => {
    producer ??= connect(
      kafka.producer({
        idempotent: config.producer.idempotent,
        // The idempotent producer keeps order and drops duplicates with one request in flight per broker.
        maxInFlightRequests: config.producer.idempotent ? 1 : undefined,
        metadataMaxAge: config.producer.metadataMaxAge,
        // murmur2 on the key, as the Java client: a key lands on the same partition whoever produces it.
        createPartitioner: Partitioners.DefaultPartitioner,
        // Bounded like the rest of the client: a dead cluster fails the job instead of retrying forever.
        retry: config.client.retry,
      }),
      explain,
    ).catch((error: unknown) => {
      producer = undefined;
      throw error;
    });
    return producer;
  };
  const withAdmin = async <T>(work: (client: Admin) => Promise<T>): Promise<T> => {
    const client = await connectedAdmin();
    try {
      return await work(client);
    } catch (error) {
      throw explain(error);
    }
  };

  // A partition that was just created can answer NOT_LEADER_OR_FOLLOWER for a moment, and kafkajs' admin does
  // not retry that: retry it here, within the URL's budget.
  const topicOffsets = (topic: string) =>
    withRetry(
      async () => {
        const offsets = await withAdmin((client) => client.fetchTopicOffsets(topic));
        return offsets
          .map(({ partition, low, high }) => ({ partition, low: Number(low), high: Number(high) }))
          .sort((a, b) => a.partition - b.partition);
      },
      { ...config.retry, isRetryable: isLeaderMoment },
    );

  return {
    url,
    async ensureTopics(wanted) {
      if (wanted.length === 0) return;
      const started = Date.now();
      await withAdmin(async (client) => {
        const existing = new Set(await client.listTopics());
        const missing = wanted.filter(({ name }) => !existing.has(name));
        if (missing.length > 0) {
          await client.createTopics({
            waitForLeaders: true,
            topics: missing.map(({ name, partitions, retentionMs }) => ({
              topic: name,
              numPartitions: partitions,
              ...(retentionMs === undefined
                ? {}
                : { configEntries: [{ name: 'retention.ms', value: String(retentionMs) }] }),
            })),
          });
        }
        const present = wanted.filter(({ name }) => existing.has(name));
        if (present.length === 0) return;
        const { topics } = await client.fetchTopicMetadata({ topics: present.map(({ name }) => name) });
        const grow = present.flatMap(({ name, partitions }) => {
          const count = topics.find((topic) => topic.name === name)?.partitions.length ?? 0;
          return count < partitions ? [{ topic: name, count: partitions }] : [];
        });
        if (grow.length > 0) await client.createPartitions({ topicPartitions: grow });
      });
      // Return only once every partition asked for answers, so the next call never meets a leaderless one. Right
      // after createPartitions the client's metadata may still list the old count: poll until it shows them all.
      for (const { name, partitions } of wanted) {
        for (let wait = 50; (await topicOffsets(name)).length < partitions; wait = Math.min(wait * 2, 1000)) {
          if (wait >= 1000 && Date.now() - started > 30_000)
            throw new Error(
              `topic ${name}: ${partitions} partitions asked for, the broker still lists fewer`,
            );
          await sleep(wait);
        }
      }
    },

    async publish(topic: string, messages: OutgoingMessage[]) {
      if (messages.length === 0) return;
      const client = await connectedProducer();
      for (const chunk of byRequestSize(messages)) {
        await client.send({ topic, acks: -1, messages: chunk }).catch((error: unknown) => {
          throw explain(error);
        });
      }
    },

    async endOffsets(topic: string) {
      return (await topicOffsets(topic)).map(({ partition, high }) => ({ topic, partition, offset: high }));
    },

    async startOffsets(topic: string) {
      return (await topicOffsets(topic)).map(({ partition, low }) => ({ topic, partition, offset: low }));
    },

    async retentionMs(topic: string) {
      const described = await withAdmin((client) =>
        client.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: TOPIC_CONFIG_RESOURCE, name: topic, configNames: ['retention.ms'] }],
        }),
      );
      const value = described.resources[0]?.configEntries.find(
        (entry) => entry.configName === 'retention.ms',
      )?.configValue;
      const ms = Number(value);
      if (value === undefined || value === null || !Number.isFinite(ms))
        throw new Error(`topic ${topic}: the broker reported no retention.ms`);
      return ms < 0 ? null : ms;
    },

    async offsetsAt(topic: string, at: Date) {
      const offsets = await withAdmin((client) => client.fetchTopicOffsetsByTimestamp(topic, at.getTime()));
      // kafkajs gives the high watermark when no message is that recent; -1, the protocol's "none", is read as it too.
      const ends = offsets.some(({ offset }) => Number(offset) < 0) ? await topicOffsets(topic) : [];
      return offsets
        .map(({ partition, offset }) => ({
          topic,
          partition,
          offset:
            Number(offset) < 0
              ? (ends.find((end) => end.partition === partition)?.high ?? 0)
              : Number(offset),
        }))
        .sort((a, b) => a.partition - b.partition);
    },

    async groupOffsets(groupId: string, topics: string[]) {
      const fetched = await withAdmin((client) => client.fetchOffsets({ groupId, topics }));
      return fetched.flatMap(({ topic, partitions }) =>
        partitions
          .filter(({ offset }) => Number(offset) >= 0)
          .map(({ partition, offset }) => ({ topic, partition, offset: Number(offset) })),
      );
    },

    async setGroupOffsets(groupId: string, offsets: TopicPartitionOffset[]) {
      for (const topic of new Set(offsets.map((entry) => entry.topic))) {
        const partitions = offsets
          .filter((entry) => entry.topic === topic)
          .map(({ partition, offset }) => ({ partition, offset: String(offset) }));
        await withAdmin((client) => client.setOffsets({ groupId, topic, partitions }));
      }
    },

    async consumer(groupId: string, topics: string[], fetch?: FetchOptions) {
      const opened = await openKafkaConsumer({
        kafka,
        admin: connectedAdmin,
        topicOffsets,
        config,
        groupId,
        topics,
        explain,
        fetch,
      });
      consumers.add(opened);
      return {
        ...opened,
        async close() {
          consumers.delete(opened);
          await opened.close();
        },
      };
    },

    async close() {
      await Promise.allSettled([...consumers].map((consumer) => consumer.close()));
      consumers.clear();
      const closing = [admin, producer].map(async (client) => (await client)?.disconnect());
      admin = undefined;
      producer = undefined;
      await Promise.allSettled(closing);
    },
  };
}

/** Broker answers that mean "a leader is being elected or loaded": worth another try shortly. */
function isLeaderMoment(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    const type = (cause as { type?: unknown }).type;
    if (type === 'NOT_LEADER_FOR_PARTITION' || type === 'LEADER_NOT_AVAILABLE') return true;
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    cause = cause.cause;
  }
  return false;
}

async function connect<Client extends { connect(): Promise<void> }>(
  client: Client,
  explain: (error: unknown) => Error,
): Promise<Client> {
  try {
    await client.connect();
    return client;
  } catch (error) {
    throw explain(error);
  }
}

/** Splits a publish into produce requests under MAX_REQUEST_BYTES, keeping message order. */
function* byRequestSize(messages: OutgoingMessage[]): Generator<Message[]> {
  let chunk: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const value = Buffer.isBuffer(message.value) ? message.value : Buffer.from(message.value);
    const headers = message.headers;
    let headerBytes = 0;
    for (const [name, text] of Object.entries(headers ?? {}))
      headerBytes += Buffer.byteLength(name) + Buffer.byteLength(text) + 8;
    const size = value.length + Buffer.byteLength(message.key ?? '') + headerBytes + RECORD_OVERHEAD_BYTES;
    if (chunk.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push({
      key: message.key ?? null,
      value,
      timestamp: message.timestamp === undefined ? undefined : String(message.timestamp),
      ...(headers && Object.keys(headers).length > 0 ? { headers: { ...headers } } : {}),
    });
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * One message per failure that says which setting and which broker: connection refused or timed out after the
 * bounded retries, authentication rejected, or the broker's own error. Never includes a secret: kafkajs errors
 * carry broker addresses and protocol messages only, and the URL is printed through safeKafkaUrl.
 */
export function explainKafkaError(url: string, config: KafkaStreamConfig, error: unknown): Error {
  if (error instanceof Error && error.message.startsWith('STREAM_URL ')) return error;
  const chain: (Error & { code?: string; broker?: string; retryCount?: number })[] = [];
  for (let cause: unknown = error; cause instanceof Error && chain.length < 10; ) {
    chain.push(cause);
    cause = (cause as { cause?: unknown }).cause ?? (cause as { originalError?: unknown }).originalError;
  }
  const prefix = `STREAM_URL ${safeKafkaUrl(url)}`;
  const say = (message: string) => new Error(redactSecrets(message), { cause: error });
  const top = chain[0];
  const attempts = (top?.retryCount ?? config.describe.attempts - 1) + 1;
  const connection = chain.find((cause) => cause.name === 'KafkaJSConnectionError');
  if (connection) {
    const broker = connection.broker ?? config.describe.brokers.join(',');
    const reason = connection.code ?? connection.message.replace(/^Connection error: /, '');
    return say(`${prefix}: cannot connect to broker ${broker} after ${attempts} attempts (${reason})`);
  }
  const auth = chain.find((cause) => /SASL|Authentication/i.test(cause.name));
  if (auth) {
    return say(
      `${prefix}: the broker refused auth=${config.describe.profile} (${config.describe.sasl}): ${auth.message}`,
    );
  }
  const last = chain.at(-1);
  return say(`${prefix}: ${last?.message ?? String(error)}`);
}
