/** One message as the broker holds it. Offsets are per topic-partition, as in Kafka. */
export interface StreamMessage {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer;
  timestamp: number;
}

export interface OutgoingMessage {
  key?: string | null;
  value: Buffer | string;
  timestamp?: number;
}

/** Messages from one topic-partition, in offset order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: StreamMessage[];
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
  /** Ask a running consume to return after the batch in hand. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

/** An event log with consumer groups: Kafka (MSK, Event Hubs) or the embedded log. */
export interface EventStream {
  readonly url: string;
  ensureTopics(topics: { name: string; partitions: number }[]): Promise<void>;
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Offset after the last message, per partition. */
  endOffsets(topic: string): Promise<TopicPartitionOffset[]>;
  consumer(groupId: string, topics: string[]): Promise<StreamConsumer>;
  close(): Promise<void>;
}
