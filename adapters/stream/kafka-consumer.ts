import type { Admin, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type {
  ConsumeOptions,
  ConsumerMembership,
  FetchOptions,
  MessageColumns,
  PartitionBatch,
  StreamConsumer,
  StreamMessage,
  TopicPartitionOffset,
} from './event-stream.ts';
import type { KafkaStreamConfig } from './kafka-config.ts';
import { type ColumnsAllocator, layoutColumns } from './partition-batch.ts';

export interface KafkaConsumerDeps {
  kafka: Kafka;
  admin: () => Promise<Admin>;
  /** Low and high watermarks of every partition of a topic. */
  topicOffsets: (topic: string) => Promise<{ partition: number; low: number; high: number }[]>;
  config: KafkaStreamConfig;
  groupId: string;
  topics: string[];
  /** Turns a kafkajs error into one that names STREAM_URL and the broker. */
  explain: (error: unknown) => Error;
  fetch?: FetchOptions | undefined;
}

const slot = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * A consumer-group member over kafkajs. Offsets are resolved in-session only (the fetch position moves), and
 * committed to the group only by `commit`: invariant 3 (an offset never moves past data not durably written)
 * is the caller's to keep, so nothing here commits on its own (autoCommit off, eachBatchAutoResolve off).
 * Like the embedded stream, one consumer object never hands out a message twice, across its consume calls too
 * (kafkajs restarts each partition from the committed offset on every join; what this member already handed is
 * skipped). A partition that moves to another member is read there from the committed offset.
 */
export async function openKafkaConsumer(deps: KafkaConsumerDeps): Promise<StreamConsumer> {
  const { kafka, config, groupId, topics, explain } = deps;
  const { fetch = {} } = deps;
  const consumer = kafka.consumer({
    groupId,
    ...config.consumer,
    ...(fetch.maxWaitMs === undefined ? {} : { maxWaitTimeInMs: fetch.maxWaitMs }),
    ...(fetch.minBytes === undefined ? {} : { minBytes: fetch.minBytes }),
    ...(fetch.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: fetch.maxBytesPerPartition }),
    ...(fetch.maxBytes === undefined ? {} : { maxBytes: fetch.maxBytes }),
    ...(fetch.minSessionTimeoutMs === undefined
      ? {}
      : { sessionTimeout: Math.max(config.consumer.sessionTimeout ?? 0, fetch.minSessionTimeoutMs) }),
    // A batch job fails loudly instead of restarting forever: a crash ends consume with the error.
    retry: { ...config.client.retry, restartOnFailure: async () => false },
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: fetch.newGroupStart !== 'latest' });
  } catch (error) {
    await consumer.disconnect().catch(() => {});
    throw explain(error);
  }

  /** Per partition, the offset after the last message this consumer handed to a handler. */
  const handed = new Map<string, number>();
  let session: { finish: (error?: unknown) => void; finished: Promise<void> } | undefined;
  let running = false;
  let closed = false;
  // Readiness: the assignment of the current generation (GROUP_JOIN, after the sync) and whether a fetch came back
  // since. kafkajs announces a rebalance it takes part in (REBALANCING) before it rejoins.
  let membership: ConsumerMembership = { assigned: null, fetchedSinceAssignment: false };
  const notMember = () => {
    membership = { assigned: null, fetchedSinceAssignment: false };
  };

  const stopSession = async () => {
    session?.finish();
    await session?.finished;
  };

  return {
    async consume(handle: (batch: PartitionBatch) => Promise<void>, options: ConsumeOptions) {
      if (closed) throw new Error(`consumer of group ${groupId} is closed`);
      if (session) throw new Error(`consumer of group ${groupId} is already consuming`);
      let failure: unknown;
      let finishing = false;
      let finished!: () => void;
      const done = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const finish = (error?: unknown) => {
        if (error !== undefined && failure === undefined) failure = error;
        finishing = true;
        finished();
      };
      let ended!: () => void;
      session = { finish, finished: new Promise<void>((resolve) => (ended = resolve)) };
      const inFlight = new Set<Promise<void>>();
      const maxBatch = Math.max(1, options.maxBatchSize ?? Number.POSITIVE_INFINITY);
      const maxBytes = Math.max(1, options.maxBatchBytes ?? Number.POSITIVE_INFINITY);
      const heartbeatMs = config.consumer.heartbeatInterval ?? 3_000;

      // Caught-up detection: end offsets observed now; a member is done when every partition assigned to it
      // (known from GROUP_JOIN) has been read up to them. Positions start at the group's committed offsets, so
      // partitions with nothing new count as caught up without a fetch, and an empty topic ends at once.
      const tracker = options.stopWhenCaughtUp
        ? await caughtUpTracker(deps, handed, fetch.newGroupStart ?? 'earliest')
        : undefined;
      const check = () => {
        if (!finishing && tracker?.caughtUp()) finish();
      };
      const listeners = [
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          membership = {
            assigned: Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
              partitions.map((partition) => ({ topic, partition })),
            ),
            fetchedSinceAssignment: false,
          };
          if (!tracker) return;
          tracker.assign(payload.memberAssignment).then(check, finish);
        }),
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          // Also covers batches kafkajs skips itself (only control records or aborted transactions).
          const key = slot(payload.topic, payload.partition);
          if (!finishing) handed.set(key, Math.max(handed.get(key) ?? 0, Number(payload.lastOffset) + 1));
          check();
        }),
        consumer.on(consumer.events.FETCH, () => {
          if (membership.assigned) membership = { ...membership, fetchedSinceAssignment: true };
        }),
        consumer.on(consumer.events.REBALANCING, notMember),
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          notMember();
          finish(explain(payload.error));
        }),
      ];

      const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
        const key = slot(batch.topic, batch.partition);
        const from = handed.get(key) ?? 0;
        const messages = batch.messages;
        let start = 0;
        while (start < messages.length && Number((messages[start] as KafkaMessage).offset) < from) start += 1;
        for (const [first, end] of chunkRanges(messages, start, maxBatch, maxBytes)) {
          if (finishing || !isRunning() || isStale()) return;
          const handled = handle(new KafkaPartitionBatch(batch.topic, batch.partition, messages, first, end));
          const settled = handled.then(
            () => {},
            () => {},
          );
          inFlight.add(settled);
          // kafkajs heartbeats only between batches: keep the membership alive while a slow handler writes.
          const beating = setInterval(() => heartbeat().catch(() => {}), heartbeatMs);
          try {
            await handled;
          } catch (error) {
            finish(error);
            return;
          } finally {
            clearInterval(beating);
            inFlight.delete(settled);
          }
          const last = (messages[end - 1] as KafkaMessage).offset;
          resolveOffset(last);
          handed.set(key, Number(last) + 1);
          await heartbeat();
        }
        if (finishing) return;
        resolveOffset(batch.lastOffset());
        handed.set(key, Math.max(handed.get(key) ?? 0, Number(batch.lastOffset()) + 1));
      };

      try {
        running = true;
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: Math.max(1, options.concurrentPartitions ?? 1),
          eachBatch,
        });
        check();
        await done;
        // Let the batches in hand finish (their commits must reach the group) before kafkajs stops fetching.
        while (inFlight.size > 0) await Promise.all([...inFlight]);
      } catch (error) {
        failure ??= explain(error);
      } finally {
        running = false;
        notMember();
        for (const remove of listeners) remove();
        await consumer.stop().catch(() => {});
        session = undefined;
        ended();
      }
      if (failure !== undefined) throw failure;
    },

    async commit(offsets: TopicPartitionOffset[]) {
      if (offsets.length === 0) return;
      const payload = offsets.map(({ topic, partition, offset }) => ({
        topic,
        partition,
        offset: String(offset),
      }));
      try {
        if (running) {
          await consumer.commitOffsets(payload);
          return;
        }
        // Outside a consume: Kafka takes commits from group members and kafkajs has no stand-alone commit, so
        // join just long enough to commit (nothing is handed out: the batches fetched meanwhile are ignored).
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
        try {
          await consumer.commitOffsets(payload);
        } finally {
          await consumer.stop();
        }
      } catch (error) {
        throw explain(error);
      }
    },

    async committed() {
      const admin = await deps.admin();
      const fetched = await admin.fetchOffsets({ groupId, topics }).catch((error: unknown) => {
        throw explain(error);
      });
      return fetched
        .flatMap(({ topic, partitions }) =>
          partitions
            .filter(({ offset }) => Number(offset) >= 0)
            .map(({ partition, offset }) => ({ topic, partition, offset: Number(offset) })),
        )
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    },

    membership: () => membership,

    async stop() {
      session?.finish();
    },

    async close() {
      if (closed) return;
      closed = true;
      await stopSession();
      await consumer.disconnect().catch(() => {});
    },
  };
}

