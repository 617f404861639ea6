import type { EventStream } from '../../adapters/stream/event-stream.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import {
  assertSourceEmpty,
  createSourceSchema,
  ensureEventTopics,
  loadSourceDatabase,
  nonEmptyTopics,
  publishEvents,
  retentionCovering,
  retentionWatch,
} from './source-writer.ts';
import { streamStoreData } from './store-stream.ts';
import type { EventMessage, GenerateOptions, GenerateResult } from './types.ts';

export interface GenerateJobOptions extends GenerateOptions {
  db: SqlDatabase;
  stream: EventStream;
  /**
   * Truncate the source tables (and publish even if the topics already hold messages) instead of refusing.
   * A Kafka topic cannot be truncated: with replace the events are appended again (same event_ids).
   */
  replace?: boolean;
  /** The wall clock the topics' retention is measured from (default: now). */
  now?: Date;
  /**
   * Return the anomalies manifest (default true). Without it the job's memory does not grow with the scale: the
   * manifest is the one list that does (about 1 entry per 30 messages).
   */
  manifest?: boolean;
}

/**
 * `ecomm generate`: seeds the source database and the event stream with the deterministic synthetic store,
 * generated while it is written (streamStoreData), so memory does not grow with the scale.
 * Checks both targets before writing to either, so a refusal leaves everything untouched.
 */
export async function generate(options: GenerateJobOptions): Promise<GenerateResult> {
  const { db, stream, seed, scale, asOf, replace = false } = options;
  const store = streamStoreData({ seed, scale, asOf }, { manifest: options.manifest ?? true });

  await createSourceSchema(db);
  const now = options.now ?? new Date();
  const oldest = Math.min(now.getTime(), store.oldestMessageMs ?? now.getTime());
  await ensureEventTopics(stream, retentionCovering(oldest, now));
  if (!replace) {
    await assertSourceEmpty(db);
    const filled = await nonEmptyTopics(stream);
    if (filled.length > 0) {
      throw new Error(
        `refusing to generate: topics already hold messages (${filled.join(', ')}) on ${stream.url}; ` +
          'pass replace (--replace) to load anyway (events are appended)',
      );
    }
  }

  const retention = await retentionWatch(stream, now);
  const tableCounts = await loadSourceDatabase(db, store, { replace });
  const topicCounts = await publishEvents(stream, watched(store.messages(), retention.see));
  return {
    counts: { ...tableCounts, ...topicCounts },
    anomalies: store.anomalies,
    anomalyCount: store.anomalyCount,
    trimmedByRetention: retention.losses(),
  };
}

function* watched(messages: Iterable<EventMessage>, see: (message: EventMessage) => void) {
  for (const message of messages) {
    see(message);
    yield message;
  }
}
