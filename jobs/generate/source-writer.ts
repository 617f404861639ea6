/**
 * Writes a generated store into the pipeline's two sources: the OLTP tables (schema: sql/source/schema.sql) and the
 * event topics. Both are checked for data already there, so the generator refuses before writing to either.
 */
import { readFileSync } from 'node:fs';
import type { EventStream, OutgoingMessage } from '../../adapters/stream/event-stream.ts';
import type { SqlDatabase, SqlParam } from '../../adapters/warehouse/sql-database.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { SOURCE_TABLES } from '../contracts/source-tables.ts';
import type { EventMessage, GeneratedData, SourceTableName } from './types.ts';

export const SOURCE_SCHEMA_SQL = new URL('../../sql/source/schema.sql', import.meta.url);

/** Bind parameters per INSERT statement (Postgres allows 65,535; PGlite is fastest around this size). */
const PARAMS_PER_STATEMENT = 10_000;
const MESSAGES_PER_PUBLISH = 1000;

export interface LoadOptions {
  /** Truncate the source tables first instead of refusing when they hold rows. */
  replace?: boolean;
}

/** The five source tables in load order, with their columns from SOURCE_TABLES. */
function sourceTables(): { name: SourceTableName; columns: string[] }[] {
  return SOURCE_TABLES.map((spec) => ({
    name: spec.name as SourceTableName,
    columns: spec.columns.map((column) => column.name),
  }));
}

/** Creates the source schema (idempotent: CREATE ... IF NOT EXISTS). */
export async function createSourceSchema(db: SqlDatabase): Promise<void> {
  await db.exec(readFileSync(SOURCE_SCHEMA_SQL, 'utf8'));
}

/** Names of the source tables that hold at least one row. */
export async function nonEmptySourceTables(db: SqlDatabase): Promise<string[]> {
  const tables = sourceTables();
  const probes = tables.map(({ name }) => `EXISTS (SELECT 1 FROM public.${name}) AS ${name}`).join(', ');
  const [row] = await db.query<Record<string, boolean>>(`SELECT ${probes}`);
  return tables.filter(({ name }) => row?.[name] === true).map(({ name }) => name);
}

export async function assertSourceEmpty(db: SqlDatabase): Promise<void> {
  const filled = await nonEmptySourceTables(db);
  if (filled.length > 0) {
    throw new Error(
      `refusing to generate: source tables already hold rows (${filled.join(', ')}) in ${db.url}; ` +
        'pass replace (--replace) to truncate them first',
    );
  }
}

/**
 * Creates the schema from sql/source/schema.sql and inserts every row with multi-row parameterised INSERTs,
 * all in one transaction. Refuses if any source table holds rows, unless `replace` truncates them first.
 * Returns rows inserted per table.
 */
export async function loadSourceDatabase(
  db: SqlDatabase,
  data: Pick<GeneratedData, 'tables'>,
  options: LoadOptions = {},
): Promise<Record<string, number>> {
  await createSourceSchema(db);
  if (!options.replace) await assertSourceEmpty(db);
  const tables = sourceTables();
  return db.transaction(async (tx) => {
    if (options.replace) await tx.exec(`TRUNCATE ${tables.map(({ name }) => `public.${name}`).join(', ')}`);
    const counts: Record<string, number> = {};
    for (const { name, columns } of tables) {
      const rows = data.tables[name] as unknown as Record<string, SqlParam>[];
      await insertRows(tx, name, columns, rows);
      counts[name] = rows.length;
    }
    return counts;
  });
}

async function insertRows(
  db: SqlDatabase,
  table: string,
  columns: string[],
  rows: readonly Record<string, SqlParam>[],
): Promise<void> {
  const perStatement = Math.max(1, Math.floor(PARAMS_PER_STATEMENT / columns.length));
  const columnList = columns.join(', ');
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: SqlParam[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const placeholders: string[] = [];
      for (const column of columns) {
        const value = row[column];
        params.push(value === undefined ? null : value);
        placeholders.push(`$${params.length}`);
      }
      tuples.push(`(${placeholders.join(', ')})`);
    }
    await db.query(`INSERT INTO public.${table} (${columnList}) VALUES ${tuples.join(', ')}`, params);
  }
}

/** Creates the event topics with the partition counts of EVENT_TOPICS. */
export async function ensureEventTopics(stream: EventStream, retentionMs?: number): Promise<void> {
  await stream.ensureTopics(
    EVENT_TOPICS.map((spec) => ({
      name: spec.topic,
      partitions: spec.partitions,
      ...(retentionMs === undefined ? {} : { retentionMs }),
    })),
  );
}

/** Kafka's default retention, and the recovery window a seeded history keeps after it is published. */
export const RECOVERY_WINDOW_MS = 7 * 24 * 3_600_000;

/**
 * The retention a topic created for generated events needs: the events carry their occurred_at as the record
 * timestamp (so is_late and the lake's ingestion dates mean what they would in production), up to the history's
 * window before `--as-of`; the broker deletes by that timestamp, so the topic keeps from the oldest event to now plus
 * the recovery window.
 */
export function retentionCovering(oldestTimestampMs: number, now: Date): number {
  return Math.max(RECOVERY_WINDOW_MS, now.getTime() - oldestTimestampMs + RECOVERY_WINDOW_MS);
}

/**
 * Events older than a topic's retention (a topic that existed before, with a shorter one): the broker deletes them
 * at its next retention check, before anything reads them; stream-ingest would report them as a retention gap.
 */
export async function eventsBeyondRetention(
  stream: EventStream,
  events: readonly EventMessage[],
  now: Date,
): Promise<{ topic: string; retentionMs: number; events: number }[]> {
  const beyond: { topic: string; retentionMs: number; events: number }[] = [];
  for (const spec of EVENT_TOPICS) {
    const retentionMs = await stream.retentionMs(spec.topic);
    if (retentionMs === null) continue;
    const horizon = now.getTime() - retentionMs;
    let count = 0;
    for (const event of events) if (event.topic === spec.topic && event.timestamp < horizon) count += 1;
    if (count > 0) beyond.push({ topic: spec.topic, retentionMs, events: count });
  }
  return beyond;
}

/** Topics that already hold messages. */
export async function nonEmptyTopics(stream: EventStream): Promise<string[]> {
  const filled: string[] = [];
  for (const spec of EVENT_TOPICS) {
    const ends = await stream.endOffsets(spec.topic);
    if (ends.some((end) => end.offset > 0)) filled.push(spec.topic);
  }
  return filled;
}

/**
 * Ensures the topics and publishes the messages in the given order (already the publish order: duplicates
 * twice, late events last, malformed ones as raw text), in chunks per topic. Returns messages per topic.
 */
export async function publishEvents(
  stream: EventStream,
  events: readonly EventMessage[],
): Promise<Record<string, number>> {
  await ensureEventTopics(stream);
  const counts: Record<string, number> = {};
  const byTopic = new Map<string, OutgoingMessage[]>();
  for (const spec of EVENT_TOPICS) {
    byTopic.set(spec.topic, []);
    counts[spec.topic] = 0;
  }
  for (const event of events) {
    const batch = byTopic.get(event.topic);
    if (!batch) throw new Error(`publishEvents: unknown topic ${event.topic}`);
    batch.push({ key: event.key, value: event.value, timestamp: event.timestamp });
  }
  for (const [topic, messages] of byTopic) {
    for (let start = 0; start < messages.length; start += MESSAGES_PER_PUBLISH) {
      await stream.publish(topic, messages.slice(start, start + MESSAGES_PER_PUBLISH));
    }
    counts[topic] = messages.length;
  }
  return counts;
}
