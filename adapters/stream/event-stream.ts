/** One message as the broker holds it. Offsets are per topic-partition, as in Kafka. */
export interface StreamMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer;
  timestamp: number;
  /** Record headers as UTF-8 text, when the producer set any (the dead-letter topic carries its reasons here). */
  headers?: Record<string, string>;
}

export interface OutgoingMessage {
  key?: string | null;
  value: Buffer | string;
  timestamp?: number;
  headers?: Record<string, string>;
}

/**
 * A partition batch's messages as flat arrays, with no object per message: what the stream service hands to its
 * encoder thread (the buffers are transferred, not copied). Values and keys are concatenated; message i's value
 * is values[valueEnds[i-1] .. valueEnds[i]) (from 0 for the first), and likewise its key, null when keyIsNull[i].
 */
export interface MessageColumns {
  offsets: Float64Array;
  timestamps: Float64Array;
  values: Uint8Array;
  valueEnds: Uint32Array;
  keys: Uint8Array;
  keyEnds: Uint32Array;
  keyIsNull: Uint8Array;
}

/** Messages from one topic-partition, in offset order (at least one). */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** One object per message; a backend may build them only when first asked. */
  readonly messages: StreamMessage[];
  /**
   * The same messages as columns, built anew on each call in one ArrayBuffer (from `allocate` when given): the
   * caller owns it (and may transfer it).
   */
  columns(allocate?: (bytes: number) => ArrayBuffer): MessageColumns;
}

/** Kafka semantics: the committed offset is the offset of the next message to read. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

export interface ConsumeOptions {
  /** Resolve once every assigned partition is read up to the end offsets seen when consumption started. */
  stopWhenCaughtUp: boolean;
  maxBatchSize?: number;
  /** Also split a partition's messages so that no handed batch holds more value bytes than this (at least one). */
  maxBatchBytes?: number;
  /**
   * Hand batches of different partitions to concurrent handler calls (Kafka: partitionsConsumedConcurrently);
   * batches of one partition are always handed one after the other. Default 1.
   */
  concurrentPartitions?: number;
}

/**
 * How a consumer fetches (Kafka: fetch.min.bytes, fetch.max.wait.ms, max.partition.fetch.bytes). A fetch returns
 * once `minBytes` are ready or `maxWaitMs` has passed, so these are also how a micro-batch closes on size or age.
 * The embedded log returns whatever is there and polls every `maxWaitMs` when idle.
 */
export interface FetchOptions {
  minBytes?: number;
  maxWaitMs?: number;
  maxBytesPerPartition?: number;
  /** Upper bound of one fetch response across all partitions. */
  maxBytes?: number;
  /**
   * Kafka: the group session is at least this long, whatever STREAM_URL says. For a caller whose thread may be busy
   * for seconds between heartbeats (kafkajs heartbeats from the consumer's own event loop).
   */
  minSessionTimeoutMs?: number;
  /**
   * Where a partition the group has no committed offset for starts: the oldest message kept (`earliest`, the
   * default) or the end of the log (`latest`: what was published before the group first reads is never read).
   */
  newGroupStart?: 'earliest' | 'latest';
}

/**
 * Where a consumer stands in its group, for a readiness probe: a member is consuming once it holds an assignment
 * of the current generation and a fetch (empty or not) has come back since.
 */
export interface ConsumerMembership {
  /** The partitions of the current generation; null while not in a consume, joining or rebalancing. */
  assigned: { topic: string; partition: number }[] | null;
  /** A fetch came back (messages or an empty long poll) since that assignment. */
  fetchedSinceAssignment: boolean;
}

export interface StreamConsumer {
  /**
   * Hands batches to handle one at a time; a batch is not redelivered in this session once handle resolves,
   * but its offsets move only when commit is called. Rejects if handle rejects.
   */
  consume(handle: (batch: PartitionBatch) => Promise<void>, options: ConsumeOptions): Promise<void>;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Committed offsets of this group for the subscribed topics. */
  committed(): Promise<TopicPartitionOffset[]>;
  /** The member's assignment and whether it has fetched since (synchronous: never waits for the broker). */
  membership(): ConsumerMembership;
  /** Ask a running consume to return after the batch in hand. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** An event log with consumer groups: Kafka (MSK, Event Hubs) or the embedded log. */
export interface EventStream {
  readonly url: string;
  /**
   * Creates the topics that are missing (with `retentionMs` when given: how long the broker keeps their messages)
   * and grows those with fewer partitions; an existing topic's retention is left as its owner set it.
   */
  ensureTopics(topics: { name: string; partitions: number; retentionMs?: number }[]): Promise<void>;
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Offset after the last message, per partition. */
  endOffsets(topic: string): Promise<TopicPartitionOffset[]>;
  /**
   * The first offset still kept, per partition (Kafka's log start offset): retention deletes the oldest messages,
   * and a reader whose next offset is below this has lost the messages in between.
   */
  startOffsets(topic: string): Promise<TopicPartitionOffset[]>;
  /** How long the topic keeps a message, in ms; null when it keeps every message (Kafka `retention.ms=-1`). */
  retentionMs(topic: string): Promise<number | null>;
  /** Per partition, the first offset whose message timestamp is at or after `at`; the end offset when none is. */
  offsetsAt(topic: string, at: Date): Promise<TopicPartitionOffset[]>;
  /** A consumer group's committed offsets, read without joining it; a partition it never committed is absent. */
  groupOffsets(groupId: string, topics: string[]): Promise<TopicPartitionOffset[]>;
  /** Commits offsets for a group that has no live member (before its first consumer starts). */
  setGroupOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  consumer(groupId: string, topics: string[], fetch?: FetchOptions): Promise<StreamConsumer>;
  close(): Promise<void>;
}
