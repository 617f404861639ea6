/**
 * Writes a generated store into the pipeline's two sources: the OLTP tables (schema: sql/source/schema.sql) and the
 * event topics. Both are checked for data already there, so the generator refuses before writing to either.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { csvLine } from '../../adapters/csv.ts';
import type { ObjectStore } from '../../adapters/storage/object-store.ts';
import type { EventStream, OutgoingMessage } from '../../adapters/stream/event-stream.ts';
import type { CsvObject, SqlDatabase } from '../../adapters/warehouse/sql-database.ts';
import { EVENT_TOPICS } from '../contracts/event-topics.ts';
import { oltpColumns, SOURCE_TABLES } from '../contracts/source-tables.ts';
import type { EventMessage, SourceRowStreams, SourceTableName } from './types.ts';

export const SOURCE_SCHEMA_SQL = new URL('../../sql/source/schema.sql', import.meta.url);

const MESSAGES_PER_PUBLISH = 1000;

export interface LoadOptions {
  /** Truncate the source tables first instead of refusing when they hold rows. */
  replace?: boolean;
}

/** The five source tables in load order, with their columns from SOURCE_TABLES. */
function sourceTables(): { name: SourceTableName; columns: string[] }[] {
  return SOURCE_TABLES.map((spec) => ({
    name: spec.name as SourceTableName,
    columns: oltpColumns(spec).map((column) => column.name),
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
 * Creates the schema from sql/source/schema.sql and bulk-loads every table (COPY, through the database's
 * copyFromCsv), all in one transaction. Refuses if any source table holds rows, unless `replace` truncates them
 * first. Each table's rows are read once, as they are loaded: a stream of generated rows is never held whole.
 * Returns rows loaded per table.
 */
export async function loadSourceDatabase(
  db: SqlDatabase,
  data: { tables: SourceRowStreams },
  options: LoadOptions = {},
): Promise<Record<string, number>> {
  await createSourceSchema(db);
  if (!options.replace) await assertSourceEmpty(db);
  const tables = sourceTables();
  return db.transaction(async (tx) => {
    if (options.replace) await tx.exec(`TRUNCATE ${tables.map(({ name }) => `public.${name}`).join(', ')}`);
    const counts: Record<string, number> = {};
    for (const { name, columns } of tables) {
      const rows = data.tables[name] as Iterable<Record<string, unknown>>;
      counts[name] = await tx.copyFromCsv(`public.${name}`, columns, generatedCsv(name, columns, rows));
    }
    return counts;
  });
}

/** Characters of CSV handed to the database at a time (under V8's large-object size: short-lived garbage). */
const CSV_CHUNK_CHARS = 64 * 1024;

/**
 * Rows as the CSV object copyFromCsv loads: the one object of a store that can only stream it, generated while the
 * database reads it (a header line first, values as PostgreSQL reads them in a parameterised INSERT).
 */
function generatedCsv(table: string, columns: string[], rows: Iterable<Record<string, unknown>>): CsvObject {
  const key = `generated/${table}.csv`;
  const url = 'generated://source-rows';
  const readOnly = () => {
    throw new Error(`${url}/${key} is generated rows, streamed once into COPY`);
  };
  const store: ObjectStore = {
    url,
    async get() {
      return Readable.from(csvChunks(columns, rows), { objectMode: false });
    },
    put: async () => readOnly(),
    head: async () => readOnly(),
    // biome-ignore lint/correctness/useYield: nothing to list, and nothing may ask.
    list: async function* () {
      readOnly();
    },
    locate: (name) => `${url}/${name}`,
    delete: async () => readOnly(),
    close: async () => {},
  };
  return { store, key };
}

function* csvChunks(columns: string[], rows: Iterable<Record<string, unknown>>): Generator<string> {
  let chunk = csvLine(columns);
  for (const row of rows) {
    chunk += csvLine(columns.map((column) => csvText(row[column])));
    if (chunk.length >= CSV_CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/** A value as its text (numbers and booleans as the driver sends them); null and undefined as SQL NULL. */
function csvText(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
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

/** A topic's retention, and how many of the published messages are older than it. */
export interface RetentionLoss {
  topic: string;
  retentionMs: number;
  events: number;
}

/**
 * Counts the messages older than their topic's retention (a topic that existed before, with a shorter one) as
 * they go by: the broker deletes them at its next retention check, before anything reads them; stream-ingest would
 * report them as a retention gap. The retentions are read once, before anything is published.
 */
export async function retentionWatch(
  stream: EventStream,
  now: Date,
): Promise<{ see(message: EventMessage): void; losses(): RetentionLoss[] }> {
  const watched = new Map<string, RetentionLoss & { horizon: number }>();
  for (const spec of EVENT_TOPICS) {
    const retentionMs = await stream.retentionMs(spec.topic);
    if (retentionMs === null) continue;
    watched.set(spec.topic, {
      topic: spec.topic,
      retentionMs,
      events: 0,
      horizon: now.getTime() - retentionMs,
    });
  }
  return {
    see(message) {
      const topic = watched.get(message.topic);
      if (topic && message.timestamp < topic.horizon) topic.events += 1;
    },
    losses: () =>
      [...watched.values()]
        .filter((topic) => topic.events > 0)
        .map(({ topic, retentionMs, events }) => ({ topic, retentionMs, events })),
  };
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
 * twice, late events last, malformed ones as raw text), in chunks per topic, reading them as it goes: a stream
 * of generated messages is never held whole. Returns messages per topic.
 */
export async function publishEvents(
  stream: EventStream,
  events: Iterable<EventMessage>,
): Promise<Record<string, number>> {
  await ensureEventTopics(stream);
  const counts: Record<string, number> = {};
  const waiting = new Map<string, OutgoingMessage[]>();
  for (const spec of EVENT_TOPICS) {
    waiting.set(spec.topic, []);
    counts[spec.topic] = 0;
  }
  // One publish in flight (so the topics keep the given order) while the next batch is read: reading may be
  // generating, and the broker's round trip then overlaps it.
  let inFlight: Promise<void> = Promise.resolve();
  const send = async (topic: string, batch: OutgoingMessage[]) => {
    await inFlight;
    inFlight = stream.publish(topic, batch);
    inFlight.catch(() => {}); // Handled at the next await: a failure must not count as unhandled meanwhile.
    await new Promise(setImmediate); // Lets the request go out before the next batch is read.
  };
  for (const event of events) {
    const batch = waiting.get(event.topic);
    if (!batch) throw new Error(`publishEvents: unknown topic ${event.topic}`);
    batch.push({ key: event.key, value: event.value, timestamp: event.timestamp });
    counts[event.topic] = (counts[event.topic] ?? 0) + 1;
    if (batch.length === MESSAGES_PER_PUBLISH) {
      waiting.set(event.topic, []);
      await send(event.topic, batch);
    }
  }
  for (const [topic, batch] of waiting) if (batch.length > 0) await send(topic, batch);
  await inFlight;
  return counts;
}