/**
 * Index ranges [first, end) of a partition's messages from `start`: runs of at most maxCount messages and
 * maxBytes value bytes (at least one message each).
 */
function* chunkRanges(
  messages: KafkaMessage[],
  start: number,
  maxCount: number,
  maxBytes: number,
): Generator<[number, number]> {
  let first = start;
  let bytes = 0;
  for (let index = start; index < messages.length; index += 1) {
    const size = (messages[index] as KafkaMessage).value?.length ?? 0;
    if (index > first && (index - first >= maxCount || bytes + size > maxBytes)) {
      yield [first, index];
      first = index;
      bytes = 0;
    }
    bytes += size;
  }
  if (first < messages.length) yield [first, messages.length];
}

/**
 * A run of one fetch's messages. Columns are built straight from kafkajs' messages (the stream service's hot path:
 * no object or string per message); message objects only when asked for.
 */
class KafkaPartitionBatch implements PartitionBatch {
  #messages: StreamMessage[] | undefined;
  readonly topic: string;
  readonly partition: number;
  readonly #source: KafkaMessage[];
  readonly #first: number;
  readonly #end: number;

  constructor(topic: string, partition: number, source: KafkaMessage[], first: number, end: number) {
    this.topic = topic;
    this.partition = partition;
    this.#source = source;
    this.#first = first;
    this.#end = end;
  }

