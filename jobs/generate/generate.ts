import type { EventStream } from '../../adapters/stream/event-stream.ts';
import type { SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import {
  assertSourceEmpty,
  createSourceSchema,
  ensureEventTopics,
  eventsBeyondRetention,
  loadSourceDatabase,
  nonEmptyTopics,
  publishEvents,
  retentionCovering,
} from './source-writer.ts';
import { generateStoreData } from './store-data.ts';
import type { GenerateOptions, GenerateResult } from './types.ts';

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
}

/**
 * `ecomm generate`: seeds the source database and the event stream with the deterministic synthetic store.
 * Checks both targets before writing to either, so a refusal leaves everything untouched.
 */
export async function generate(options: GenerateJobOptions): Promise<GenerateResult> {
  const { db, stream, seed, scale, asOf, replace = false } = options;
  const data = generateStoreData({ seed, scale, asOf });

  await createSourceSchema(db);
  const now = options.now ?? new Date();
  let oldest = now.getTime();
  for (const event of data.events) if (event.timestamp < oldest) oldest = event.timestamp;
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

  const trimmedByRetention = await eventsBeyondRetention(stream, data.events, now);
  const tableCounts = await loadSourceDatabase(db, data, { replace });
  const topicCounts = await publishEvents(stream, data.events);
  return { counts: { ...tableCounts, ...topicCounts }, anomalies: data.anomalies, trimmedByRetention };
}
