import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalStore } from '../adapters/storage/local.ts';
import type { ObjectStore } from '../adapters/storage/object-store.ts';
import type { EventStream } from '../adapters/stream/event-stream.ts';
import { openKafkaStream } from '../adapters/stream/kafka.ts';
import { openMemoryStream } from '../adapters/stream/memory.ts';
import { withTopicPrefix } from '../adapters/stream/topic-prefix.ts';
import { openPglite } from '../adapters/warehouse/pglite.ts';
import { openPostgres } from '../adapters/warehouse/postgres.ts';
import type { SqlDatabase } from '../adapters/warehouse/sql-database.ts';
import { loadConfig } from '../jobs/config.ts';
import { createJobContext, type JobContext, type SharedAdapters } from '../jobs/context.ts';
import { createSourceSchema, type GenerateResult, generate } from '../jobs/generate/index.ts';
import { loadServiceEnv } from '../scripts/services/env.ts';
import { createTestDatabase, type TestDatabase } from './pg-database.ts';

/** Fixed "as of" day for tests: the data is the same whatever day the suite runs. */
export const TEST_AS_OF = new Date('2026-10-01T00:00:00Z');

/** An embedded platform for one test file: a temp lake, an in-process stream, in-memory PGlite databases. */
export interface EmbeddedPlatform {
  lake: ObjectStore;
  stream: EventStream;
  warehouse: SqlDatabase;
  source: SqlDatabase;
  folder: string;
  /** A job context on these adapters; `settings` override the platform's for that context only. */
  context(options?: { now?: () => Date; settings?: Record<string, string> }): JobContext;
  close(): Promise<void>;
}

export async function openEmbeddedPlatform(): Promise<EmbeddedPlatform> {
  const folder = mkdtempSync(join(tmpdir(), 'ecomm-test-'));
  const lake = openLocalStore(`file://${folder}/lake`);
  const stream = openMemoryStream('memory://');
  const [warehouse, source] = await Promise.all([
    openPglite('pglite://memory'),
    openPglite('pglite://memory'),
  ]);
  const settings = {
    LAKE_URL: `file://${folder}/lake`,
    STREAM_URL: 'memory://',
    WAREHOUSE_URL: 'pglite://memory',
    SOURCE_URL: 'pglite://memory',
    LOG_LEVEL: 'silent',
    // Every backend embedded: the laptop demo, whose built-in PII hash key the embedded suites build gold with.
    ECOMM_DEMO: '1',
  };
  return {
    lake,
    stream,
    warehouse,
    source,
    folder,
    context: contextsOn(settings, { lake, stream, warehouse, source }),
    async close() {
      await Promise.all([warehouse.close(), source.close()]);
    },
  };
}

/** Job contexts on a platform's open adapters: its settings, a test's overrides on top, the test's clock. */
function contextsOn(
  settings: Record<string, string>,
  shared: Required<SharedAdapters>,
): EmbeddedPlatform['context'] {
  const config = loadConfig(settings);
  return (options = {}) =>
    createJobContext(options.settings ? loadConfig({ ...settings, ...options.settings }) : config, {
      ...(options.now ? { now: options.now } : {}),
      shared,
    });
}

export interface ServerPlatform extends EmbeddedPlatform {
  /** The settings every context starts from (the databases' URLs among them). */
  settings: Record<string, string>;
  /** Closes the adapters, drops the databases and removes the lake folder. */
  dispose(): Promise<void>;
}

/**
 * The embedded platform's shape on the test services: a PostgreSQL warehouse (and source, unless PGlite is asked
 * for) in databases of its own, Kafka under a topic prefix and consumer group of its own (or the in-process log),
 * a local lake. The PII hash key then comes from the secret store (env://): set PII_HASH_KEY.
 */
export async function openServerPlatform(
  label: string,
  options: {
    source?: 'postgres' | 'pglite';
    stream?: 'kafka' | 'memory';
    settings?: Record<string, string>;
  } = {},
): Promise<ServerPlatform> {
  const services = loadServiceEnv();
  const databases = await Promise.all([
    createTestDatabase(`${label}_wh`),
    ...(options.source === 'pglite' ? [] : [createTestDatabase(`${label}_src`)]),
  ]);
  const [warehouseDb, sourceDb] = databases as [TestDatabase, TestDatabase | undefined];
  const folder = mkdtempSync(join(tmpdir(), `ecomm-${label}-`));
  const prefix = `${label}-${randomBytes(3).toString('hex')}.`;
  const kafka = options.stream === 'kafka';
  const settings: Record<string, string> = {
    LAKE_URL: `file://${folder}/lake`,
    STREAM_URL: kafka ? `kafka://${services.TEST_KAFKA_BROKERS}` : 'memory://',
    ...(kafka ? { STREAM_TOPIC_PREFIX: prefix, STREAM_GROUP_ID: `${prefix}group` } : {}),
    WAREHOUSE_URL: warehouseDb.url,
    SOURCE_URL: sourceDb?.url ?? 'pglite://memory',
    SECRETS_URL: 'env://',
    LOG_LEVEL: 'silent',
    ...options.settings,
  };
  const lake = openLocalStore(settings.LAKE_URL as string);
  const stream = kafka
    ? withTopicPrefix(openKafkaStream(settings.STREAM_URL as string), prefix)
    : openMemoryStream('memory://');
  const [warehouse, source] = await Promise.all([
    openPostgres(warehouseDb.url),
    sourceDb ? openPostgres(sourceDb.url) : openPglite('pglite://memory'),
  ]);
  const close = async () => {
    await Promise.all([warehouse.close(), source.close(), stream.close()]);
  };
  return {
    lake,
    stream,
    warehouse,
    source,
    folder,
    settings,
    context: contextsOn(settings, { lake, stream, warehouse, source }),
    close,
    async dispose() {
      await close();
      await Promise.all(databases.map((database) => database?.dispose()));
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

export async function seedPlatform(
  platform: EmbeddedPlatform,
  seed = 7,
  scale = 0.2,
): Promise<GenerateResult> {
  await createSourceSchema(platform.source);
  return generate({ db: platform.source, stream: platform.stream, seed, scale, asOf: TEST_AS_OF });
}

export async function gold(db: SqlDatabase): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'gold' order by table_name",
  );
  return rows.map((row) => row.table_name);
}

/** A table's content as one hash: every row as COPY writes it, in the order of all columns. */
export async function tableHash(db: SqlDatabase, table: string): Promise<string> {
  const [first] = await db.query<{ n: number }>(
    `select cast(count(*) as integer) as n from information_schema.columns where table_schema || '.' || table_name = $1`,
    [table],
  );
  const order = Array.from({ length: first?.n ?? 1 }, (_, index) => index + 1).join(', ');
  const hash = createHash('sha256');
  for await (const chunk of db.copyToCsv(`select * from ${table} order by ${order}`))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function goldHashes(db: SqlDatabase): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const table of await gold(db)) hashes[table] = await tableHash(db, `gold.${table}`);
  return hashes;
}