  get messages(): StreamMessage[] {
    this.#messages ??= this.#source
      .slice(this.#first, this.#end)
      .map((message) => toStreamMessage(this.topic, this.partition, message));
    return this.#messages;
  }

  columns(allocate?: ColumnsAllocator): MessageColumns {
    const source = this.#source;
    const first = this.#first;
    const count = this.#end - first;
    let valueBytes = 0;
    let keyBytes = 0;
    for (let index = first; index < this.#end; index += 1) {
      const message = source[index] as KafkaMessage;
      valueBytes += message.value?.length ?? 0;
      keyBytes += message.key?.length ?? 0;
    }
    const columns = layoutColumns(count, valueBytes, keyBytes, allocate);
    const { offsets, timestamps, values, valueEnds, keys, keyEnds, keyIsNull } = columns;
    let valueAt = 0;
    let keyAt = 0;
    // kafkajs gives timestamps as text; messages produced together share one, parsed once.
    let timestampText = '';
    let timestamp = Number.NaN;
    for (let index = 0; index < count; index += 1) {
      const message = source[first + index] as KafkaMessage;
      offsets[index] = Number(message.offset);
      if (message.timestamp !== timestampText) {
        timestampText = message.timestamp;
        timestamp = Number(timestampText);
      }
      timestamps[index] = timestamp;
      const value = message.value;
      if (value !== null) {
        values.set(value, valueAt);
        valueAt += value.length;
      }
      valueEnds[index] = valueAt;
      const key = message.key;
      keyIsNull[index] = key === null ? 1 : 0;
      if (key !== null) {
        keys.set(key, keyAt);
        keyAt += key.length;
      }
      keyEnds[index] = keyAt;
    }
    return columns;
  }
}

function toStreamMessage(topic: string, partition: number, message: KafkaMessage): StreamMessage {
  const streamMessage: StreamMessage = {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value ?? Buffer.alloc(0),
    timestamp: Number(message.timestamp),
  };
  const headers = message.headers;
  if (headers && Object.keys(headers).length > 0) {
    streamMessage.headers = {};
    for (const [name, value] of Object.entries(headers)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (first !== undefined) streamMessage.headers[name] = first.toString();
    }
  }
  return streamMessage;
}

/** End offsets at start, the member's assignment, and whether it has read every assigned partition to them. */
async function caughtUpTracker(
  { admin: getAdmin, topicOffsets, groupId, topics, explain }: KafkaConsumerDeps,
  handed: Map<string, number>,
  newGroupStart: 'earliest' | 'latest',
) {
  const admin = await getAdmin();
  const targets = new Map<string, number>();
  const starts = new Map<string, number>();
  for (const topic of topics) {
    for (const { partition, low, high } of await topicOffsets(topic)) {
      targets.set(slot(topic, partition), high);
      starts.set(slot(topic, partition), low);
    }
  }
  let assigned: string[] | undefined;
  return {
    /**
     * On each (re)join kafkajs restarts from the committed offsets; where there is none, from the log start, or
     * (`latest`) from the end, which this counts as the end seen when the consume began.
     */
    async assign(assignment: Record<string, number[]>) {
      assigned = undefined;
      const committed = await admin.fetchOffsets({ groupId, topics }).catch((error: unknown) => {
        throw explain(error);
      });
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const key = slot(topic, partition);
          const from =
            Number(offset) < 0 && newGroupStart === 'latest' ? (targets.get(key) ?? 0) : Number(offset);
          starts.set(key, Math.max(from, starts.get(key) ?? 0));
        }
      }
      assigned = Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => slot(topic, partition)),
      );
    },
    caughtUp(): boolean {
      return (
        assigned?.every((key) => {
          const position = Math.max(starts.get(key) ?? 0, handed.get(key) ?? 0);
          return position >= (targets.get(key) ?? 0);
        }) ?? false
      );
    },
  };
}
